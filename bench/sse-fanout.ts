// SSE fan-out: N event streams held open on one gateway process, opened from this process; then a
// few bookings, each timing when every stream receives the update it causes (spread first→last,
// p50/p99 after the booking's 202), and the gateway's memory per open stream (its VmRSS growth / N).
//
// By default it starts its own gateway and reserver (`bun gateway/main.ts`, `bun reserver/main.ts`)
// on a fresh database, Redis prefix and topic, and stops them after; with --url it uses a running
// gateway (and reads its memory only when --pid is given).
//
//   npm run bench:sse -- [--streams 10000] [--rounds 3] [--url http://127.0.0.1:8200 [--pid <gateway pid>]]
//
// Each stream is one socket in this process and one in the gateway: both need `ulimit -n` above
// streams + a few hundred (this machine's default is 20000; for more run `ulimit -n 65536` first).
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { createTestDatabase, freePort, uniqueName } from "../testing/helpers.ts"
import { openSse, type SseClient } from "../testing/sse-client.ts"
import { machine, percentile } from "./stack.ts"

const { values: args } = parseArgs({
  options: {
    streams: { type: "string", default: "10000" },
    rounds: { type: "string", default: "3" },
    url: { type: "string" },
    pid: { type: "string" },
  },
})
const streams = Number(args.streams)
const rounds = Number(args.rounds)
const say = (line: string) => console.log(`[sse] ${line}`)
const root = join(import.meta.dir, "..")

/** The resident memory of a process in bytes, from /proc. */
const rss = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) * 1024
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`
const ms = (n: number) => `${n.toFixed(1)} ms`

async function waitHealthy(base: string, seconds: number) {
  for (let i = 0; i < seconds * 4; i++) {
    const res = await fetch(`${base}/health`).catch(() => undefined)
    if (res?.status === 200) return
    await Bun.sleep(250)
  }
  throw new Error(`no healthy gateway at ${base} after ${seconds}s`)
}

// --- the stack under test ---------------------------------------------------------------------
const children: Bun.Subprocess[] = []
let stopping = false
let cleanup = async () => {}
let base = args.url
let gatewayPid = args.pid ? Number(args.pid) : undefined
if (!base) {
  const db = await createTestDatabase()
  const port = freePort()
  const env = {
    ...process.env,
    DATABASE_URL: db.url,
    REDIS_PREFIX: uniqueName("sse"),
    COMMAND_TOPIC: uniqueName("sse-cmd"),
    RESERVER_GROUP_ID: uniqueName("sse-group"),
    PORT: String(port),
    // Its own metrics port too: the reserver of a running `npm start` holds the default one.
    METRICS_PORT: String(freePort()),
    LOG_LEVEL: "warn",
    JWT_SECRET: "bench-secret-bench-secret-bench-secret",
  }
  for (const main of ["gateway/main.ts", "reserver/main.ts"]) {
    children.push(Bun.spawn([process.execPath, join(root, main)], { env, stdout: "inherit", stderr: "inherit" }))
  }
  base = `http://127.0.0.1:${port}`
  gatewayPid = children[0]!.pid
  // A process that dies would otherwise show up only as updates that never arrive.
  for (const [i, child] of children.entries()) {
    void child.exited.then((code) => {
      if (!stopping) {
        console.error(`[sse] ERROR: ${i === 0 ? "gateway" : "reserver"} exited with code ${code}`)
        process.exit(1)
      }
    })
  }
  cleanup = async () => {
    stopping = true
    for (const child of children) child.kill("SIGTERM")
    await Promise.all(children.map((c) => c.exited))
    await db.drop()
  }
  say(`gateway pid ${gatewayPid} on ${base}, reserver pid ${children[1]!.pid}, database ${db.name}`)
}

