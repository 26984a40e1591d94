import { describe, expect, test } from "bun:test"
import {
  countFree,
  findBestAvailable,
  isTaken,
  newSeatMap,
  seatIndex,
  seatOfIndex,
  setTaken,
  type SeatFinder,
} from "./seat-finder.ts"
import { findBestAvailableNative, nativeSeatFinderProblem } from "../reserver/native-seat-finder.ts"
import { mulberry32 } from "../testing/seat-finder-samples.ts"

// Every SeatFinder implementation must pass the same contract suite; the native one wherever npm install built it.
const finders: [string, SeatFinder][] = [["typescript", findBestAvailable]]
if (findBestAvailableNative) finders.push(["native", findBestAvailableNative])
else test.skip(`native seat finder contract suite: the addon is ${nativeSeatFinderProblem}`, () => {})

function mapWith(rows: number, cols: number, taken: string[]): Uint8Array {
  const map = newSeatMap(rows, cols)
  for (const position of taken) {
    const [row, seat] = position.split("-").map(Number)
    setTaken(map, seatIndex(row!, seat!, cols), true)
  }
  return map
}

function positions(indexes: number[] | null, cols: number): string[] | null {
  return indexes && indexes.map((i) => {
    const { row, seat } = seatOfIndex(i, cols)
    return `${row}-${seat}`
  })
}

// Deliberately naive: decodes the bitmap into rows of booleans, lists every run, sorts them.
function referenceFinder(map: Uint8Array, rows: number, cols: number, quantity: number): number[] | null {
  const free: boolean[][] = []
  for (let r = 0; r < rows; r++) {
    const row: boolean[] = []
    for (let s = 0; s < cols; s++) {
      const bit = r * cols + s
      const byte = bit >> 3 < map.length ? map[bit >> 3]! : 0
      row.push(((byte >> (7 - (bit % 8))) & 1) === 0)
    }
    free.push(row)
  }
  const runs: { row: number; seat: number; length: number }[] = []
  for (let r = 0; r < rows; r++) {
    let s = 0
    while (s < cols) {
      if (!free[r]![s]) {
        s++
        continue
      }
      const start = s
      while (s < cols && free[r]![s]) s++
      runs.push({ row: r, seat: start, length: s - start })
    }
  }
  const firstLong = runs.find((run) => run.length >= quantity)
  if (firstLong) return Array.from({ length: quantity }, (_, k) => firstLong.row * cols + firstLong.seat + k)
  const byPreference = [...runs].sort((a, b) => b.length - a.length || a.row - b.row || a.seat - b.seat)
  const seats: number[] = []
  for (const run of byPreference) {
    for (let k = 0; k < run.length && seats.length < quantity; k++) seats.push(run.row * cols + run.seat + k)
  }
  return seats.length === quantity ? seats : null
}

describe("seat map bits", () => {
  test("use Redis SETBIT order, most significant bit first", () => {
    const map = newSeatMap(2, 8)
    setTaken(map, 0, true)
    setTaken(map, 9, true)
    setTaken(map, 15, true)
    expect([...map]).toEqual([0x80, 0x41])
    expect(isTaken(map, 0)).toBe(true)
    expect(isTaken(map, 1)).toBe(false)
    expect(isTaken(map, 9)).toBe(true)
    setTaken(map, 9, false)
    expect([...map]).toEqual([0x80, 0x01])
    expect(isTaken(map, 9)).toBe(false)
  })

  test("read bytes past a short Redis string as free", () => {
    const short = new Uint8Array([0xff])
    expect(isTaken(short, 7)).toBe(true)
    expect(isTaken(short, 8)).toBe(false)
    expect(countFree(short, 2, 10)).toBe(12)
  })

  test("refuse to set a seat the map cannot hold", () => {
    expect(() => setTaken(newSeatMap(1, 5), 8, true)).toThrow(RangeError)
  })

  test("convert between row-seat and index", () => {
    expect(seatIndex(1, 1, 10)).toBe(0)
    expect(seatIndex(3, 4, 10)).toBe(23)
    expect(seatOfIndex(23, 10)).toEqual({ row: 3, seat: 4 })
    expect(seatOfIndex(9, 10)).toEqual({ row: 1, seat: 10 })
  })

  test("a new map is all free and sized to whole bytes", () => {
    expect(newSeatMap(3, 7)).toEqual(new Uint8Array(3))
    expect(countFree(newSeatMap(3, 7), 3, 7)).toBe(21)
  })

  test("countFree ignores padding bits", () => {
    const map = mapWith(1, 5, ["1-2"])
    map[0] = map[0]! | 0x07
    expect(countFree(map, 1, 5)).toBe(4)
  })
})

