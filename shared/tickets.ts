// The ticket's rules and shapes that both processes and the API share: the per-booking limit,
// the "row-seat" position format, a ticket as answered and published, and seat counts.

/** Most tickets one booking may hold (the contract's 1–4). */
export const MAX_TICKETS_PER_BOOKING = 4

const POSITION = /^(-?\d+)-(-?\d+)$/

/**
 * Reads a `"row-seat"` position (`"2-3"`, surrounding blanks allowed) as [row, seat]; undefined
 * when it is not two integers joined by a dash. Signs are kept, so a caller can tell a
 * non-positive number from a malformed position.
 */
export function parseSeatPosition(position: string): [number, number] | undefined {
  const match = POSITION.exec(position.trim())
  return match ? [Number(match[1]), Number(match[2])] : undefined
}

/** Writes [row, seat] as the `"row-seat"` position bookings store and the API shows. */
export const formatSeatPosition = (row: number, seat: number): string => `${row}-${seat}`

/** How many seats of a subsection or an event are free, held by a booking, and paid for. */
export type SeatCounts = { available: number; reserved: number; sold: number }

/** One ticket as a booking lists it, in answers and in live updates. */
export type Ticket = { id: number; section: string; subsection: number; row: number; seat: number; price: number; status: string }
