// Our metrics registry (shared/metrics.ts) against prom-client (bench/prom-client-metrics.ts) on
// the booking route's pattern: per request one counter inc and one histogram observe on labelled
// series, and a /metrics rendering now and then. Needs no services.
//
//   bun bench/metrics-registry.ts [--rounds 5] [--records 2000000] [--renders 2000]
//     micro: ns per request's recording and µs per rendering, each registry in turn, in one process
//   bun bench/metrics-registry.ts http [--rounds 2] [--requests 100000]
//     the booking route's shape (Elysia, gateway/http-observability.ts) in a process of its own per
//     registry, under autocannon, /metrics scraped every second: requests/s and the server's CPU
//     per request (from /proc), as bench/elysia-overhead.ts does.
import autocannon from "autocannon"
import { Elysia } from "elysia"
import { parseArgs } from "node:util"
import { createBookingBody } from "../gateway/booking-routes.ts"
import { httpMetrics } from "../gateway/http-observability.ts"
import { createLogger } from "../shared/log.ts"
import { createMetrics, LATENCY_BUCKETS, METRICS_CONTENT_TYPE, SIZE_BUCKETS, type Metrics } from "../shared/metrics.ts"
import { bookingRouteLoad } from "./booking-load.ts"
import { cpuTicks } from "./process-cpu.ts"
import { createPromClientMetrics } from "./prom-client-metrics.ts"

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rounds: { type: "string" },
    records: { type: "string", default: "2000000" },
    renders: { type: "string", default: "2000" },
    requests: { type: "string", default: "100000" },
    port: { type: "string", default: "8297" },
  },
})

type Registry = { metrics: Metrics; render: () => string | Promise<string> }
const REGISTRIES = {
  ours: (): Registry => {
    const metrics = createMetrics()
    return { metrics, render: () => metrics.text() }
  },
  "prom-client": (): Registry => createPromClientMetrics(),
} as const
type Name = keyof typeof REGISTRIES

// The gateway's routes (method and pattern) with the statuses a sale gives them, so that a
// rendering holds about as many series as a busy gateway's /metrics does.
const ROUTES: [string, string, string[]][] = [
  ["POST", "/api/booking", ["202", "409", "400", "503"]],
  ["GET", "/api/booking/:id", ["200", "404"]],
  ["PATCH", "/api/booking/:id", ["200", "409"]],
  ["POST", "/api/booking/:id/pay", ["200", "409"]],
  ["GET", "/api/booking/my_booking", ["200"]],
  ["GET", "/api/event", ["200"]],
  ["GET", "/api/event/:id", ["200", "404"]],
  ["GET", "/api/event/:id/sections/:section/subsection/:n/seats", ["200"]],
  ["GET", "/api/event/:id/sse", ["200"]],
  ["POST", "/api/user", ["201", "400"]],
  ["POST", "/api/user/login", ["200", "401"]],
  ["GET", "/health", ["200"]],
  ["GET", "/metrics", ["200"]],
]

/** The gateway's request families on `metrics`, every series of ROUTES touched once, plus the produce families. */
function gatewayFamilies(metrics: Metrics) {
  const requests = metrics.counter("http_requests_total", "HTTP requests answered, by method, route pattern and status.", ["method", "route", "status"])
  const seconds = metrics.histogram("http_request_duration_seconds", "HTTP request latency, by method and route pattern.", LATENCY_BUCKETS, ["method", "route"])
  for (const [method, route, statuses] of ROUTES) {
    for (const status of statuses) requests.labels(method, route, status).inc()
    seconds.labels(method, route).observe(0.001)
  }
  metrics.histogram("kafka_produce_duration_seconds", "Produce latency.", LATENCY_BUCKETS).observe(0.002)
  metrics.histogram("kafka_produce_batch_messages", "Commands per produce request.", SIZE_BUCKETS).observe(12)
  return { requests, seconds }
}

