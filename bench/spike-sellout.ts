// Spike sellout, like the old system's Go client: re-seed an event, then request every seat
// at once (quantity 1, best available; a burst per subsection, all subsections in parallel)
// and measure until the last seat is pending_payment; then audit the result.
//
//   npm start                      # in another shell
//   npm run bench:spike -- [--seats 2k|50k] [--concurrency 400]
import { parseArgs } from "node:util"
import { auditEvent } from "../testing/audit.ts"
import { createHttpPool } from "./http-client.ts"
import { lineChart, table, writeReport } from "./report.ts"
import { baseUrl, login, machine, openStores, percentile, readEvent, requireStack, reseed, say } from "./stack.ts"

const { values: args } = parseArgs({
  options: {
    seats: { type: "string", default: "2k" },
    concurrency: { type: "string", default: "400" },
  },
})
const concurrency = Number(args.concurrency)

await requireStack()
await reseed(args.seats)
const event = await readEvent(1)
const cookie = await login()
const stores = openStores()

// One request per seat, subsections interleaved so every partition gets its burst at once.
const requests: string[] = []
const perSubsection = event.rows * event.cols
for (let i = 0; i < perSubsection; i++) {
  for (const section of event.sections) {
    for (let n = 1; n <= section.subsections; n++) {
      requests.push(JSON.stringify({ event_id: 1, section: section.name, subsection: n, seat_selection_mode: "best_available", seat_positions: [], quantity: 1 }))
    }
  }
}
const capacity = requests.length
say(`${capacity.toLocaleString()} requests for ${capacity.toLocaleString()} seats, ${concurrency} in flight`)

const latencies: number[] = []
const statuses: Record<string, number> = {}
const accepted: string[] = []
const answeredAt: number[] = []
const pool = await createHttpPool(baseUrl, concurrency)
const headers = { "content-type": "application/json", cookie }
const started = performance.now()
let lastSent = started
await Promise.all(
  requests.map(async (body) => {
    const answer = await pool.send("POST", "/api/booking", headers, body)
    lastSent = Math.max(lastSent, answer.sentAt)
    latencies.push(answer.ms)
    answeredAt.push(performance.now() - started)
    const detail = answer.status === 202 ? undefined : (JSON.parse(answer.body) as { detail?: string }).detail
    const key = answer.status === 400 && detail?.includes("No available seats") ? "400 sold out" : String(answer.status)
    statuses[key] = (statuses[key] ?? 0) + 1
    if (answer.status === 202) accepted.push((JSON.parse(answer.body) as { id: string }).id)
  }),
)
const allResponses = performance.now()
const timeToSend = lastSent - started
pool.close()

say("waiting for the reserver to decide every accepted booking")
let soldAt = allResponses
for (;;) {
  const [row] = await stores.sql<{ decided: number; reserved: number }[]>`
    SELECT count(*)::int AS decided, count(*) FILTER (WHERE status = 'pending_payment')::int AS reserved FROM bookings WHERE event_id = 1`
  soldAt = performance.now()
  if (row!.decided >= accepted.length) break
  if (soldAt - allResponses > 120_000) {
    say(`gave up waiting: ${row!.decided} of ${accepted.length} decided after 120 s`)
    break
  }
  await Bun.sleep(20)
}
const endToEnd = (soldAt - started) / 1000

say("audit: each accepted booking has one outcome, no seat sold twice, PostgreSQL and Redis agree")
const decided = await stores.sql<{ id: string; status: string }[]>`SELECT id, status FROM bookings WHERE event_id = 1`
const outcomeOf = new Map(decided.map((b) => [b.id, b.status]))
const missing = accepted.filter((id) => !outcomeOf.has(id)).length
const [counts] = await stores.sql<{ reserved: number; available: number }[]>`
  SELECT sum(reserved)::int AS reserved, sum(available)::int AS available FROM subsection_stats WHERE event_id = 1`
const problems = await auditEvent(stores, 1)
if (missing > 0) problems.push(`${missing} accepted bookings have no outcome`)
if (decided.length !== new Set(decided.map((d) => d.id)).size) problems.push("a booking has two outcomes")
if (counts!.reserved !== capacity) problems.push(`reserved ${counts!.reserved} != capacity ${capacity}`)
await stores.close()

latencies.sort((a, b) => a - b)
const reserved = decided.filter((d) => d.status === "pending_payment").length
const lines = [
  `seats:                 ${capacity.toLocaleString()} (${args.seats}), requests ${requests.length.toLocaleString()}, ${concurrency} in flight`,
  `time to send:          ${(timeToSend / 1000).toFixed(2)} s`,
  `time to all responses: ${((allResponses - started) / 1000).toFixed(2)} s`,
  `sellout end to end:    ${endToEnd.toFixed(2)} s → ${Math.round(reserved / endToEnd).toLocaleString()} tickets/s`,
  `responses:             ${JSON.stringify(statuses)}`,
  `latency ms:            p50 ${percentile(latencies, 50).toFixed(1)}, p95 ${percentile(latencies, 95).toFixed(1)}, p99 ${percentile(latencies, 99).toFixed(1)}, max ${(latencies.at(-1) ?? 0).toFixed(1)}`,
  `audit:                 ${problems.length === 0 ? `OK: ${reserved.toLocaleString()} seats pending_payment, none sold twice, every store agrees` : `${problems.length} problems: ${problems.slice(0, 3).join("; ")}`}`,
]
const perSecond = new Map<number, number>()
for (const t of answeredAt) perSecond.set(Math.floor(t / 250), (perSecond.get(Math.floor(t / 250)) ?? 0) + 1)
const path = await writeReport(
  `spike-${args.seats}`,
  [
    `# Spike sellout (${args.seats}), ${new Date().toISOString()}`,
    `Machine: ${machine()}. Everything, the load generator included, on this machine.`,
    `Command: \`npm run bench:spike -- ${process.argv.slice(2).join(" ")}\``,
    table(["measure", "value"], lines.map((l) => [l.split(":")[0]!.trim(), l.slice(l.indexOf(":") + 1).trim()])),
  ].join("\n\n"),
  {
    responses: lineChart("Responses per second during the spike", "seconds", "responses/s", [
      { name: "responses/s", colour: "#1f77b4", points: [...perSecond].sort(([a], [b]) => a - b).map(([q, n]) => ({ x: q / 4, y: n * 4 })) },
    ]),
  },
)
console.log(["", ...lines, `report: ${path}`].join("\n"))
if (problems.length > 0) process.exitCode = 1
