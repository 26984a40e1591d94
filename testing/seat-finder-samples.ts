// Seat-finder inputs shared by the contract and differential tests, the Node check of the addon
// (native/node-check.ts) and the micro benchmark, so every one of them exercises the same shapes.
import { newSeatMap, setTaken, type SeatFinder } from "../shared/seat-finder.ts"

/** A seeded generator of numbers in [0, 1), so a failing case can be replayed from its seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** One call of a SeatFinder. */
export type FinderCase = { map: Uint8Array; rows: number; cols: number; quantity: number }

/** Creates a `rows` by `cols` map with each seat taken with probability `fill`. */
export function randomSeatMap(random: () => number, rows: number, cols: number, fill: number): Uint8Array {
  const map = newSeatMap(rows, cols)
  for (let i = 0; i < rows * cols; i++) if (random() < fill) setTaken(map, i, true)
  return map
}

// Redis GET returns a string only as long as the highest bit ever set; bytes past the grid and
// padding bits after the last seat may hold anything, and a finder must never choose them.
function reshape(random: () => number, map: Uint8Array, seats: number): Uint8Array {
  const roll = random()
  if (roll < 0.15) {
    let length = map.length
    while (length > 0 && map[length - 1] === 0) length--
    return map.slice(0, length)
  }
  if (roll < 0.2) return map.slice(0, Math.floor(random() * map.length))
  if (roll < 0.3) {
    const longer = new Uint8Array(map.length + Math.floor(random() * 9))
    for (let b = map.length; b < longer.length; b++) longer[b] = Math.floor(random() * 256)
    longer.set(map)
    const last = seats >> 3
    if ((seats & 7) !== 0) longer[last] = longer[last]! | (Math.floor(random() * 256) & (0xff >> (seats & 7)))
    return longer
  }
  return map
}

/**
 * Yields `count` seeded random calls: small grids up to 60 × 60, every hundredth one 200 × 250,
 * quantity mostly 1–4, fills from empty to full (sparse, dense, nearly full), maps short and long.
 */
export function* randomFinderCases(seed: number, count: number): Generator<FinderCase> {
  const random = mulberry32(seed)
  for (let n = 0; n < count; n++) {
    const large = n % 100 === 99
    const rows = large ? 200 : 1 + Math.floor(random() * 60)
    const cols = large ? 250 : 1 + Math.floor(random() * 60)
    const kind = random()
    const fill = kind < 0.2 ? random() * 0.1 : kind < 0.6 ? random() : kind < 0.9 ? 0.9 + random() * 0.1 : 0.995 + random() * 0.005
    const quantity = random() < 0.9 ? 1 + Math.floor(random() * 4) : Math.floor(random() * 40)
    yield { map: reshape(random, randomSeatMap(random, rows, cols, fill), rows * cols), rows, cols, quantity }
  }
}

/** Runs both finders on every case; returns how many agreed and the first disagreement, if any. */
export function compareFinders(a: SeatFinder, b: SeatFinder, cases: Iterable<FinderCase>): { compared: number; mismatch?: string } {
  let compared = 0
  for (const { map, rows, cols, quantity } of cases) {
    const left = JSON.stringify(a(map, rows, cols, quantity))
    const right = JSON.stringify(b(map, rows, cols, quantity))
    if (left !== right) {
      const label = `${rows}x${cols} q=${quantity} map(${map.length} bytes)=${[...map].join(",")}`
      return { compared, mismatch: `${label}: ${left} vs ${right}` }
    }
    compared++
  }
  return { compared }
}

type InvalidCall = { label: string; args: unknown[]; error: "TypeError" | "RangeError" }

/** SeatFinder calls the native finder must refuse with a JavaScript error instead of reading or writing out of bounds. */
export const invalidFinderCalls: InvalidCall[] = [
  { label: "a plain array as the map", args: [[0, 0], 2, 8, 1], error: "TypeError" },
  { label: "a Uint16Array as the map", args: [new Uint16Array(4), 2, 8, 1], error: "TypeError" },
  { label: "a DataView as the map", args: [new DataView(new ArrayBuffer(4)), 2, 8, 1], error: "TypeError" },
  { label: "no map", args: [undefined, 2, 8, 1], error: "TypeError" },
  { label: "no quantity", args: [new Uint8Array(2), 2, 8], error: "RangeError" },
  { label: "a quantity that is no number", args: [new Uint8Array(2), 2, 8, "two"], error: "RangeError" },
  { label: "a negative quantity", args: [new Uint8Array(2), 2, 8, -1], error: "RangeError" },
  { label: "a fractional quantity", args: [new Uint8Array(2), 2, 8, 1.5], error: "RangeError" },
  { label: "a NaN row count", args: [new Uint8Array(2), Number.NaN, 8, 1], error: "RangeError" },
  { label: "an infinite column count", args: [new Uint8Array(2), 2, Number.POSITIVE_INFINITY, 1], error: "RangeError" },
  { label: "negative rows", args: [new Uint8Array(2), -2, 8, 1], error: "RangeError" },
  { label: "rows * cols past 2^31 seats", args: [new Uint8Array(2), 65_536, 65_536, 1], error: "RangeError" },
  { label: "rows * cols past 2^32 seats", args: [new Uint8Array(2), 2_000_000_000, 2_000_000_000, 1], error: "RangeError" },
  { label: "a quantity past 2^31", args: [new Uint8Array(2), 2, 8, 2 ** 32], error: "RangeError" },
]

/** Calls of the raw addon, findBestAvailable(map, io), that it must refuse the same way. */
export const invalidAddonCalls: InvalidCall[] = [
  { label: "no io array", args: [new Uint8Array(2)], error: "TypeError" },
  { label: "a plain array as io", args: [new Uint8Array(2), [2, 8, 1, 0]], error: "TypeError" },
  { label: "a Float32Array as io", args: [new Uint8Array(2), new Float32Array([2, 8, 1, 0])], error: "TypeError" },
  { label: "map and io swapped", args: [new Float64Array([2, 8, 1, 0]), new Uint8Array(2)], error: "TypeError" },
  { label: "an io array without a quantity", args: [new Uint8Array(2), new Float64Array([2, 8])], error: "RangeError" },
  { label: "an io array with no room for the seats", args: [new Uint8Array(2), new Float64Array([2, 8, 5, 0, 0, 0, 0])], error: "RangeError" },
]
