// The seat finder alone, native against TypeScript, on the same maps in the same run: ns per call
// and the ratio, for several subsection sizes and fill levels (quantity cycling 1-4, as buyers ask).
// Maps are filled either at random places or the way sales fill them: best available, front rows first.
//
//   npm run bench:finder -- [--ms 60] [--rounds 5]
import { parseArgs } from "node:util"
import { findBestAvailableNative, nativeSeatFinderProblem } from "../reserver/native-seat-finder.ts"
import { mulberry32 } from "../testing/seat-finder-samples.ts"
import { findBestAvailable, newSeatMap, setTaken, type SeatFinder } from "../shared/seat-finder.ts"

const { values: args } = parseArgs({
  options: {
    ms: { type: "string", default: "60" },
    rounds: { type: "string", default: "5" },
  },
})
const budgetNs = Number(args.ms) * 1e6
const rounds = Number(args.rounds)
if (!findBestAvailableNative) {
  console.error(`[finder] the native seat finder is ${nativeSeatFinderProblem}; run npm install`)
  process.exit(1)
}
const native = findBestAvailableNative

const shapes = [
  { label: "500 seats (20 × 25)", rows: 20, cols: 25 },
  { label: "1,250 seats (25 × 50)", rows: 25, cols: 50 },
  { label: "50,000 seats (200 × 250)", rows: 200, cols: 250 },
]
const fills: { label: string; fill: number; sold?: boolean }[] = [
  { label: "0%", fill: 0 },
  { label: "50% random", fill: 0.5 },
  { label: "95% random", fill: 0.95 },
  { label: "99.9% random", fill: 0.999 },
  { label: "50% sold", fill: 0.5, sold: true },
  { label: "95% sold", fill: 0.95, sold: true },
]
const mapsPerCase = 8

// Exactly round(seats × (1 − fill)) free seats at random places, so "99.9% full" means the same everywhere.
function mapWithFree(random: () => number, rows: number, cols: number, fill: number): Uint8Array {
  const seats = rows * cols
  const map = newSeatMap(rows, cols)
  for (let i = 0; i < seats; i++) setTaken(map, i, true)
  const order = Array.from({ length: seats }, (_, i) => i)
  for (let i = seats - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[order[i], order[j]] = [order[j]!, order[i]!]
  }
  for (const i of order.slice(0, Math.round(seats * (1 - fill)))) setTaken(map, i, false)
  return map
}

// Sells best-available seats, 1 to 4 at a time, until `fill` of the map is taken: what a reserver leaves behind.
function mapSoldTo(random: () => number, rows: number, cols: number, fill: number): Uint8Array {
  const map = newSeatMap(rows, cols)
  let sold = 0
  while (sold < rows * cols * fill) {
    const seats = findBestAvailable(map, rows, cols, 1 + Math.floor(random() * 4))
    if (!seats) break
    for (const seat of seats) setTaken(map, seat, true)
    sold += seats.length
  }
  return map
}

// Calls per timing batch, so that taking the clock is a negligible part of each batch.
const batch = 256
let sink = 0

function nsPerCall(find: SeatFinder, maps: Uint8Array[], rows: number, cols: number): number {
  let calls = 0
  const started = Bun.nanoseconds()
  let elapsed = 0
  while (elapsed < budgetNs) {
    for (let k = 0; k < batch; k++) {
      const seats = find(maps[k % maps.length]!, rows, cols, 1 + (k & 3))
      sink += seats ? seats.length : 1
    }
    calls += batch
    elapsed = Bun.nanoseconds() - started
  }
  return elapsed / calls
}

const median = (values: number[]) => values.sort((a, b) => a - b)[values.length >> 1]!
const random = mulberry32(42)
const lines = [
  `| subsection | full | TypeScript ns/call | native ns/call | TypeScript ÷ native |`,
  `| --- | ---: | ---: | ---: | ---: |`,
]
console.log(`[finder] Bun ${Bun.version}; median of ${rounds} rounds of ${args.ms} ms per finder and case, alternating`)
for (const { label, rows, cols } of shapes) {
  for (const { label: filled, fill, sold } of fills) {
    const maps = Array.from({ length: mapsPerCase }, () => (sold ? mapSoldTo : mapWithFree)(random, rows, cols, fill))
    for (const map of maps) {
      for (let quantity = 1; quantity <= 4; quantity++) {
        const same = JSON.stringify(native(map, rows, cols, quantity)) === JSON.stringify(findBestAvailable(map, rows, cols, quantity))
        if (!same) throw new Error(`the finders disagree on ${label}, ${filled}, quantity ${quantity}`)
      }
    }
    const ts: number[] = []
    const c: number[] = []
    for (let round = 0; round < rounds; round++) {
      ts.push(nsPerCall(findBestAvailable, maps, rows, cols))
      c.push(nsPerCall(native, maps, rows, cols))
    }
    const [t, n] = [median(ts), median(c)]
    lines.push(`| ${label} | ${filled} | ${t.toFixed(0)} | ${n.toFixed(0)} | ${(t / n).toFixed(2)}× |`)
    console.log(lines.at(-1))
  }
}
console.log("\n" + lines.join("\n"))
// Output that depends on every answer, so no engine can drop the timed calls as dead code.
if (sink === 0) console.log("[finder] no seats were ever found")
