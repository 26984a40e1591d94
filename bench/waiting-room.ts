// The waiting room under load, on a gateway and reserver of its own (fresh database, Redis prefix and
// topic, stopped after):
//   1. joins: `--joins` buyers join one room over keep-alive connections (autocannon); joins/s;
//   2. accuracy: that room's admissions counted over `--accuracy-seconds`, against its setting;
//   3. streams: `--streams` waiting buyers follow their place over SSE; the gateway's memory per stream,
//      then the room's rate is raised and each stream's `admitted` frame is timed against its admission;
//   4. a sale through a room: `--sale-buyers` buyers join, each books once admitted (quantity 1) into an
//      event with fewer seats than buyers; no buyer is refused by the room; the audit must pass.
//
//   npm run bench:queue -- [--joins 100000] [--rate 1000] [--accuracy-seconds 60] [--streams 10000]
//                          [--sale-buyers 5000] [--sale-rate 500] [--connections 200]
//
// Each stream is one socket here and one in the gateway: `ulimit -n` must exceed --streams plus a few
// hundred. The booking route's ceiling with and without a room is bench:load's --with-room.
import autocannon from "autocannon"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { createRedis } from "../shared/clients.ts"
import { loadConfig } from "../shared/config.ts"
import { redisKeys } from "../shared/redis-keys.ts"
import { auditEvent } from "../testing/audit.ts"
import { createTestDatabase, freePort, uniqueName } from "../testing/helpers.ts"
import { openSse, type SseClient } from "../testing/sse-client.ts"
import { COOKIE_NAME, createAuth } from "../gateway/auth.ts"
import { table, writeReport } from "./report.ts"
import { machine, percentile } from "./stack.ts"

const { values: args } = parseArgs({
  options: {
    joins: { type: "string", default: "100000" },
    rate: { type: "string", default: "1000" },
    "accuracy-seconds": { type: "string", default: "60" },
    streams: { type: "string", default: "10000" },
    "sale-buyers": { type: "string", default: "5000" },
    "sale-rate": { type: "string", default: "500" },
    connections: { type: "string", default: "200" },
  },
})
const joins = Number(args.joins)
const rate = Number(args.rate)
const accuracySeconds = Number(args["accuracy-seconds"])
const streamCount = Number(args.streams)
const saleBuyers = Number(args["sale-buyers"])
const saleRate = Number(args["sale-rate"])
const connections = Number(args.connections)
const say = (line: string) => console.log(`[queue] ${line}`)
const root = join(import.meta.dir, "..")
const rss = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) * 1024
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`

// --- the stack under test ---------------------------------------------------------------------
const secret = "bench-secret-bench-secret-bench-secret"
const db = await createTestDatabase()
const port = freePort()
const prefix = uniqueName("queue")
const env = {
  ...process.env,
  DATABASE_URL: db.url,
  REDIS_PREFIX: prefix,
  COMMAND_TOPIC: uniqueName("queue-cmd"),
  RESERVER_GROUP_ID: uniqueName("queue-group"),
  PORT: String(port),
  METRICS_PORT: String(freePort()),
  LOG_LEVEL: "warn",
  JWT_SECRET: secret,
}
const children = ["gateway/main.ts", "reserver/main.ts"].map((main) => Bun.spawn([process.execPath, join(root, main)], { env, stdout: "inherit", stderr: "inherit" }))
let stopping = false
for (const [i, child] of children.entries()) {
  void child.exited.then((code) => {
    if (stopping) return
    console.error(`[queue] ERROR: ${i === 0 ? "gateway" : "reserver"} exited with code ${code}`)
    process.exit(1)
  })
}
const base = `http://127.0.0.1:${port}`
const gatewayPid = children[0]!.pid
const redis = createRedis(loadConfig(process.env).redisUrl)
const keys = redisKeys(prefix)
const auth = createAuth({ secret, cookieSecure: false })

const cleanup = async () => {
  stopping = true
  for (const child of children) child.kill("SIGTERM")
  await Promise.all(children.map((c) => c.exited))
  redis.disconnect()
  await db.drop()
}

const send = async (method: string, path: string, cookie?: string, body?: unknown) => {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(cookie ? { cookie } : {}), ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, any>, setCookie: res.headers.get("set-cookie")?.split(";")[0] }
}

