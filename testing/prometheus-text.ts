// Test helper: a strict parser of the Prometheus text format (0.0.4), so tests check that
// a /metrics answer is what a Prometheus server would accept, not just that it has lines.

/** One sample line: metric name, labels and value. */
export type Sample = { name: string; labels: Record<string, string>; value: number }

/** A parsed exposition: its samples and each family's declared type. */
export type Exposition = { samples: Sample[]; types: Map<string, string>; value(name: string, labels?: Record<string, string>): number | undefined }

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_PAIR = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"\s*(,|$)/y

const parseValue = (raw: string, line: string): number => {
  if (raw === "+Inf") return Infinity
  if (raw === "-Inf") return -Infinity
  if (raw === "NaN") return NaN
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(raw)) throw new Error(`bad value "${raw}" in: ${line}`)
  return Number(raw)
}

const unescape = (value: string) => value.replace(/\\(["\\n])/g, (_, c: string) => (c === "n" ? "\n" : c))

/** Parses a text exposition; throws on any line Prometheus would reject. */
export function parsePrometheusText(text: string): Exposition {
  const samples: Sample[] = []
  const types = new Map<string, string>()
  if (!text.endsWith("\n")) throw new Error("exposition must end with a newline")
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue
    if (line.startsWith("#")) {
      const meta = /^# (HELP|TYPE) ([^ ]+)(?: (.*))?$/.exec(line)
      if (!meta) continue // a plain comment
      if (!NAME.test(meta[2]!)) throw new Error(`bad metric name in: ${line}`)
      if (meta[1] === "TYPE") {
        if (!["counter", "gauge", "histogram", "summary", "untyped"].includes(meta[3] ?? "")) throw new Error(`bad type in: ${line}`)
        if (types.has(meta[2]!)) throw new Error(`second TYPE for ${meta[2]}`)
        types.set(meta[2]!, meta[3]!)
      }
      continue
    }
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? ([^ ]+)( -?\d+)?$/.exec(line)
    if (!match) throw new Error(`bad sample line: ${line}`)
    const labels: Record<string, string> = {}
    const body = match[3] ?? ""
    LABEL_PAIR.lastIndex = 0
    while (LABEL_PAIR.lastIndex < body.length) {
      const pair = LABEL_PAIR.exec(body)
      if (!pair) throw new Error(`bad labels in: ${line}`)
      if (pair[1]! in labels) throw new Error(`label ${pair[1]} twice in: ${line}`)
      labels[pair[1]!] = unescape(pair[2]!)
      if (pair[3] === "") break
    }
    samples.push({ name: match[1]!, labels, value: parseValue(match[4]!, line) })
  }
  const value = (name: string, labels: Record<string, string> = {}) =>
    samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value
  return { samples, types, value }
}
