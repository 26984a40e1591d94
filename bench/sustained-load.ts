// Sustained load on POST /api/booking at fixed request rates, ramping like the old system's
// k6 test (500 → 1,000 → 1,400 req/s and beyond) until p99 or the error rate breaks; then a
// ceiling search (highest rate with p99 ≤ 50 ms and no errors), and the same for a bare Bun
// route on this machine in the same run, so our route can be stated as a ratio of it.
//
//   npm start                      # in another shell
//   npm run bench:load -- [--rates 500,1000,...] [--duration 10] [--seats 1m] [--no-reference] [--with-room]
//
// --with-room ramps the booking route a second time, in the same run, with a waiting room on event 1
// (admit_per_second 100000, so the buyer is admitted at once) and the buyer's admission token sent
// with each request: the room's cost on the hot path, as the difference between the two ceilings.
import autocannon from "autocannon"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { lineChart, table, writeReport } from "./report.ts"
import { baseUrl, bookingBody, login, machine, reserverLag, waitForDrain, openStores, percentile, readEvent, requireStack, reseed, root, say, type EventShape } from "./stack.ts"

const { values: args } = parseArgs({
  options: {
    rates: { type: "string", default: "500,1000,1400,2000,3000,5000,7500,10000,12500,15000,20000" },
    duration: { type: "string", default: "10" },
    seats: { type: "string", default: "1m" },
    "p99-limit": { type: "string", default: "50" },
    "ceiling-steps": { type: "string", default: "4" },
    warmup: { type: "string", default: "5" },
    reference: { type: "boolean", default: true },
    "no-reference": { type: "boolean", default: false },
    "with-room": { type: "boolean", default: false },
  },
})
const rates = args.rates.split(",").map(Number)
const duration = Number(args.duration)
const p99Limit = Number(args["p99-limit"])

type Step = {
  target: number
  achieved: number
  avg: number
  p50: number
  p95: number
  p99: number
  max: number
  statuses: Record<string, number>
  errors: number
  perSecond: { second: number; requests: number; p99: number }[]
  /** Booking route: commands the reserver had not decided when the step ended, and how long it took to catch up. */
  backlog?: { atEnd: number; drainSeconds: number }
}

const passes = (s: Step) => s.p99 <= p99Limit && s.errors === 0 && s.achieved >= s.target * 0.97

// One fixed-rate run; latencies are collected per response so p95 and a per-second series exist.
async function runStep(url: string, rate: number, headers: Record<string, string>, body: () => string, seconds = duration): Promise<Step> {
  const latencies: number[] = []
  const buckets = new Map<number, number[]>()
  const statuses: Record<string, number> = {}
  const started = Date.now()
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        connections: Math.min(400, Math.max(20, Math.ceil(rate / 40))),
        overallRate: rate,
        duration: seconds,
        timeout: 5,
        requests: [{ setupRequest: (req) => ({ ...req, body: body() }) }],
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    )
    instance.on("response", (_client, status, _bytes, ms) => {
      latencies.push(ms)
      statuses[status] = (statuses[status] ?? 0) + 1
      const second = Math.floor((Date.now() - started) / 1000)
      let bucket = buckets.get(second)
      if (!bucket) buckets.set(second, (bucket = []))
      bucket.push(ms)
    })
  })
  latencies.sort((a, b) => a - b)
  // A 400 "No available seats" is the contract's answer for a full subsection, not a failure.
  const errors = result.errors + result.timeouts + Object.entries(statuses).filter(([code]) => code !== "202" && code !== "400").reduce((n, [, c]) => n + c, 0)
  return {
    target: rate,
    achieved: Math.round(latencies.length / seconds),
    avg: latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length),
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    max: latencies.at(-1) ?? 0,
    statuses,
    errors,
    perSecond: [...buckets].sort(([a], [b]) => a - b).map(([second, ms]) => {
      ms.sort((a, b) => a - b)
      return { second, requests: ms.length, p99: percentile(ms, 99) }
    }),
  }
}

