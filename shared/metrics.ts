// Prometheus metrics without a dependency: counters, gauges and fixed-bucket histograms,
// exposed in the text format (version 0.0.4). Recording is a Map lookup per label and a
// number add: a labelled series is created once, on its first use, and then reused.

/** A series that only goes up. */
export type Counter = { inc(by?: number): void; value(): number }

/** A series that goes up and down, or is set. */
export type Gauge = { set(value: number): void; inc(by?: number): void; dec(by?: number): void; value(): number }

/** A distribution over fixed buckets, with their sum and count. */
export type Histogram = { observe(value: number): void; count(): number; sum(): number }

/**
 * A metric family: `labels(...)` returns the series for those label values (up to four,
 * fixed arity so that a lookup allocates nothing); without labels the family is its own series.
 */
export type Family<S> = S & { labels(a: string, b?: string, c?: string, d?: string): S }

/** Default latency buckets in seconds: half a millisecond to ten seconds. */
export const LATENCY_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/** Default size buckets (messages per batch). */
export const SIZE_BUCKETS: readonly number[] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]

/** One process's metrics: families by name, and the text a `/metrics` endpoint serves. */
export type Metrics = {
  counter(name: string, help: string, labelNames?: readonly string[]): Family<Counter>
  gauge(name: string, help: string, labelNames?: readonly string[]): Family<Gauge>
  histogram(name: string, help: string, buckets?: readonly number[], labelNames?: readonly string[]): Family<Histogram>
  /** Runs `collect` before each exposition, for values read at scrape time (memory, CPU). */
  onCollect(collect: () => void): void
  /** The exposition in Prometheus text format. */
  text(): string
}