try {
  for (let i = 0; ; i++) {
    if ((await fetch(`${base}/health`).catch(() => undefined))?.status === 200) break
    if (i > 240) throw new Error(`no healthy gateway at ${base}`)
    await Bun.sleep(250)
  }
  say(`gateway pid ${gatewayPid} on ${base}, reserver pid ${children[1]!.pid}, database ${db.name}`)

  // Buyers written straight to the database (a bcrypt hash each would take minutes); sessions signed here.
  const buyerCount = Math.max(joins, streamCount, saleBuyers)
  const rows = await db.sql<{ id: string }[]>`
    INSERT INTO users (email, hashed_password, name, role)
    SELECT 'queue' || g || '@bench.test', 'x', 'Queue buyer ' || g, 'buyer' FROM generate_series(1, ${buyerCount}::int) g RETURNING id`
  const cookies = rows.map((r) => {
    const id = Number(r.id)
    return `${COOKIE_NAME}=${auth.issue({ id, email: `queue${id}@bench.test`, name: "Queue buyer", role: "buyer", is_active: true })}`
  })
  const [seller] = await db.sql<{ id: string }[]>`INSERT INTO users (email, hashed_password, name, role) VALUES ('seller@bench.test', 'x', 'Seller', 'seller') RETURNING id`
  const sellerCookie = `${COOKIE_NAME}=${auth.issue({ id: Number(seller!.id), email: "seller@bench.test", name: "Seller", role: "seller", is_active: true })}`
  say(`${buyerCount.toLocaleString()} buyers inserted`)

  const createEvent = async (name: string, room: { admit_per_second: number; admission_seconds?: number }, seating = { rows: 2, cols: 5, sections: [{ name: "A", price: 100, subsections: 1 }] }) => {
    const res = await send("POST", "/api/event", sellerCookie, { name, description: "Waiting-room bench", venue_name: "Bench Hall", seating_config: seating, waiting_room: room })
    if (res.status !== 201) throw new Error(`event not created: ${res.status} ${JSON.stringify(res.body)}`)
    return res.body.id as number
  }
  const stats = async (eventId: number) => (await send("GET", `/api/event/${eventId}/waiting_room/stats`)).body as { joined: number; admitted: number; waiting: number }

  // Joins over keep-alive connections, each request as the next buyer.
  const joinAll = (eventId: number, from: number, count: number) =>
    new Promise<{ seconds: number; statuses: Record<string, number>; p99: number }>((resolve, reject) => {
      let next = from
      const statuses: Record<string, number> = {}
      const started = performance.now()
      const instance = autocannon(
        {
          url: `${base}/api/event/${eventId}/waiting_room/join`,
          method: "POST",
          connections: Math.min(connections, count),
          amount: count,
          timeout: 30,
          requests: [{ setupRequest: (req) => ({ ...req, headers: { ...req.headers, cookie: cookies[next++ % cookies.length]! } }) }],
        },
        (error, result) => (error ? reject(error) : resolve({ seconds: (performance.now() - started) / 1000, statuses, p99: result.latency.p99 })),
      )
      instance.on("response", (_client, status) => void (statuses[status] = (statuses[status] ?? 0) + 1))
    })

  // --- 1. joins -------------------------------------------------------------------------------
  const roomEvent = await createEvent("Joins", { admit_per_second: rate })
  say(`1. ${joins.toLocaleString()} joins into event ${roomEvent} (admit_per_second ${rate}) over ${connections} connections`)
  const joined = await joinAll(roomEvent, 0, joins)
  const joinsPerSecond = Math.round(joins / joined.seconds)
  const afterJoins = await stats(roomEvent)
  say(`   ${joinsPerSecond.toLocaleString()} joins/s (${joined.seconds.toFixed(1)} s, p99 ${joined.p99} ms), statuses ${JSON.stringify(joined.statuses)}; room: ${JSON.stringify(afterJoins)}`)
  if (afterJoins.joined !== joins) say(`   WARNING: the room counts ${afterJoins.joined} joined, expected ${joins}`)
  const redisMemory = /used_memory:(\d+)/.exec(await redis.info("memory"))![1]

  // --- 2. admission accuracy --------------------------------------------------------------------
  say(`2. admissions over ${accuracySeconds} s at admit_per_second ${rate}`)
  const samples: { t: number; admitted: number }[] = []
  const startedAt = performance.now()
  for (let s = 0; s <= accuracySeconds; s++) {
    samples.push({ t: (performance.now() - startedAt) / 1000, admitted: (await stats(roomEvent)).admitted })
    await Bun.sleep(Math.max(0, startedAt + (s + 1) * 1000 - performance.now()))
  }
  const first = samples[0]!
  const last = samples.at(-1)!
  const measuredRate = (last.admitted - first.admitted) / (last.t - first.t)
  const ranDry = last.admitted >= joins
  say(`   ${measuredRate.toFixed(1)} admitted/s against ${rate} (${(((measuredRate - rate) / rate) * 100).toFixed(2)}%)${ranDry ? "; WARNING: the queue ran dry, so the rate is understated (raise --joins or lower --rate)" : ""}`)

  // --- 3. waiting streams -----------------------------------------------------------------------
  const streamEvent = await createEvent("Streams", { admit_per_second: 1, admission_seconds: 600 })
  say(`3. ${streamCount.toLocaleString()} waiting buyers of event ${streamEvent} open their position streams`)
  await joinAll(streamEvent, 0, streamCount)
  const before = rss(gatewayPid)
  const clients: SseClient[] = []
  for (let i = 0; i < streamCount; i += 500) {
    const opened = await Promise.all(Array.from({ length: Math.min(500, streamCount - i) }, (_, k) => openSse(`${base}/api/event/${streamEvent}/waiting_room/sse`, { cookie: cookies[i + k]! })))
    await Promise.all(opened.map((c) => c.next(60_000)))
    clients.push(...opened)
  }
  await Bun.sleep(2_000)
  const after = rss(gatewayPid)
  const perStream = (after - before) / streamCount
  say(`   gateway RSS ${mib(before)} → ${mib(after)}: ${(perStream / 1024).toFixed(1)} KiB per stream`)
  // Everyone admitted within about five seconds from now; each admitted frame timed against its admission.
  const raised = Math.max(1, Math.ceil(streamCount / 5))
  await send("PUT", `/api/event/${streamEvent}/waiting_room`, sellerCookie, { admit_per_second: raised, admission_seconds: 600 })
  const admittedFrames = await Promise.all(clients.map((c) => c.waitFor((f) => f.event === "admitted", 120_000, "admitted")))
  // Only the buyers still waiting when their stream opened: the others were told at once.
  const waited = admittedFrames.filter((_, i) => clients[i]!.frames[0]!.event === "queue_position")
  const lags = waited.map((f) => performance.timeOrigin + f.at - (Date.parse(f.data.admitted_until) - 600_000)).sort((a, b) => a - b)
  const arrivals = waited.map((f) => f.at).sort((a, b) => a - b)
  const closes = await Promise.all(clients.map((c) => c.waitFor((f) => f.event === "close", 30_000, "close").then(() => 1, () => 0)))
  say(`   rate raised to ${raised}/s: admitted frame after its admission p50 ${percentile(lags, 50).toFixed(0)} ms, p99 ${percentile(lags, 99).toFixed(0)} ms, max ${lags.at(-1)!.toFixed(0)} ms; first→last arrival ${(arrivals.at(-1)! - arrivals[0]!).toFixed(0)} ms; ${closes.reduce((a: number, b) => a + b, 0)} closed`)
  for (const c of clients) c.close()

  // --- 4. a sale through the room ---------------------------------------------------------------
  const seating = { rows: 10, cols: 20, sections: ["A", "B"].map((name) => ({ name, price: 100, subsections: Math.max(1, Math.floor((saleBuyers * 0.8) / 400)) })) }
  const seats = 2 * seating.sections[0]!.subsections * 200
  const saleEvent = await createEvent("Sale", { admit_per_second: saleRate, admission_seconds: 600 }, seating)
  say(`4. a sale of ${seats.toLocaleString()} seats (event ${saleEvent}) to ${saleBuyers.toLocaleString()} buyers through a room at ${saleRate}/s`)
  const outcomes: Record<string, number> = {}
  const saleStarted = performance.now()
  await Promise.all(
    cookies.slice(0, saleBuyers).map(async (cookie, i) => {
      let place = await send("POST", `/api/event/${saleEvent}/waiting_room/join`, cookie)
      while (!place.body.admitted) {
        await Bun.sleep(Math.max(250, place.body.estimated_wait_seconds * 1000))
        place = await send("GET", `/api/event/${saleEvent}/waiting_room`, cookie)
      }
      const section = seating.sections[i % 2]!
      const res = await send("POST", "/api/booking", `${cookie}; ${place.setCookie}`, {
        event_id: saleEvent,
        section: section.name,
        subsection: 1 + (Math.floor(i / 2) % section.subsections),
        seat_selection_mode: "best_available",
        seat_positions: [],
        quantity: 1,
      })
      const key = res.status === 400 && String(res.body.detail).includes("No available seats") ? "400 sold out" : String(res.status)
      outcomes[key] = (outcomes[key] ?? 0) + 1
    }),
  )
  const saleSeconds = (performance.now() - saleStarted) / 1000
  const accepted = outcomes["202"] ?? 0
  for (let i = 0; ; i++) {
    const [{ n }] = await db.sql<[{ n: number }]>`SELECT count(*)::int AS n FROM bookings WHERE event_id = ${saleEvent}`
    if (n >= accepted) break
    if (i > 600) throw new Error(`only ${n} of ${accepted} bookings decided after 2 minutes`)
    await Bun.sleep(200)
  }
  const [decided] = await db.sql<[{ held: number; failed: number }]>`
    SELECT count(*) FILTER (WHERE status = 'pending_payment')::int AS held, count(*) FILTER (WHERE status = 'failed')::int AS failed FROM bookings WHERE event_id = ${saleEvent}`
  const problems = await auditEvent({ sql: db.sql, redis, keys }, saleEvent)
  say(`   ${saleSeconds.toFixed(1)} s; answers ${JSON.stringify(outcomes)}; decided: ${decided!.held} holding seats, ${decided!.failed} failed; audit: ${problems.length === 0 ? "clean" : problems.slice(0, 5).join("; ")}`)

  const markdown = [
    `# Waiting room, ${new Date().toISOString()}`,
    `Machine: ${machine()}. Gateway, reserver, Kafka, PostgreSQL, Redis and the load generator share it.`,
    `Command: \`npm run bench:queue -- ${process.argv.slice(2).join(" ")}\``,
    table(
      ["measure", "result"],
      [
        ["joins", `${joins.toLocaleString()} in ${joined.seconds.toFixed(1)} s = **${joinsPerSecond.toLocaleString()} joins/s** (p99 ${joined.p99} ms, ${connections} connections), statuses ${JSON.stringify(joined.statuses)}`],
        ["Redis used_memory after the joins", mib(Number(redisMemory))],
        ["admission rate", `**${measuredRate.toFixed(1)}/s** against admit_per_second ${rate} over ${(last.t - first.t).toFixed(1)} s${ranDry ? " (queue ran dry: understated)" : ""}`],
        ["waiting streams", `${streamCount.toLocaleString()}; gateway RSS ${mib(before)} → ${mib(after)} = **${(perStream / 1024).toFixed(1)} KiB per stream**`],
        ["admitted frame after admission", `p50 ${percentile(lags, 50).toFixed(0)} ms, p99 ${percentile(lags, 99).toFixed(0)} ms, max ${lags.at(-1)!.toFixed(0)} ms (rate ${raised}/s)`],
        ["sale", `${saleBuyers.toLocaleString()} buyers, ${seats.toLocaleString()} seats, room ${saleRate}/s: ${saleSeconds.toFixed(1)} s, answers ${JSON.stringify(outcomes)}, audit ${problems.length === 0 ? "clean" : `${problems.length} problems`}`],
      ],
    ),
  ].join("\n\n")
  say(`report: ${await writeReport("waiting-room", markdown)}`)
  if (problems.length > 0 || (outcomes["403"] ?? 0) > 0) process.exitCode = 1
} finally {
  await cleanup()
}
