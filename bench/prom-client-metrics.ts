// Our Metrics type (shared/metrics.ts) over prom-client, for bench/metrics-registry.ts only: the
// same families and calls the gateway makes, recorded by the library instead. prom-client is a
// devDependency for this comparison; the processes use shared/metrics.ts.
import { Counter, Gauge, Histogram, Registry } from "prom-client"
import type { Counter as OurCounter, Family, Gauge as OurGauge, Histogram as OurHistogram, Metrics } from "../shared/metrics.ts"

// prom-client reads its values asynchronously; the registry's users here never read them back.
const unread = (): number => {
  throw new Error("the prom-client registry of the benchmark does not read values back")
}

/** A prom-client registry behind our Metrics type, and its exposition (async in prom-client). */
export function createPromClientMetrics(): { metrics: Metrics; render: () => Promise<string> } {
  const registry = new Registry()
  const families = new Map<string, Family<any>>()
  const collectors: (() => void)[] = []

  const family = <S>(name: string, build: () => Family<S>): Family<S> => {
    const found = families.get(name)
    if (found) return found as Family<S>
    const made = build()
    families.set(name, made)
    return made
  }

  const metrics: Metrics = {
    counter: (name, help, labelNames = []) =>
      family<OurCounter>(name, () => {
        const counter = new Counter({ name, help, labelNames: [...labelNames], registers: [registry] })
        const series = (child: { inc(by?: number): void }): OurCounter => ({ inc: (by) => child.inc(by), value: unread })
        return Object.assign(series(counter), {
          labels: (...values: (string | undefined)[]) => counter.labels(...(values.slice(0, labelNames.length) as string[])) as unknown as OurCounter,
        })
      }),
    gauge: (name, help, labelNames = []) =>
      family<OurGauge>(name, () => {
        const gauge = new Gauge({ name, help, labelNames: [...labelNames], registers: [registry] })
        return Object.assign({ set: (v: number) => gauge.set(v), inc: (by?: number) => gauge.inc(by), dec: (by?: number) => gauge.dec(by), value: unread }, {
          labels: (...values: (string | undefined)[]) => gauge.labels(...(values.slice(0, labelNames.length) as string[])) as unknown as OurGauge,
        })
      }),
    histogram: (name, help, buckets, labelNames = []) =>
      family<OurHistogram>(name, () => {
        const histogram = new Histogram({ name, help, buckets: buckets ? [...buckets] : undefined, labelNames: [...labelNames], registers: [registry] })
        return Object.assign({ observe: (v: number) => histogram.observe(v), count: unread, sum: unread }, {
          labels: (...values: (string | undefined)[]) => histogram.labels(...(values.slice(0, labelNames.length) as string[])) as unknown as OurHistogram,
        })
      }),
    onCollect: (collect) => void collectors.push(collect),
    text: () => {
      throw new Error("prom-client renders asynchronously: use render()")
    },
  }
  const render = async () => {
    for (const collect of collectors) collect()
    return registry.metrics()
  }
  return { metrics, render }
}
