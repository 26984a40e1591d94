// A sale where some buyers never pay: re-seed event 1 with a short hold time, then let virtual
// buyers book one seat at a time; a share of them abandon their hold, the rest pay after a random
// delay. Seats held by abandoned bookings come back when their hold expires and are booked again,
// until every seat is `sold`. Measures how long the event takes to be truly sold, tickets sold and
// expiries applied per second, and the lag from each hold's deadline to its expiry; then audits.
//
//   npm start                      # in another shell
//   npm run bench:abandon -- [--seats 2k] [--buyers 200] [--abandon 0.3] [--hold 5] [--pay-within 3]
import { parseArgs } from "node:util"
import { auditEvent } from "../testing/audit.ts"
import { createHttpPool } from "./http-client.ts"
import { lineChart, table, writeReport } from "./report.ts"
import { baseUrl, login, machine, openStores, percentile, readEvent, requireStack, reseed, say } from "./stack.ts"

const { values: args } = parseArgs({
  options: {
    seats: { type: "string", default: "2k" },
    buyers: { type: "string", default: "200" },
    abandon: { type: "string", default: "0.3" },
    hold: { type: "string", default: "5" },
    "pay-within": { type: "string", default: "3" },
    timeout: { type: "string", default: "600" },
  },
})
const buyers = Number(args.buyers)
const abandonShare = Number(args.abandon)
const holdSeconds = Number(args.hold)
const payWithinMs = Number(args["pay-within"]) * 1000
const timeoutMs = Number(args.timeout) * 1000
if (!(abandonShare >= 0 && abandonShare < 1)) throw new Error("--abandon must be in [0, 1)")

await requireStack()
await reseed(args.seats, { HOLD_SECONDS: String(holdSeconds) })
const event = await readEvent(1)
const cookie = await login()
const stores = openStores()
const subsections = event.sections.flatMap((s) => Array.from({ length: s.subsections }, (_, i) => ({ section: s.name, subsection: i + 1 })))
const capacity = subsections.length * event.rows * event.cols
say(`${capacity.toLocaleString()} seats, hold ${holdSeconds} s, ${buyers} buyers, ${Math.round(abandonShare * 100)}% abandon, the rest pay within ${payWithinMs / 1000} s`)

const pool = await createHttpPool(baseUrl, buyers)
const headers = { "content-type": "application/json", cookie }
const tally = { requests: 0, accepted: 0, refused: 0, failed: 0, abandoned: 0, paid: 0, payRefused: 0 }
const soldAt: number[] = []
let done = false
const started = performance.now()

// Waits for the reserver's decision on one booking.
const decisionOf = async (id: string): Promise<string> => {
  for (;;) {
    const answer = await pool.send("GET", `/api/booking/${id}`, headers)
    const status = (JSON.parse(answer.body) as { status?: string }).status ?? "unknown"
    if (status !== "processing") return status
    await Bun.sleep(100)
  }
}

// One buyer: books a seat in a random subsection, then abandons the hold or pays after a delay, until the event is sold.
const buyer = async () => {
  while (!done) {
    const where = subsections[Math.floor(Math.random() * subsections.length)]!
    tally.requests++
    const body = JSON.stringify({ event_id: 1, ...where, seat_selection_mode: "best_available", seat_positions: [], quantity: 1 })
    const answer = await pool.send("POST", "/api/booking", headers, body)
    if (answer.status !== 202) {
      // Every seat sold or held: wait for holds to be paid or to expire.
      tally.refused++
      await Bun.sleep(100)
      continue
    }
    tally.accepted++
    const id = (JSON.parse(answer.body) as { id: string }).id
    if ((await decisionOf(id)) !== "pending_payment") {
      tally.failed++
      continue
    }
    if (Math.random() < abandonShare) {
      tally.abandoned++
      continue
    }
    await Bun.sleep(Math.random() * payWithinMs)
    const paid = await pool.send("POST", `/api/booking/${id}/pay`, headers, JSON.stringify({ card_number: "4242" }))
    if (paid.status === 200) {
      tally.paid++
      soldAt.push(performance.now() - started)
    } else tally.payRefused++
  }
}

