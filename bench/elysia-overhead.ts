// What Elysia itself costs per booking request: the booking route's shape (its body schema, a
// derive reading the cookie, a 202 with the answer's fields) served by Elysia and by a bare
// Bun.serve handler, no I/O in either. Each server runs in a process of its own and its CPU is
// read from /proc, so the load generator's CPU is not counted. Needs no services.
//
//   bun bench/elysia-overhead.ts [--requests 100000] [--rounds 2]
import autocannon from "autocannon"
import { Elysia } from "elysia"
import { parseArgs } from "node:util"
import { createBookingBody } from "../gateway/booking-routes.ts"
import { bookingRouteLoad } from "./booking-load.ts"
import { cpuTicks } from "./process-cpu.ts"

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: { requests: { type: "string", default: "100000" }, rounds: { type: "string", default: "2" }, port: { type: "string", default: "8298" } },
})
const port = Number(args.port)

const answer = (b: { event_id: number; section: string; subsection: number; quantity: number }) => ({
  id: crypto.randomUUID(),
  buyer_id: 3,
  event_id: b.event_id,
  section: b.section,
  subsection: b.subsection,
  quantity: b.quantity,
  total_price: 3000 * b.quantity,
  status: "processing",
  created_at: new Date().toISOString(),
  paid_at: null,
})

if (positionals[0] === "serve") {
  if (positionals[1] === "bare") {
    Bun.serve({
      port,
      async fetch(req) {
        req.headers.get("cookie")
        const b = (await req.json()) as Parameters<typeof answer>[0]
        if (typeof b.event_id !== "number" || typeof b.section !== "string" || typeof b.quantity !== "number") return Response.json({ detail: "bad" }, { status: 400 })
        return Response.json(answer(b), { status: 202 })
      },
    })
  } else {
    new Elysia()
      .derive(({ request }) => ({ cookie: request.headers.get("cookie") }))
      .post("/api/booking", ({ body, status }) => status(202, answer(body)), { body: createBookingBody })
      .listen(port)
  }
  console.log("ready")
} else {
  const load = bookingRouteLoad(port)
  const requests = Number(args.requests)
  for (let round = 1; round <= Number(args.rounds); round++) {
    for (const mode of ["bare", "elysia"]) {
      const server = Bun.spawn([process.execPath, import.meta.path, "serve", mode, "--port", String(port)], { stdout: "pipe", stderr: "inherit" })
      const reader = server.stdout.getReader()
      await reader.read() // "ready"
      await autocannon({ ...load, amount: 20_000 }) // warm-up
      const before = cpuTicks(server.pid)
      const started = performance.now()
      const result = await autocannon({ ...load, amount: requests })
      const seconds = (performance.now() - started) / 1000
      const micros = ((cpuTicks(server.pid) - before) * 10_000) / requests
      console.log(`round ${round} ${mode.padEnd(6)} ${Math.round(requests / seconds)} req/s, server CPU ${micros.toFixed(1)} µs per request, non-2xx ${result.non2xx}`)
      server.kill()
      await server.exited
    }
  }
}
