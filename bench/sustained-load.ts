// Sustained load on POST /api/booking at fixed request rates, ramping like the old system's
// k6 test (500 → 1,000 → 1,400 req/s and beyond) until p99 or the error rate breaks; then a
// ceiling search (highest rate with p99 ≤ 50 ms and no errors), and the same for a bare Bun
// route on this machine in the same run, so our route can be stated as a ratio of it.
//
//   npm start                      # in another shell
//   npm run bench:load -- [--rates 500,1000,...] [--duration 10] [--seats 1m] [--no-reference] [--with-room [--room-first]]
//
// --with-room ramps the booking route a second time, in the same run, with a waiting room on event 1
// (admit_per_second 100000, so the buyer is admitted at once) and the buyer's admission token sent
// with each request: the room's cost on the hot path, as the difference between the two ceilings.
import { join } from "node:path"
import { parseArgs } from "node:util"
import { rampAndCeiling, rampFrom, rampOptions, type Step } from "./ceiling.ts"
import { lineChart, table, writeReport } from "./report.ts"
import { baseUrl, bookingBody, login, machine, reserverLag, waitForDrain, openStores, readEvent, requireStack, reseed, root, say, type EventShape } from "./stack.ts"

const { values: args } = parseArgs({
  options: {
    ...rampOptions,
    reference: { type: "boolean", default: true },
    "no-reference": { type: "boolean", default: false },
    "with-room": { type: "boolean", default: false },
    "room-first": { type: "boolean", default: false },
  },
})
const ramp = rampFrom(args)
const { rates, duration, p99Limit } = ramp

await requireStack()
await reseed(args.seats)
const event: EventShape = await readEvent(1)
const capacity = event.rows * event.cols * event.sections.reduce((n, s) => n + s.subsections, 0)
const cookie = await login()
const stores = openStores()
const freeSeats = async () => (await stores.redis.hvals(stores.keys.available(1))).reduce((n, v) => n + Number(v), 0)

const body = () => bookingBody(event)
// Keeps the event from selling out mid-step, which would turn the test into one of the 400 path.
const refillIfNeeded = async (rate: number): Promise<boolean> => {
  const needed = rate * duration * 2.5 * 1.2
  if ((await freeSeats()) < needed) {
    if (needed > capacity) say(`a ${rate} req/s step needs more seats than the ${args.seats} config has; part of it will be answered 400`)
    await reseed(args.seats)
    return true
  }
  return false
}

say(`booking route: ${rates.join(", ")} req/s for ${duration} s each (p99 limit ${p99Limit} ms), event 1 = ${args.seats} seats`)
// Accepting is half the job: how far the reserver fell behind shows whether the rate is sustainable end to end.
const measureBacklog = async (step: Step) => {
  const atEnd = await reserverLag()
  const started = performance.now()
  await waitForDrain()
  step.backlog = { atEnd, drainSeconds: (performance.now() - started) / 1000 }
}
const runPlain = () => rampAndCeiling(ramp, "booking", `${baseUrl}/api/booking`, { cookie }, body, async (rate) => void (await refillIfNeeded(rate)), measureBacklog)

// The same ramp with a waiting room on event 1; a re-seed removes the room, so it is opened again after one.
const runWithRoom = async () => {
  const roomHeaders = { cookie }
  const openRoom = async () => {
    const seller = await login("s@t.com")
    const put = await fetch(`${baseUrl}/api/event/1/waiting_room`, {
      method: "PUT",
      headers: { "content-type": "application/json", cookie: seller },
      body: JSON.stringify({ admit_per_second: 100_000, admission_seconds: 86_400 }),
    })
    if (put.status !== 200) throw new Error(`could not open the waiting room: ${put.status} ${await put.text()}`)
    const join = await fetch(`${baseUrl}/api/event/1/waiting_room/join`, { method: "POST", headers: { cookie } })
    const place = (await join.json()) as { admitted: boolean }
    const token = join.headers.get("set-cookie")?.split(";")[0]
    if (!place.admitted || !token) throw new Error(`the bench buyer was not admitted: ${JSON.stringify(place)}`)
    roomHeaders.cookie = `${cookie}; ${token}`
  }
  say("booking route with a waiting room on event 1 and the buyer's admission token on every request")
  await openRoom()
  return rampAndCeiling(
    ramp,
    "booking with room",
    `${baseUrl}/api/booking`,
    roomHeaders,
    body,
    async (rate) => {
      if (await refillIfNeeded(rate)) await openRoom()
    },
    measureBacklog,
  )
}