// Watches PostgreSQL until every seat is sold.
const watch = async () => {
  for (;;) {
    const [row] = await stores.sql<{ sold: number }[]>`SELECT sum(sold)::int AS sold FROM subsection_stats WHERE event_id = 1`
    if (row!.sold >= capacity) break
    if (performance.now() - started > timeoutMs) {
      say(`gave up: ${row!.sold} of ${capacity} seats sold after ${timeoutMs / 1000} s`)
      break
    }
    await Bun.sleep(100)
  }
  done = true
}

await Promise.all([watch(), ...Array.from({ length: buyers }, buyer)])
const soldOutSeconds = (performance.now() - started) / 1000
pool.close()

say("audit: no seat sold twice, every store agrees, no hold left behind")
const expiries = await stores.sql<{ lag: number; at: number }[]>`
  SELECT extract(epoch FROM updated_at - expires_at)::float8 AS lag, extract(epoch FROM updated_at)::float8 AS at
  FROM bookings WHERE event_id = 1 AND status = 'expired' ORDER BY updated_at`
const [statuses] = await stores.sql<{ completed: number; expired: number; pending: number; sold: number }[]>`
  SELECT count(*) FILTER (WHERE status = 'completed')::int AS completed, count(*) FILTER (WHERE status = 'expired')::int AS expired,
         count(*) FILTER (WHERE status = 'pending_payment')::int AS pending,
         (SELECT sum(sold)::int FROM subsection_stats WHERE event_id = 1) AS sold
  FROM bookings WHERE event_id = 1`
const problems = await auditEvent(stores, 1)
if (statuses!.sold !== capacity) problems.push(`${statuses!.sold} of ${capacity} seats sold`)
if (statuses!.completed !== tally.paid) problems.push(`${statuses!.completed} bookings completed but ${tally.paid} payments answered 200`)
await stores.close()

const lags = expiries.map((e) => Math.max(0, e.lag) * 1000).sort((a, b) => a - b)
const expirySpan = expiries.length > 1 ? expiries.at(-1)!.at - expiries[0]!.at : 0
const lines = [
  `seats:                 ${capacity.toLocaleString()} (${args.seats}), hold ${holdSeconds} s, ${buyers} buyers, ${Math.round(abandonShare * 100)}% abandon, pay within ${payWithinMs / 1000} s`,
  `truly sold after:      ${soldOutSeconds.toFixed(2)} s (every seat sold)`,
  `tickets sold/s:        ${Math.round(capacity / soldOutSeconds).toLocaleString()}`,
  `expiries applied:      ${expiries.length.toLocaleString()}${expirySpan > 0 ? `, ${Math.round(expiries.length / expirySpan).toLocaleString()}/s between the first and the last` : ""}`,
  `deadline → expiry ms:  p50 ${percentile(lags, 50).toFixed(0)}, p99 ${percentile(lags, 99).toFixed(0)}, max ${(lags.at(-1) ?? 0).toFixed(0)}`,
  `buyers' requests:      ${JSON.stringify(tally)}`,
  `audit:                 ${problems.length === 0 ? `OK: ${statuses!.completed.toLocaleString()} bookings paid, ${statuses!.expired.toLocaleString()} expired, none sold twice, every store agrees` : `${problems.length} problems: ${problems.slice(0, 3).join("; ")}`}`,
]
const perSecond = new Map<number, number>()
for (const t of soldAt) perSecond.set(Math.floor(t / 1000), (perSecond.get(Math.floor(t / 1000)) ?? 0) + 1)
const path = await writeReport(
  `abandon-${args.seats}`,
  [
    `# Sale with abandoned holds (${args.seats}), ${new Date().toISOString()}`,
    `Machine: ${machine()}. Everything, the load generator included, on this machine.`,
    `Command: \`npm run bench:abandon -- ${process.argv.slice(2).join(" ")}\``,
    table(["measure", "value"], lines.map((l) => [l.split(":")[0]!.trim(), l.slice(l.indexOf(":") + 1).trim()])),
  ].join("\n\n"),
  {
    sold: lineChart("Tickets sold per second", "seconds", "tickets/s", [
      { name: "sold/s", colour: "#1f77b4", points: [...perSecond].sort(([a], [b]) => a - b).map(([s, n]) => ({ x: s, y: n })) },
    ]),
  },
)
console.log(["", ...lines, `report: ${path}`].join("\n"))
if (problems.length > 0) process.exitCode = 1
