// The PostgreSQL reads of the batch step's load phase, one statement each; seat maps and
// grids are loaded by seat-state.ts.
import type { Sql } from "postgres"
import type { BookingStatus } from "./decide-batch.ts"

/** The ids among `buyerIds` that name an existing user. */
export async function selectKnownBuyers(sql: Sql, buyerIds: number[]): Promise<Set<number>> {
  const rows = await sql<{ id: string }[]>`SELECT id FROM users WHERE id = ANY(${buyerIds}::bigint[])`
  return new Set(rows.map((r) => Number(r.id)))
}

/** A booking row as the batch step needs it. */
export type BookingRow = {
  id: string
  buyer_id: string
  status: BookingStatus
  seat_positions: string[]
  error_message: string | null
  expires_at: Date | null
  /** PostgreSQL's clock has passed expires_at: the clock the expiry's and the payment's guards use. */
  due: boolean
}

/** The bookings among `ids` that PostgreSQL already has. */
export function selectBookings(sql: Sql, ids: string[]): Promise<BookingRow[]> {
  return sql<BookingRow[]>`
    SELECT id, buyer_id, status, seat_positions, error_message, expires_at, coalesce(expires_at <= now(), false) AS due
    FROM bookings WHERE id = ANY(${ids}::uuid[])`
}

/** The status and holder of each ticket among `ticketIds`. */
export async function selectTicketHolders(sql: Sql, ticketIds: number[]): Promise<Map<number, { status: string; bookingId: string | null }>> {
  if (ticketIds.length === 0) return new Map()
  const rows = await sql<{ id: string; status: string; booking_id: string | null }[]>`
    SELECT id, status, booking_id FROM tickets WHERE id = ANY(${ticketIds}::bigint[])`
  return new Map(rows.map((t) => [Number(t.id), { status: t.status, bookingId: t.booking_id }]))
}
