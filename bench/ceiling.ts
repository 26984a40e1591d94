// Fixed-rate load steps with autocannon and the ceiling search over them (highest rate with p99 within
// the limit and no errors), shared by bench/sustained-load.ts and bench/runtimes.ts.
import autocannon from "autocannon"
import { percentile, say } from "./stack.ts"

/** One fixed-rate step's outcome. */
export type Step = {
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
  /** The server process's CPU over the step, when the caller measured it (bench/runtimes.ts). */
  cpuSeconds?: number
}

/** The load's shape: the rates to ramp through, seconds per step, the p99 limit, bisection steps, warm-up seconds. */
export type Ramp = { rates: number[]; duration: number; p99Limit: number; ceilingSteps: number; warmup: number }

/** The command-line options of a ceiling run (node:util parseArgs), with the old k6 test's ramp as the default. */
export const rampOptions = {
  rates: { type: "string", default: "500,1000,1400,2000,3000,5000,7500,10000,12500,15000,20000" },
  duration: { type: "string", default: "10" },
  seats: { type: "string", default: "1m" },
  "p99-limit": { type: "string", default: "50" },
  "ceiling-steps": { type: "string", default: "4" },
  warmup: { type: "string", default: "5" },
} as const

/** The Ramp that parsed rampOptions describe. */
export const rampFrom = (values: { rates: string; duration: string; "p99-limit": string; "ceiling-steps": string; warmup: string }): Ramp => ({
  rates: values.rates.split(",").map(Number),
  duration: Number(values.duration),
  p99Limit: Number(values["p99-limit"]),
  ceilingSteps: Number(values["ceiling-steps"]),
  warmup: Number(values.warmup),
})

/** Whether a step passed: p99 within the limit, no errors, and the target rate reached. */
export const passes = (s: Step, p99Limit: number) => s.p99 <= p99Limit && s.errors === 0 && s.achieved >= s.target * 0.97

/** One fixed-rate run; latencies are collected per response so p95 and a per-second series exist. */
export async function runStep(url: string, rate: number, headers: Record<string, string>, body: () => string, seconds: number): Promise<Step> {
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

/** One line describing a step. */
export const describeStep = (s: Step) =>
  `${String(s.target).padStart(6)} req/s target → ${String(s.achieved).padStart(6)} achieved, p50 ${s.p50.toFixed(1)} p95 ${s.p95.toFixed(1)} p99 ${s.p99.toFixed(1)} max ${s.max.toFixed(0)} ms, ${JSON.stringify(s.statuses)}${s.errors ? `, ${s.errors} errors` : ""}${s.backlog ? `, reserver backlog ${s.backlog.atEnd} (caught up in ${s.backlog.drainSeconds.toFixed(1)} s)` : ""}`

/** Ramps through the rates, then bisects between the last passing and the first failing one. */
export async function rampAndCeiling(
  ramp: Ramp,
  label: string,
  url: string,
  headers: Record<string, string>,
  body: () => string,
  beforeStep: (rate: number) => Promise<void>,
  afterStep: (step: Step) => Promise<void> = async () => {},
) {
  // Unmeasured warm-up: JIT, connection pools and caches, as a k6 ramp-up stage would do.
  const warm = await runStep(url, ramp.rates[0]!, headers, body, ramp.warmup)
  say(`${label} warm-up (not counted): ${describeStep(warm)}`)
  const steps: Step[] = []
  const ceilingSteps: Step[] = []
  // One measured step: prepare, run, follow up, record; true when it passed.
  const measure = async (rate: number, into: Step[], tag: string) => {
    await beforeStep(rate)
    const step = await runStep(url, rate, headers, body, ramp.duration)
    await afterStep(step)
    into.push(step)
    say(`${label}${tag}: ${describeStep(step)}`)
    return passes(step, ramp.p99Limit)
  }
  let lastPass = 0
  let firstFail: number | undefined
  for (const rate of ramp.rates) {
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
  for (let i = 0; i < ramp.ceilingSteps && hi - lo > Math.max(100, lo * 0.05); i++) {
    const rate = Math.round((lo + hi) / 2 / 100) * 100
    if (await measure(rate, ceilingSteps, " ceiling")) lo = rate
    else hi = rate
  }
  // The step measured at the ceiling rate (the ramp's or the bisection's), for what was measured there.
  const atCeiling = [...steps, ...ceilingSteps].filter((s) => s.target === lo && passes(s, ramp.p99Limit)).at(-1)
  return { steps, ceilingSteps, ceiling: lo, atCeiling }
}