const describe = (s: Step) =>
  `${String(s.target).padStart(6)} req/s target → ${String(s.achieved).padStart(6)} achieved, p50 ${s.p50.toFixed(1)} p95 ${s.p95.toFixed(1)} p99 ${s.p99.toFixed(1)} max ${s.max.toFixed(0)} ms, ${JSON.stringify(s.statuses)}${s.errors ? `, ${s.errors} errors` : ""}${s.backlog ? `, reserver backlog ${s.backlog.atEnd} (caught up in ${s.backlog.drainSeconds.toFixed(1)} s)` : ""}`

// Ramps through the rates, then bisects between the last passing and the first failing one.
async function rampAndCeiling(
  label: string,
  url: string,
  headers: Record<string, string>,
  body: () => string,
  beforeStep: (rate: number) => Promise<void>,
  afterStep: (step: Step) => Promise<void> = async () => {},
) {
  // Unmeasured warm-up: JIT, connection pools and caches, as a k6 ramp-up stage would do.
  const warm = await runStep(url, rates[0]!, headers, body, Number(args.warmup))
  say(`${label} warm-up (not counted): ${describe(warm)}`)
  const steps: Step[] = []
  const ceilingSteps: Step[] = []
  // One measured step: prepare, run, follow up, record; true when it passed.
  const measure = async (rate: number, into: Step[], tag: string) => {
    await beforeStep(rate)
    const step = await runStep(url, rate, headers, body)
    await afterStep(step)
    into.push(step)
    say(`${label}${tag}: ${describe(step)}`)
    return passes(step)
  }
  let lastPass = 0
  let firstFail: number | undefined
  for (const rate of rates) {
    if (await measure(rate, steps, "")) lastPass = rate
    else {
      firstFail = rate
      break
    }
  }
  // Past the last listed rate with nothing broken: keep doubling until something breaks.
  while (firstFail === undefined && lastPass < 200_000) {
    const rate = lastPass * 2
    if (await measure(rate, steps, "")) lastPass = rate
    else firstFail = rate
  }
  let lo = lastPass
  let hi = firstFail ?? lastPass
  for (let i = 0; i < Number(args["ceiling-steps"]) && hi - lo > Math.max(100, lo * 0.05); i++) {
    const rate = Math.round((lo + hi) / 2 / 100) * 100
    if (await measure(rate, ceilingSteps, " ceiling")) lo = rate
    else hi = rate
  }
  return { steps, ceilingSteps, ceiling: lo }
}

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
const ours = await rampAndCeiling("booking", `${baseUrl}/api/booking`, { cookie }, body, async (rate) => void (await refillIfNeeded(rate)), measureBacklog)

// The same ramp with a waiting room on event 1; a re-seed removes the room, so it is opened again after one.
let withRoom: Awaited<ReturnType<typeof rampAndCeiling>> | undefined
if (args["with-room"]) {
  const roomHeaders = { cookie }
  let roomOpen = false
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
    roomOpen = true
  }
  say("booking route again, with a waiting room on event 1 and the buyer's admission token on every request")
  await openRoom()
  withRoom = await rampAndCeiling(
    "booking with room",
    `${baseUrl}/api/booking`,
    roomHeaders,
    body,
    async (rate) => {
      if ((await refillIfNeeded(rate)) || !roomOpen) await openRoom()
    },
    measureBacklog,
  )
}

let bare: Awaited<ReturnType<typeof rampAndCeiling>> | undefined
if (args.reference && !args["no-reference"]) {
  const port = 8299
  const server = Bun.spawn([process.execPath, join(root, "bench/bare-server.ts"), String(port)], { stdout: "ignore", stderr: "inherit" })
  await Bun.sleep(500)
  say(`reference: a bare Bun route (bench/bare-server.ts) on :${port}, same load generator`)
  bare = await rampAndCeiling("bare Bun", `http://127.0.0.1:${port}/api/booking`, { cookie }, body, async () => {})
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