describe.each(finders)("%s seat finder", (_name, find) => {
  test("takes the first seats of an empty row", () => {
    expect(positions(find(newSeatMap(1, 5), 1, 5, 2), 5)).toEqual(["1-1", "1-2"])
  })

  test("skips a taken seat to the first run long enough", () => {
    expect(positions(find(mapWith(1, 5, ["1-2"]), 1, 5, 2), 5)).toEqual(["1-3", "1-4"])
  })

  test("prefers a front-row run over a longer run further back", () => {
    const map = mapWith(3, 6, ["1-1", "1-2", "1-5", "1-6", "2-1", "2-2", "2-3", "2-4", "2-5", "2-6"])
    expect(positions(find(map, 3, 6, 2), 6)).toEqual(["1-3", "1-4"])
  })

  test("combines single seats by position when no run is long enough", () => {
    const map = mapWith(2, 4, ["1-2", "1-4", "2-1", "2-3"])
    expect(positions(find(map, 2, 4, 3), 4)).toEqual(["1-1", "1-3", "2-2"])
  })

  test("combines the biggest runs first, ties by position", () => {
    // Free runs: 1-1 (1), 1-3..1-4 (2), 2-2..2-3 (2), 3-5 (1); no run of 3.
    const map = mapWith(3, 5, ["1-2", "1-5", "2-1", "2-4", "2-5", "3-1", "3-2", "3-3", "3-4"])
    expect(positions(find(map, 3, 5, 3), 5)).toEqual(["1-3", "1-4", "2-2"])
  })

  test("takes a whole later run of two before an earlier single seat", () => {
    // Free runs: 1-1 (1), 1-4..1-5 (2), 2-2..2-3 (2); no run of 4.
    const map = mapWith(2, 5, ["1-2", "1-3", "2-1", "2-4", "2-5"])
    expect(positions(find(map, 2, 5, 4), 5)).toEqual(["1-4", "1-5", "2-2", "2-3"])
  })

  test("does not join runs across a row boundary", () => {
    // 1-3..1-4 and 2-1..2-2 touch in the bitmap but lie in different rows.
    const map = mapWith(2, 4, ["1-1", "1-2", "2-3", "2-4"])
    expect(positions(find(map, 2, 4, 3), 4)).toEqual(["1-3", "1-4", "2-1"])
  })

  test("returns null for a full map", () => {
    const map = newSeatMap(4, 9)
    for (let i = 0; i < 36; i++) setTaken(map, i, true)
    expect(find(map, 4, 9, 1)).toBeNull()
  })

  test("returns null when fewer seats are free than asked for", () => {
    const map = mapWith(2, 3, ["1-1", "1-3", "2-1", "2-2"])
    expect(find(map, 2, 3, 3)).toBeNull()
    expect(positions(find(map, 2, 3, 2), 3)).toEqual(["1-2", "2-3"])
  })

  test("never returns padding bits past the last seat", () => {
    const map = mapWith(1, 5, ["1-1", "1-2", "1-3", "1-4"])
    expect(positions(find(map, 1, 5, 1), 5)).toEqual(["1-5"])
    expect(find(map, 1, 5, 2)).toBeNull()
    expect(find(mapWith(1, 5, []), 1, 5, 6)).toBeNull()
  })

  test("finds seats in whole free bytes and after whole taken bytes", () => {
    const map = newSeatMap(3, 20)
    for (let i = 0; i < 45; i++) setTaken(map, i, true)
    expect(positions(find(map, 3, 20, 4), 20)).toEqual(["3-6", "3-7", "3-8", "3-9"])
    expect(positions(find(map, 3, 20, 15), 20)).toEqual(Array.from({ length: 15 }, (_, k) => `3-${6 + k}`))
    expect(find(map, 3, 20, 16)).toBeNull()
  })

  test("reads a map shorter than the grid as free at the end, as Redis GET returns it", () => {
    const short = new Uint8Array([0xff, 0xff])
    expect(positions(find(short, 2, 12, 3), 12)).toEqual(["2-5", "2-6", "2-7"])
  })

  test("matches the reference on random maps", () => {
    const random = mulberry32(20240601)
    for (let round = 0; round < 2000; round++) {
      const rows = 1 + Math.floor(random() * 6)
      const cols = 1 + Math.floor(random() * 40)
      const quantity = 1 + Math.floor(random() * 4)
      const density = random()
      let map = newSeatMap(rows, cols)
      for (let i = 0; i < rows * cols; i++) if (random() < density) setTaken(map, i, true)
      // Redis GET drops trailing zero bytes that were never written.
      if (random() < 0.2) {
        let length = map.length
        while (length > 0 && map[length - 1] === 0) length--
        map = map.slice(0, length)
      }
      const label = `round ${round}: ${rows}x${cols} q=${quantity} map=${[...map].join(",")}`
      const seats = find(map, rows, cols, quantity)
      expect(seats, label).toEqual(referenceFinder(map, rows, cols, quantity))

      const free = countFree(map, rows, cols)
      if (free < quantity) {
        expect(seats, label).toBeNull()
        continue
      }
      expect(seats, label).not.toBeNull()
      expect(seats!.length, label).toBe(quantity)
      expect(new Set(seats).size, label).toBe(quantity)
      for (const seat of seats!) {
        expect(seat < rows * cols, label).toBe(true)
        expect(isTaken(map, seat), label).toBe(false)
      }
      const first = firstRunAtLeast(map, rows, cols, quantity)
      if (first !== null) expect(seats, label).toEqual(Array.from({ length: quantity }, (_, k) => first + k))
    }
  })

  test("matches the reference on large subsections", () => {
    const random = mulberry32(7)
    for (let round = 0; round < 20; round++) {
      const rows = 50 + Math.floor(random() * 150)
      const cols = 50 + Math.floor(random() * 250)
      const quantity = 1 + Math.floor(random() * 6)
      const density = 0.9 + random() * 0.1
      const map = newSeatMap(rows, cols)
      for (let i = 0; i < rows * cols; i++) if (random() < density) setTaken(map, i, true)
      expect(find(map, rows, cols, quantity)).toEqual(referenceFinder(map, rows, cols, quantity))
    }
  })
})

function firstRunAtLeast(map: Uint8Array, rows: number, cols: number, quantity: number): number | null {
  for (let r = 1; r <= rows; r++) {
    let run = 0
    for (let s = 1; s <= cols; s++) {
      run = isTaken(map, seatIndex(r, s, cols)) ? 0 : run + 1
      if (run === quantity) return seatIndex(r, s - quantity + 1, cols)
    }
  }
  return null
}
