// The share of a profile's CPU samples spent inside given functions (a function counts once per
// sample, wherever it is on the stack), counted from the first sample whose stack reaches the
// `--from` file on: a drain benchmark produces its backlog before the reserver starts, and
// those samples are not the reserver's.
//
//   bun profiles/frame-share.ts <file.cpuprofile> [--from reserver/batch-step.ts] findBestAvailable ...
import { parseArgs } from "node:util"

type Node = { id: number; callFrame: { functionName: string; url: string }; children?: number[] }
type Profile = { nodes: Node[]; samples: number[] }

/** Counts, per function name (or file path part), the samples whose stack holds it, from the first sample that reaches `from`. */
export function frameShares(profile: Profile, names: string[], from?: string) {
  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const stackHas = (id: number, matches: (node: Node) => boolean) => {
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) if (matches(byId.get(at)!)) return true
    return false
  }
  const start = from ? profile.samples.findIndex((id) => stackHas(id, (node) => node.callFrame.url.includes(from))) : 0
  const samples = start < 0 ? [] : profile.samples.slice(start)
  const shares = names.map((name) => ({
    name,
    samples: samples.filter((id) => stackHas(id, (node) => node.callFrame.functionName === name || node.callFrame.url.includes(name))).length,
  }))
  return { samples: samples.length, shares }
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { from: { type: "string", default: "reserver/batch-step.ts" } } })
  const [file, ...names] = positionals
  if (!file || names.length === 0) {
    console.error("usage: bun profiles/frame-share.ts <file.cpuprofile> [--from reserver/batch-step.ts] <function or file> ...")
    process.exit(2)
  }
  const { samples, shares } = frameShares((await Bun.file(file).json()) as Profile, names, values.from)
  console.log(`${samples} samples from the first one in ${values.from} on`)
  for (const share of shares) console.log(`  ${((share.samples / Math.max(1, samples)) * 100).toFixed(1).padStart(5)}%  ${share.name} (${share.samples} samples)`)
}
