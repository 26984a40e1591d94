// The cost of tracing on POST /api/booking: a gateway started from gateway/main.ts with tracing
// off, on, and on with every trace dropped by the sampler (the instrumentation alone), in
// alternating rounds of closed-loop autocannon load; prints the median rate of each.
// Needs the services, the seeded data (npm run seed) and, for "on", Jaeger (npm run tracing:start).
//
//   npm run bench:tracing -- [--rounds 3] [--duration 15] [--connections 50]
import autocannon from "autocannon"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { createRedis } from "../shared/clients.ts"
import { testConfig, uniqueName } from "../testing/helpers.ts"

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    duration: { type: "string", default: "15" },
    connections: { type: "string", default: "50" },
    port: { type: "string", default: "8310" },
  },
})
const root = join(import.meta.dir, "..")
const url = `http://127.0.0.1:${args.port}`
const otlp = `http://127.0.0.1:${process.env.OTLP_HTTP_PORT ?? "4318"}`
// Own topic (no reserver reads it) and own Redis prefix (its pending records are deleted after).
const prefix = uniqueName("bench")
const modes: Record<string, Record<string, string>> = {
  off: {},
  on: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp },
  "on, sampler always_off": { OTEL_EXPORTER_OTLP_ENDPOINT: otlp, OTEL_TRACES_SAMPLER: "always_off" },
}

async function measure(env: Record<string, string>, seconds: number): Promise<{ rate: number; p99: number; non2xx: number }> {
  const gateway = Bun.spawn([process.execPath, join(root, "gateway", "main.ts")], {
    env: { ...process.env, PORT: args.port, COMMAND_TOPIC: `${prefix}.cmd`, REDIS_PREFIX: prefix, LOG_LEVEL: "warn", ...env },
    stdout: "ignore",
    stderr: "ignore",
  })
  try {
    for (let i = 0; ; i++) {
      if ((await fetch(`${url}/health`).catch(() => undefined))?.ok) break
      if (i > 120) throw new Error("gateway did not start")
      await Bun.sleep(250)
    }
    const login = await fetch(`${url}/api/user/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "b_1@t.com", password: "P@ssw0rd" }),
    })
    if (!login.ok) throw new Error(`login failed (${login.status}); run npm run seed`)
    const cookie = login.headers.get("set-cookie")!.split(";", 1)[0]!
    const options = {
      url: `${url}/api/booking`,
      method: "POST" as const,
      headers: { "content-type": "application/json", cookie },
      body: JSON.stringify({ event_id: 1, section: "A", subsection: 1, seat_selection_mode: "best_available", seat_positions: [], quantity: 1 }),
      connections: Number(args.connections),
    }
    // A rate of refusals says nothing about tracing: the first booking must be accepted.
    const probe = await fetch(options.url, { method: "POST", headers: options.headers, body: options.body })
    if (probe.status !== 202) {
      throw new Error(`a booking on event 1 answered ${probe.status} ${await probe.text()}; re-seed first: npm run seed -- --reset`)
    }
    await autocannon({ ...options, duration: 3 })
    const result = await autocannon({ ...options, duration: seconds })
    return { rate: result.requests.average, p99: result.latency.p99, non2xx: result.non2xx }
  } finally {
    gateway.kill()
    await gateway.exited
  }
}

const results = new Map<string, { rate: number; p99: number; non2xx: number }[]>()
for (let round = 1; round <= Number(args.rounds); round++) {
  for (const [mode, env] of Object.entries(modes)) {
    const r = await measure(env, Number(args.duration))
    results.set(mode, [...(results.get(mode) ?? []), r])
    console.log(`round ${round} ${mode.padEnd(24)} ${Math.round(r.rate)} req/s, p99 ${r.p99} ms${r.non2xx ? `, ${r.non2xx} non-2xx` : ""}`)
  }
}
const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
console.log("\n| mode | median req/s | median p99 (ms) |\n|---|---|---|")
for (const [mode, rs] of results) console.log(`| ${mode} | ${Math.round(median(rs.map((r) => r.rate)))} | ${median(rs.map((r) => r.p99))} |`)

const redis = createRedis(testConfig().redisUrl)
let cursor = "0"
do {
  const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000)
  if (keys.length) await redis.del(...keys)
  cursor = next
} while (cursor !== "0")
await redis.quit()