try {
  await waitHealthy(base, 60)
  const post = async (path: string, body: unknown, cookie?: string) => {
    const res = await fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json", ...(cookie ? { cookie } : {}) }, body: JSON.stringify(body) })
    if (res.status >= 300) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`)
    return { body: (await res.json()) as Record<string, any>, cookie: res.headers.get("set-cookie")?.split(";")[0] }
  }
  const session = async (role: string) => {
    const email = `${uniqueName(role)}@example.com`
    await post("/api/user", { email, password: "P@ssw0rd", name: role, role })
    return (await post("/api/user/login", { email, password: "P@ssw0rd" })).cookie!
  }
  const seller = await session("seller")
  const buyer = await session("buyer")
  // A stadium-like event: 8 sections × 4 subsections × 20 × 25 = 16,000 seats, 32 subsections.
  const sections = "ABCDEFGH".split("").map((name) => ({ name, price: 1000, subsections: 4 }))
  const eventId = (await post("/api/event", { name: "Fan-out", description: "SSE bench", venue_name: "Stadium", seating_config: { rows: 20, cols: 25, sections } }, seller)).body.id as number

  // --- open the streams ---------------------------------------------------------------------
  const before = gatewayPid ? rss(gatewayPid) : 0
  const clients: SseClient[] = []
  const opening = performance.now()
  const batch = 500
  for (let i = 0; i < streams; i += batch) {
    const opened = await Promise.all(Array.from({ length: Math.min(batch, streams - i) }, () => openSse(`${base}/api/event/${eventId}/sse`)))
    await Promise.all(opened.map((c) => c.waitFor((f) => f.event === "initial_status", 60_000)))
    clients.push(...opened)
    if ((i + batch) % 2_000 === 0) say(`  ${(i + batch).toLocaleString()} streams open`)
  }
  const openSeconds = (performance.now() - opening) / 1000
  await Bun.sleep(2_000) // let the gateway settle before reading its memory
  const after = gatewayPid ? rss(gatewayPid) : 0
  say(`${streams.toLocaleString()} streams open in ${openSeconds.toFixed(1)} s (${Math.round(streams / openSeconds).toLocaleString()}/s)`)
  if (gatewayPid) say(`gateway RSS ${mib(before)} → ${mib(after)}: ${((after - before) / streams / 1024).toFixed(1)} KiB per open stream`)

  // --- bookings and their updates -------------------------------------------------------------
  const results: { first: number; p50: number; p99: number; last: number; spread: number }[] = []
  for (let round = 1; round <= rounds; round++) {
    const seen = clients.map((c) => c.frames.length)
    const t0 = performance.now()
    await post("/api/booking", { event_id: eventId, section: "A", subsection: 1, seat_selection_mode: "best_available", seat_positions: [], quantity: 2 }, buyer)
    const accepted = performance.now() - t0
    const frames = await Promise.all(clients.map((c, i) => c.waitFor((f) => f.event === "status_update" && c.frames.indexOf(f) >= seen[i]!, 120_000, "the update")))
    const times = frames.map((f) => f.at - t0).sort((a, b) => a - b)
    const r = { first: times[0]!, p50: percentile(times, 50), p99: percentile(times, 99), last: times.at(-1)!, spread: times.at(-1)! - times[0]! }
    results.push(r)
    say(`round ${round}: 202 after ${ms(accepted)}; update received after first ${ms(r.first)}, p50 ${ms(r.p50)}, p99 ${ms(r.p99)}, last ${ms(r.last)}; spread first→last ${ms(r.spread)}`)
    await Bun.sleep(500) // past the coalescing window, so the next round's update is a frame of its own
  }

  for (const c of clients) c.close()
  await Bun.sleep(2_000)
  const closed = gatewayPid ? rss(gatewayPid) : 0

  console.log(`
## SSE fan-out: ${streams.toLocaleString()} streams on one gateway

${machine()}; clients in a separate process on loopback.

| round | first | p50 | p99 | last | spread first→last |
|---|---|---|---|---|---|
${results.map((r, i) => `| ${i + 1} | ${ms(r.first)} | ${ms(r.p50)} | ${ms(r.p99)} | ${ms(r.last)} | ${ms(r.spread)} |`).join("\n")}

Times from sending the booking to receiving its status_update frame.
${gatewayPid ? `Gateway RSS: ${mib(before)} before, ${mib(after)} with the streams open (${((after - before) / streams / 1024).toFixed(1)} KiB per stream), ${mib(closed)} after they closed.` : "Gateway memory not measured (no --pid)."}`)
} finally {
  await cleanup()
}
