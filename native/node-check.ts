// Checks an addon build under Node rather than Bun: every invalid call is refused with the right
// JavaScript error, and seeded random calls answer exactly as the TypeScript finder does. It takes
// the addon's path so native/memory-check.sh can point it at an AddressSanitizer build.
//
//   bun build native/node-check.ts --target=node --outfile=/tmp/node-check.mjs
//   node /tmp/node-check.mjs <seat_finder.node> [cases=20000] [seed=1]
import { loadNativeAddon, nativeSeatFinder } from "../reserver/native-seat-finder.ts"
import { compareFinders, invalidAddonCalls, invalidFinderCalls, randomFinderCases } from "../testing/seat-finder-samples.ts"
import { findBestAvailable } from "../shared/seat-finder.ts"

const [addonPath, cases = "20000", seed = "1"] = process.argv.slice(2)
if (!addonPath) {
  console.error("usage: node node-check.mjs <seat_finder.node> [cases] [seed]")
  process.exit(2)
}
const addon = loadNativeAddon(addonPath)
const native = nativeSeatFinder(addon)

const problems: string[] = []
const refuses = (call: (...args: unknown[]) => unknown, calls: typeof invalidFinderCalls) => {
  for (const { label, args, error } of calls) {
    let thrown: unknown
    try {
      call(...args)
    } catch (caught) {
      thrown = caught
    }
    if (!(thrown instanceof Error) || thrown.name !== error) problems.push(`${label}: expected a ${error}, got ${String(thrown)}`)
  }
}
refuses(native as (...args: unknown[]) => unknown, invalidFinderCalls)
refuses(addon.findBestAvailable as (...args: unknown[]) => unknown, invalidAddonCalls)
const { compared, mismatch } = compareFinders(native, findBestAvailable, randomFinderCases(Number(seed), Number(cases)))
if (mismatch) problems.push(`differs from the TypeScript finder after ${compared} cases: ${mismatch}`)

if (problems.length > 0) {
  console.error(`node-check FAILED under Node ${process.version}:\n  ${problems.join("\n  ")}`)
  process.exit(1)
}
console.log(
  `node-check: Node ${process.version}, ${addonPath}: ${invalidFinderCalls.length + invalidAddonCalls.length} invalid calls refused, ` +
    `${compared} random cases identical to the TypeScript finder`,
)
