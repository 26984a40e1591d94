// Turns a V8/JSC `.cpuprofile` (what `bun --cpu-prof` writes) into a flame graph SVG that any
// browser opens (hover a frame for its numbers), plus the top frames by self and total time.
//
//   bun profiles/flamegraph.ts <file.cpuprofile> [out.svg] [--min-width 0.3] [--title <text>]
//   (a --min-width of 1 or 2 pixels keeps an SVG meant for the repository to a few hundred KB)

type CallFrame = { functionName: string; url: string; lineNumber: number }
type ProfileNode = { id: number; callFrame: CallFrame; children?: number[]; hitCount?: number }
type CpuProfile = { nodes: ProfileNode[]; samples?: number[] }

type Frame = { name: string; self: number; total: number; children: Frame[] }

// Paths are shown from the repository's top-level folder, whichever checkout the profile was taken in.
const inCheckout = /^.*?\/((?:gateway|reserver|shared|bench|testing|profiles|infra|native)\/)/

const frameName = ({ functionName, url, lineNumber }: CallFrame) => {
  const file = url ? url.replace(/^file:\/\//, "").replace(/^.*\/(node_modules\/)/, "$1").replace(inCheckout, "$1") : ""
  return `${functionName || "(anonymous)"}${file ? ` ${file}:${lineNumber + 1}` : ""}`
}

/** Builds the call tree with self and total sample counts. */
export function callTree(profile: CpuProfile): Frame {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const hits = new Map<number, number>()
  if (profile.samples?.length) for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1)
  else for (const n of profile.nodes) hits.set(n.id, n.hitCount ?? 0)
  const build = (node: ProfileNode): Frame => {
    const children = (node.children ?? []).map((id) => build(byId.get(id)!)).filter((c) => c.total > 0)
    const self = hits.get(node.id) ?? 0
    return { name: frameName(node.callFrame), self, total: self + children.reduce((n, c) => n + c.total, 0), children }
  }
  const referenced = new Set(profile.nodes.flatMap((n) => n.children ?? []))
  const roots = profile.nodes.filter((n) => !referenced.has(n.id)).map(build)
  return roots.length === 1 ? roots[0]! : { name: "(all)", self: 0, total: roots.reduce((n, r) => n + r.total, 0), children: roots }
}

/** Sums self and total samples per function name (a function counted once per stack for total). */
export function topFrames(root: Frame, limit = 15) {
  const self = new Map<string, number>()
  const total = new Map<string, number>()
  const walk = (frame: Frame, onStack: Set<string>) => {
    self.set(frame.name, (self.get(frame.name) ?? 0) + frame.self)
    if (!onStack.has(frame.name)) total.set(frame.name, (total.get(frame.name) ?? 0) + frame.total)
    const next = new Set(onStack).add(frame.name)
    for (const child of frame.children) walk(child, next)
  }
  walk(root, new Set())
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, limit)
  return { samples: root.total, bySelf: sorted(self), byTotal: sorted(total) }
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/"/g, "&quot;")

/** Renders the call tree as a flame graph: root at the bottom, width proportional to samples; frames narrower than `minWidth` pixels are left out. */
export function flameGraphSvg(root: Frame, title: string, minWidth = 0.3): string {
  const width = 1200
  const rowHeight = 16
  const scale = (width - 20) / Math.max(1, root.total)
  // Only drawn frames count, so leaving out narrow ones also leaves out the height they took.
  const depthOf = (f: Frame): number => 1 + Math.max(0, ...f.children.filter((c) => c.total * scale >= minWidth).map(depthOf))
  const depth = depthOf(root)
  const height = depth * rowHeight + 40
  const rects: string[] = []
  const colour = (name: string) => {
    if (name.includes("node_modules")) return "hsl(200, 60%, 70%)"
    if (/(gateway|reserver|shared|bench)\//.test(name)) return "hsl(30, 85%, 65%)"
    return "hsl(0, 0%, 78%)"
  }
  const draw = (frame: Frame, x: number, level: number) => {
    const w = frame.total * scale
    if (w < minWidth) return
    const y = height - 10 - (level + 1) * rowHeight
    const pct = ((frame.total / root.total) * 100).toFixed(2)
    const label = w > 40 ? esc(frame.name.slice(0, Math.floor(w / 6.5))) : ""
    rects.push(
      `<g><title>${esc(frame.name)}: ${frame.total} samples (${pct}%), self ${frame.self}</title><rect x="${x.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${rowHeight - 1}" fill="${colour(frame.name)}"/><text x="${(x + 3).toFixed(1)}" y="${y + 12}">${label}</text></g>`,
    )
    let cx = x
    for (const child of [...frame.children].sort((a, b) => a.name.localeCompare(b.name))) {
      draw(child, cx, level + 1)
      cx += child.total * scale
    }
  }
  draw(root, 10, 0)
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="monospace" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="20" font-size="14" font-family="sans-serif">${esc(title)} (${root.total} samples; orange = this project, blue = dependencies, grey = runtime)</text>`,
    ...rects,
    "</svg>",
  ].join("\n")
}

if (import.meta.main) {
  const { parseArgs } = await import("node:util")
  const { values: options, positionals } = parseArgs({ allowPositionals: true, options: { "min-width": { type: "string", default: "0.3" }, title: { type: "string" } } })
  const [input, output = input?.replace(/\.cpuprofile$/, ".svg")] = positionals
  if (!input) {
    console.error("usage: bun profiles/flamegraph.ts <file.cpuprofile> [out.svg] [--min-width 0.3] [--title <text>]")
    process.exit(2)
  }
  const root = callTree((await Bun.file(input).json()) as CpuProfile)
  await Bun.write(output!, flameGraphSvg(root, options.title ?? input.split("/").at(-1)!, Number(options["min-width"])))
  const top = topFrames(root)
  const line = ([name, n]: [string, number]) => `  ${((n / top.samples) * 100).toFixed(1).padStart(5)}%  ${name}`
  console.log([`flame graph: ${output}`, "top by self time:", ...top.bySelf.map(line), "top by total time:", ...top.byTotal.map(line)].join("\n"))
}