/** The Content-Type of the text exposition. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/

const escapeHelp = (text: string) => text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")
const escapeValue = (text: string) => text.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")

const formatNumber = (value: number): string => {
  if (Number.isNaN(value)) return "NaN"
  if (value === Infinity) return "+Inf"
  if (value === -Infinity) return "-Inf"
  return String(value)
}

type Kind = "counter" | "gauge" | "histogram"

type Entry = { kind: Kind; help: string; labelNames: readonly string[]; buckets?: readonly number[]; family: Family<any>; write(out: string[]): void }

type Trie<S> = Map<string, Trie<S> | S>

// The series of one family, keyed by label values in a trie: finding an existing series
// walks at most four Maps and builds no key string.
function createFamily<S extends object>(name: string, labelNames: readonly string[], make: () => S, render: (out: string[], labels: string, series: S) => void) {
  const root: Trie<S> = new Map()
  const all: { labels: string; series: S }[] = []
  const unlabelled = labelNames.length === 0 ? make() : undefined
  if (unlabelled) all.push({ labels: "", series: unlabelled })

  const create = (values: string[]): S => {
    const series = make()
    all.push({ labels: labelNames.map((label, i) => `${label}="${escapeValue(values[i]!)}"`).join(","), series })
    return series
  }

  function labels(a: string, b?: string, c?: string, d?: string): S {
    if (labelNames.length === 0) throw new Error(`${name} has no labels`)
    let node: Trie<S> = root
    for (let i = 0; i < labelNames.length; i++) {
      const value = i === 0 ? a : i === 1 ? b : i === 2 ? c : d
      if (value === undefined) throw new Error(`${name} needs ${labelNames.length} label values (${labelNames.join(", ")})`)
      const next = node.get(value)
      if (i === labelNames.length - 1) {
        if (next) return next as S
        const series = create([a, b!, c!, d!])
        node.set(value, series)
        return series
      }
      if (next) node = next as Trie<S>
      else {
        const child: Trie<S> = new Map()
        node.set(value, child)
        node = child
      }
    }
    throw new Error("unreachable")
  }

  const family = Object.assign(unlabelled ?? ({} as S), { labels }) as Family<S>
  const write = (out: string[]) => {
    for (const { labels: l, series } of all) render(out, l, series)
  }
  return { family, write }
}

function makeCounter(): Counter {
  let total = 0
  return {
    inc(by = 1) {
      if (by < 0) throw new Error("a counter cannot go down")
      total += by
    },
    value: () => total,
  }
}

function makeGauge(): Gauge {
  let current = 0
  return {
    set(value) {
      current = value
    },
    inc(by = 1) {
      current += by
    },
    dec(by = 1) {
      current -= by
    },
    value: () => current,
  }
}

type HistogramState = Histogram & { counts: Float64Array; total(): number }

function makeHistogram(bounds: Float64Array): HistogramState {
  // counts[i] holds observations in (bounds[i-1], bounds[i]]; the last slot is +Inf.
  const counts = new Float64Array(bounds.length + 1)
  let sum = 0
  let n = 0
  return {
    observe(value) {
      let i = 0
      while (i < bounds.length && value > bounds[i]!) i++
      counts[i]!++
      sum += value
      n++
    },
    count: () => n,
    sum: () => sum,
    counts,
    total: () => n,
  }
}

const braces = (labels: string) => (labels === "" ? "" : `{${labels}}`)

/** Creates an empty metrics registry. */
export function createMetrics(): Metrics {
  const entries = new Map<string, Entry>()
  const collectors: (() => void)[] = []

  const register = (name: string, kind: Kind, help: string, labelNames: readonly string[], build: () => Entry): Entry => {
    const existing = entries.get(name)
    if (existing) {
      // Asking again for a family returns it, so modules can share one by name.
      if (existing.kind !== kind || existing.labelNames.join() !== labelNames.join()) {
        throw new Error(`metric ${name} is already registered as a ${existing.kind} with labels (${existing.labelNames.join(", ")})`)
      }
      return existing
    }
    if (!NAME.test(name)) throw new Error(`invalid metric name "${name}"`)
    for (const label of labelNames) if (!LABEL.test(label) || label.startsWith("__") || label === "le") throw new Error(`invalid label name "${label}"`)
    if (labelNames.length > 4) throw new Error(`${name}: at most four labels`)
    const entry = build()
    entries.set(name, entry)
    return entry
  }

  const simple = <S extends Counter | Gauge>(kind: "counter" | "gauge", make: () => S) => (name: string, help: string, labelNames: readonly string[] = []) =>
    register(name, kind, help, labelNames, () => {
      const { family, write } = createFamily(name, labelNames, make, (out, labels, series) => {
        out.push(`${name}${braces(labels)} ${formatNumber(series.value())}`)
      })
      return { kind, help, labelNames, family, write }
    }).family as Family<S>

  return {
    counter: simple("counter", makeCounter),
    gauge: simple("gauge", makeGauge),
    histogram(name, help, buckets = LATENCY_BUCKETS, labelNames = []) {
      const sorted = [...buckets].sort((a, b) => a - b)
      if (sorted.length === 0 || sorted.some((b, i) => !Number.isFinite(b) || (i > 0 && b === sorted[i - 1]))) {
        throw new Error(`${name}: buckets must be distinct finite numbers`)
      }
      const entry = register(name, "histogram", help, labelNames, () => {
        const bounds = Float64Array.from(sorted)
        const { family, write } = createFamily(name, labelNames, () => makeHistogram(bounds), (out, labels, series) => {
          const sep = labels === "" ? "" : ","
          let cumulative = 0
          for (let i = 0; i < bounds.length; i++) {
            cumulative += series.counts[i]!
            out.push(`${name}_bucket{${labels}${sep}le="${formatNumber(bounds[i]!)}"} ${cumulative}`)
          }
          out.push(`${name}_bucket{${labels}${sep}le="+Inf"} ${series.total()}`)
          out.push(`${name}_sum${braces(labels)} ${formatNumber(series.sum())}`)
          out.push(`${name}_count${braces(labels)} ${series.total()}`)
        })
        return { kind: "histogram", help, labelNames, buckets: sorted, family, write }
      })
      if (entry.buckets!.join() !== sorted.join()) throw new Error(`metric ${name} is already registered with other buckets`)
      return entry.family as Family<Histogram>
    },
    onCollect(collect) {
      collectors.push(collect)
    },
    text() {
      for (const collect of collectors) collect()
      const out: string[] = []
      for (const [name, entry] of entries) {
        out.push(`# HELP ${name} ${escapeHelp(entry.help)}`, `# TYPE ${name} ${entry.kind}`)
        entry.write(out)
      }
      return out.join("\n") + "\n"
    },
  }
}

/** Adds the process's CPU time, resident memory and start time, read at each scrape. */
export function addProcessMetrics(metrics: Metrics): void {
  const cpu = metrics.counter("process_cpu_seconds_total", "User and system CPU time spent, in seconds.")
  const rss = metrics.gauge("process_resident_memory_bytes", "Resident memory size in bytes.")
  const heap = metrics.gauge("process_heap_bytes", "JavaScript heap in use, in bytes.")
  metrics.gauge("process_start_time_seconds", "Start time of the process since the Unix epoch, in seconds.").set(Math.round(Date.now() / 1000 - process.uptime()))
  metrics.onCollect(() => {
    const usage = process.cpuUsage()
    cpu.inc(Math.max(0, (usage.user + usage.system) / 1e6 - cpu.value()))
    const memory = process.memoryUsage()
    rss.set(memory.rss)
    heap.set(memory.heapUsed)
  })
}
