// Seat maps use Redis bit order (MSB first: bit i is in byte i >> 3 under mask
// 0x80 >> (i & 7)) so a map read with GET matches what SETBIT/GETBIT/BITFIELD wrote.
// A Redis string only grows to the highest bit ever set, so a map may be shorter
// than rows * cols bits; missing bytes read as free, exactly as GETBIT reads them.

/** Chooses `quantity` free seat indexes from a subsection's seat map, or null when too few are free. */
export type SeatFinder = (map: Uint8Array, rows: number, cols: number, quantity: number) => number[] | null

/** Returns the bit index of seat `row`-`seat` (both 1-based) in a map `cols` seats wide. */
export function seatIndex(row: number, seat: number, cols: number): number {
  return (row - 1) * cols + (seat - 1)
}

/** Returns the 1-based row and seat of bit index `index` in a map `cols` seats wide. */
export function seatOfIndex(index: number, cols: number): { row: number; seat: number } {
  return { row: Math.floor(index / cols) + 1, seat: (index % cols) + 1 }
}

/** Creates an all-free seat map of `rows` by `cols` seats. */
export function newSeatMap(rows: number, cols: number): Uint8Array {
  return new Uint8Array(Math.ceil((rows * cols) / 8))
}

/** Tells whether the seat at bit index `index` is taken. */
export function isTaken(map: Uint8Array, index: number): boolean {
  return ((map[index >> 3] ?? 0) & (0x80 >> (index & 7))) !== 0
}

/** Marks the seat at bit index `index` taken or free; throws RangeError when the map is too short to hold it. */
export function setTaken(map: Uint8Array, index: number, taken: boolean): void {
  const byte = index >> 3
  // Silently ignoring the write would lose a reservation, and a Uint8Array cannot grow.
  if (index < 0 || byte >= map.length) throw new RangeError(`seat index ${index} is outside a ${map.length}-byte seat map`)
  const mask = 0x80 >> (index & 7)
  map[byte] = taken ? map[byte]! | mask : map[byte]! & ~mask
}

const popcount = new Uint8Array(256)
for (let b = 1; b < 256; b++) popcount[b] = (b & 1) + popcount[b >> 1]!

/** Counts the free seats among the first `rows * cols` bits of `map`, ignoring padding bits. */
export function countFree(map: Uint8Array, rows: number, cols: number): number {
  const total = rows * cols
  const fullBytes = Math.min(total >> 3, map.length)
  let taken = 0
  for (let b = 0; b < fullBytes; b++) taken += popcount[map[b]!]!
  const tailBits = total & 7
  if (tailBits !== 0) taken += popcount[(map[total >> 3] ?? 0) & (0xff << (8 - tailBits)) & 0xff]!
  return total - taken
}

const seatRange = (start: number, count: number): number[] => Array.from({ length: count }, (_, k) => start + k)

/**
 * Picks seats for `best_available`: the first `quantity` seats of the first free run of at least
 * `quantity` in one row (front rows first), otherwise free runs combined biggest first, ties by position.
 */
export const findBestAvailable: SeatFinder = (map, rows, cols, quantity) => {
  if (quantity < 1) return []
  const total = rows * cols
  if (total === 0 || quantity > total) return null

  // Every run that closes is shorter than `quantity` (a long one returns at once), so runs are
  // bucketed by length in position order; bucket L never needs more than ceil(quantity / L) runs.
  const buckets: number[][] = []
  let runStart = 0
  let runLength = 0
  const closeRun = () => {
    if (runLength === 0) return
    const bucket = (buckets[runLength] ??= [])
    if (bucket.length * runLength < quantity) bucket.push(runStart)
    runLength = 0
  }

  let rowEnd = cols
  let i = 0
  while (i < total) {
    if (i === rowEnd) {
      closeRun()
      rowEnd += cols
    }
    // Whole-byte steps keep near-full and near-empty subsections of tens of thousands of seats cheap.
    if ((i & 7) === 0 && i + 8 <= total) {
      const byte = map[i >> 3] ?? 0
      if (byte === 0xff) {
        closeRun()
        i += 8
        while (rowEnd < i) rowEnd += cols
        continue
      }
      if (byte === 0 && i + 8 <= rowEnd) {
        if (runLength === 0) runStart = i
        runLength += 8
        i += 8
        if (runLength >= quantity) return seatRange(runStart, quantity)
        continue
      }
    }
    if (((map[i >> 3] ?? 0) & (0x80 >> (i & 7))) !== 0) {
      closeRun()
    } else {
      if (runLength === 0) runStart = i
      runLength++
      if (runLength >= quantity) return seatRange(runStart, quantity)
    }
    i++
  }
  closeRun()

  const seats: number[] = []
  for (let length = quantity - 1; length >= 1; length--) {
    for (const start of buckets[length] ?? []) {
      const take = Math.min(length, quantity - seats.length)
      for (let k = 0; k < take; k++) seats.push(start + k)
      if (seats.length === quantity) return seats
    }
  }
  return null
}