// Each ramp starts on a freshly seeded event, and --room-first swaps their order, so that alternating
// runs can tell the room's cost from the cost of going second.
let ours: Awaited<ReturnType<typeof rampAndCeiling>>
let withRoom: Awaited<ReturnType<typeof rampAndCeiling>> | undefined
if (args["with-room"] && args["room-first"]) {
  withRoom = await runWithRoom()
  await reseed(args.seats)
  ours = await runPlain()
} else {
  ours = await runPlain()
  if (args["with-room"]) {
    await reseed(args.seats)
    withRoom = await runWithRoom()
  }
}

let bare: Awaited<ReturnType<typeof rampAndCeiling>> | undefined
if (args.reference && !args["no-reference"]) {
  const port = 8299
  const server = Bun.spawn([process.execPath, join(root, "bench/bare-server.ts"), String(port)], { stdout: "ignore", stderr: "inherit" })
  await Bun.sleep(500)
  say(`reference: a bare Bun route (bench/bare-server.ts) on :${port}, same load generator`)
  bare = await rampAndCeiling(ramp, "bare Bun", `http://127.0.0.1:${port}/api/booking`, { cookie }, body, async () => {})
  server.kill()
}
await stores.close()

const rows = (steps: Step[]) =>
  steps.map((s) => [
    s.target,
    s.achieved,
    s.avg.toFixed(1),
    s.p50.toFixed(1),
    s.p95.toFixed(1),
    s.p99.toFixed(1),
    s.max.toFixed(0),
    Object.entries(s.statuses).map(([c, n]) => `${c}: ${n}`).join(", "),
    s.errors,
    s.backlog ? `${s.backlog.atEnd} (${s.backlog.drainSeconds.toFixed(1)} s)` : "",
  ])
const header = ["target req/s", "achieved req/s", "avg ms", "p50 ms", "p95 ms", "p99 ms", "max ms", "statuses", "errors", "reserver backlog at end (catch-up)"]
const ratio = bare ? ((ours.ceiling / bare.ceiling) * 100).toFixed(0) : undefined
const summary = [
  `Booking route ceiling (p99 ≤ ${p99Limit} ms, no errors): **${ours.ceiling.toLocaleString()} req/s**`,
  withRoom ? `With a waiting room on the event (admission token checked in memory), same run: **${withRoom.ceiling.toLocaleString()} req/s**` : "",
  bare ? `Bare Bun route ceiling, same generator, same run: **${bare.ceiling.toLocaleString()} req/s**; booking route = **${ratio}%** of it` : "",
].filter(Boolean)
const markdown = [
  `# Sustained load, ${new Date().toISOString()}`,
  `Machine: ${machine()}. Gateway, reserver, Kafka, PostgreSQL, Redis and the load generator (autocannon, in this process) share it.`,
  `Command: \`npm run bench:load -- ${process.argv.slice(2).join(" ")}\``,
  ...summary,
  "## Booking route (POST /api/booking, best available, random section/subsection, quantity 1–4)",
  table(header, rows(ours.steps)),
  "### Ceiling search",
  table(header, rows(ours.ceilingSteps)),
  ...(withRoom ? ["## Booking route with a waiting room on the event", table(header, rows(withRoom.steps)), "### Ceiling search", table(header, rows(withRoom.ceilingSteps))] : []),
  ...(bare ? ["## Bare Bun route", table(header, rows(bare.steps)), "### Ceiling search", table(header, rows(bare.ceilingSteps))] : []),
].join("\n\n")
const last = ours.steps.at(-1)!
const path = await writeReport("sustained", markdown, {
  rates: lineChart("Achieved rate and p99 by step", "target req/s", "req/s (achieved) · ms (p99 × 100)", [
    { name: "booking achieved", colour: "#1f77b4", points: ours.steps.map((s) => ({ x: s.target, y: s.achieved })) },
    { name: "booking p99 × 100", colour: "#d62728", points: ours.steps.map((s) => ({ x: s.target, y: s.p99 * 100 })) },
    ...(bare ? [{ name: "bare achieved", colour: "#2ca02c", points: bare.steps.map((s) => ({ x: s.target, y: s.achieved })) }] : []),
  ]),
  timeline: lineChart(`Last step (${last.target} req/s): per second`, "second", "requests · p99 ms × 100", [
    { name: "requests", colour: "#1f77b4", points: last.perSecond.map((p) => ({ x: p.second, y: p.requests })) },
    { name: "p99 × 100", colour: "#d62728", points: last.perSecond.map((p) => ({ x: p.second, y: p.p99 * 100 })) },
  ]),
})
console.log(["", ...summary.map((s) => s.replaceAll("**", "")), `report: ${path}`].join("\n"))