// Latencies of a sale's booking requests, spread over the buckets; the same sequence for both.
const LATENCIES = Float64Array.from({ length: 1024 }, (_, i) => 0.0004 * 1.012 ** i)

async function micro(name: Name, records: number, renders: number) {
  const registry = REGISTRIES[name]()
  const { requests, seconds } = gatewayFamilies(registry.metrics)
  // What httpMetrics does after each booking request: look the series up by label values, then record.
  let started = performance.now()
  for (let i = 0; i < records; i++) {
    requests.labels("POST", "/api/booking", "202").inc()
    seconds.labels("POST", "/api/booking").observe(LATENCIES[i & 1023]!)
  }
  const recordNs = ((performance.now() - started) * 1e6) / records
  let bytes = 0
  started = performance.now()
  for (let i = 0; i < renders; i++) bytes = (await registry.render()).length
  const renderUs = ((performance.now() - started) * 1e3) / renders
  return { recordNs, renderUs, bytes }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

if (positionals[0] === "serve") {
  const registry = REGISTRIES[positionals[1] as Name]()
  const booked = { status: "processing" }
  new Elysia()
    .use(httpMetrics(registry.metrics, createLogger("bench", "warn")))
    .derive(({ request }) => ({ cookie: request.headers.get("cookie") }))
    .post("/api/booking", ({ status }) => status(202, booked), { body: createBookingBody })
    .get("/metrics", async () => new Response(await registry.render(), { headers: { "content-type": METRICS_CONTENT_TYPE } }))
    .listen(Number(args.port))
  console.log("ready")
} else if (positionals[0] === "http") {
  const port = Number(args.port)
  const requests = Number(args.requests)
  const load = bookingRouteLoad(port)
  for (let round = 1; round <= Number(args.rounds ?? 2); round++) {
    for (const name of Object.keys(REGISTRIES) as Name[]) {
      const server = Bun.spawn([process.execPath, import.meta.path, "serve", name, "--port", String(port)], { stdout: "pipe", stderr: "inherit" })
      await server.stdout.getReader().read() // "ready"
      await autocannon({ ...load, amount: Math.min(20_000, requests) }) // warm-up
      // Scraped as Prometheus would, once a second, while the load runs.
      const scraper = setInterval(() => void fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text()), 1_000)
      const before = cpuTicks(server.pid)
      const started = performance.now()
      const result = await autocannon({ ...load, amount: requests })
      const elapsed = (performance.now() - started) / 1000
      const micros = ((cpuTicks(server.pid) - before) * 10_000) / requests
      clearInterval(scraper)
      console.log(`round ${round} ${name.padEnd(11)} ${Math.round(requests / elapsed)} req/s, server CPU ${micros.toFixed(1)} µs per request, non-2xx ${result.non2xx}`)
      server.kill()
      await server.exited
    }
  }
} else {
  const records = Number(args.records)
  const renders = Number(args.renders)
  const results: Record<Name, Awaited<ReturnType<typeof micro>>[]> = { ours: [], "prom-client": [] }
  // Alternating, so that a machine's slow moment does not fall on one registry only.
  for (let round = 1; round <= Number(args.rounds ?? 5); round++) {
    for (const name of Object.keys(REGISTRIES) as Name[]) {
      const result = await micro(name, records, renders)
      results[name].push(result)
      console.log(`round ${round} ${name.padEnd(11)} record ${result.recordNs.toFixed(1)} ns per request, render ${result.renderUs.toFixed(1)} µs (${result.bytes} bytes)`)
    }
  }
  for (const name of Object.keys(REGISTRIES) as Name[]) {
    const rounds = results[name]
    console.log(
      `median ${name.padEnd(11)} record ${median(rounds.map((r) => r.recordNs)).toFixed(1)} ns per request, render ${median(rounds.map((r) => r.renderUs)).toFixed(1)} µs`,
    )
  }
}
