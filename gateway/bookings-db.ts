import type { Sql } from "postgres"
import type { SubsectionCounts } from "../shared/live-messages.ts"
import type { SeatCounts, Ticket } from "../shared/tickets.ts"

/** A booking as the contract shows it. */
export type BookingJson = {
  id: string
  buyer_id: number
  event_id: number
  total_price: number
  status: string
  created_at: string
  paid_at: string | null
  /** The hold's deadline while pending_payment, and once expired; null otherwise. */
  expires_at: string | null
  event_name: string
  buyer_name: string
  seller_name: string
  venue_name: string
  section: string
  subsection: number
  quantity: number
  seat_selection_mode: string
  seat_positions: string[]
  error_message?: string
  tickets?: Ticket[]
}

/** Booking row plus who may see it. */
export type BookingRecord = BookingJson & { seller_id: number }

type Row = Omit<BookingRecord, "buyer_id" | "event_id" | "seller_id" | "created_at" | "paid_at" | "expires_at" | "error_message"> & {
  buyer_id: string
  event_id: string
  seller_id: string
  created_at: Date
  paid_at: Date | null
  expires_at: Date | null
  error_message: string | null
}

const toJson = (r: Row): BookingRecord => {
  const { error_message, ...rest } = r
  return {
    ...rest,
    buyer_id: Number(r.buyer_id),
    event_id: Number(r.event_id),
    seller_id: Number(r.seller_id),
    created_at: r.created_at.toISOString(),
    paid_at: r.paid_at?.toISOString() ?? null,
    expires_at: r.status === "pending_payment" || r.status === "expired" ? (r.expires_at?.toISOString() ?? null) : null,
    ...(r.status === "failed" ? { error_message: error_message ?? "" } : {}),
  }
}

// tickets.booking_id has no index (so seat updates stay HOT); a booking's tickets are found
// through its seat_positions and the unique seat index, then checked against booking_id.
// The "row-seat" positions (shared/tickets.ts) are split in SQL here, inside the one statement
// that joins them to the tickets, rather than read out and parsed by parseSeatPosition.
const heldTickets = `
  CROSS JOIN LATERAL unnest(b.seat_positions) AS p
  JOIN tickets t ON t.event_id = b.event_id AND t.section = b.section AND t.subsection = b.subsection
   AND t.row = split_part(p, '-', 1)::int AND t.seat = split_part(p, '-', 2)::int AND t.booking_id = b.id`

const selectBookings = (sql: Sql, where: ReturnType<Sql>) => sql<Row[]>`
  SELECT b.id, b.buyer_id, b.event_id, b.total_price, b.status, b.created_at, b.paid_at, b.expires_at,
         e.name AS event_name, u.name AS buyer_name, s.name AS seller_name, e.venue_name, e.seller_id,
         b.section, b.subsection, b.quantity, b.seat_selection_mode, b.seat_positions, b.error_message
  FROM bookings b
  JOIN events e ON e.id = b.event_id
  JOIN users u ON u.id = b.buyer_id
  JOIN users s ON s.id = e.seller_id
  ${where}`

/** One booking with its tickets, or undefined. */
export async function findBooking(sql: Sql, id: string): Promise<BookingRecord | undefined> {
  const [row] = await selectBookings(sql, sql`WHERE b.id = ${id}`)
  if (!row) return undefined
  const tickets = await sql<{ id: string; section: string; subsection: number; row: number; seat: number; price: number; status: string }[]>`
    SELECT t.id, t.section, t.subsection, t.row, t.seat, t.price, t.status
    FROM bookings b ${sql.unsafe(heldTickets)}
    WHERE b.id = ${id} ORDER BY t.row, t.seat`
  return { ...toJson(row), tickets: tickets.map((t) => ({ ...t, id: Number(t.id) })) }
}

/** A buyer's bookings, or for a seller the bookings of the seller's events, oldest first. */
export async function listBookings(sql: Sql, user: { id: number; role: string }, status?: string): Promise<BookingJson[]> {
  const owner = user.role === "seller" ? sql`e.seller_id = ${user.id}` : sql`b.buyer_id = ${user.id}`
  const filter = status ? sql`AND b.status = ${status}` : sql``
  const rows = await selectBookings(sql, sql`WHERE ${owner} ${filter} ORDER BY b.created_at, b.id`)
  return rows.map((r) => {
    const { seller_id: _, ...json } = toJson(r)
    return json
  })
}

/** Names the contract shows beside a booking that is still processing. */
export async function findBookingContext(sql: Sql, eventId: number, buyerId: number) {
  const [row] = await sql<{ event_name: string; venue_name: string; seller_id: string; seller_name: string; buyer_name: string }[]>`
    SELECT e.name AS event_name, e.venue_name, e.seller_id, s.name AS seller_name, u.name AS buyer_name
    FROM events e JOIN users s ON s.id = e.seller_id JOIN users u ON u.id = ${buyerId}
    WHERE e.id = ${eventId}`
  return row && { ...row, seller_id: Number(row.seller_id) }
}

// A hold is live until its deadline by PostgreSQL's clock, the clock the reserver's expiry is guarded by
// (reserver/batch-writes.ts expireBookings): at any moment exactly one of the two guards can pass.
const holdLive = "(expires_at IS NULL OR expires_at > now())"

/** Cancels a pending_payment booking before its deadline; false when it was not pending_payment any more, or its hold ran out. */
export async function cancelPendingBooking(sql: Sql, id: string): Promise<boolean> {
  const rows = await sql`
    UPDATE bookings SET status = 'cancelled', updated_at = now()
    WHERE id = ${id} AND status = 'pending_payment' AND ${sql.unsafe(holdLive)} RETURNING id`
  return rows.length === 1
}

/** A payment that went through, with the counts it left, for the live streams. */
export type PaidBooking = {
  paid_at: Date
  /** The paid subsection's counts after the payment. */
  subsection: SubsectionCounts
  /** The whole event's counts after the payment. */
  event: SeatCounts
}

/**
 * Pays a pending_payment booking in one guarded transaction: booking completed, its
 * tickets sold, counts moved. Returns paid_at and the new counts, or undefined when the
 * booking was no longer payable (a concurrent cancel won, or its hold's deadline passed).
 */
export async function payBooking(sql: Sql, id: string): Promise<PaidBooking | undefined> {
  // The reserver releasing the same booking locks its tickets before the booking row, this
  // transaction the other way round; PostgreSQL breaks such a deadlock by failing one side,
  // and a second attempt here sees the winner's result.
  for (let attempt = 1; ; attempt++) {
    try {
      return await payOnce(sql, id)
    } catch (error) {
      if ((error as { code?: string }).code !== "40P01" || attempt >= 3) throw error
    }
  }
}

function payOnce(sql: Sql, id: string): Promise<PaidBooking | undefined> {
  return sql.begin(async (tx) => {
    const [booking] = await tx<{ paid_at: Date; quantity: number; event_id: string; section: string; subsection: number }[]>`
      UPDATE bookings SET status = 'completed', paid_at = now(), updated_at = now()
      WHERE id = ${id} AND status = 'pending_payment' AND ${tx.unsafe(holdLive)}
      RETURNING paid_at, quantity, event_id, section, subsection`
    if (!booking) return undefined
    const sold = await tx`
      UPDATE tickets t SET status = 'sold'
      FROM bookings b CROSS JOIN LATERAL unnest(b.seat_positions) AS p
      WHERE b.id = ${id} AND t.event_id = b.event_id AND t.section = b.section AND t.subsection = b.subsection
        AND t.row = split_part(p, '-', 1)::int AND t.seat = split_part(p, '-', 2)::int
        AND t.booking_id = b.id AND t.status = 'reserved'
      RETURNING t.id`
    if (sold.length !== booking.quantity) throw new Error(`booking ${id} holds ${sold.length} reserved tickets, expected ${booking.quantity}`)
    // Read under the row lock, so the counts are the ones this transaction leaves.
    const [subsection] = await tx<SubsectionCounts[]>`
      UPDATE subsection_stats SET reserved = reserved - ${sold.length}, sold = sold + ${sold.length}
      WHERE event_id = ${booking.event_id} AND section = ${booking.section} AND subsection = ${booking.subsection}
      RETURNING price, available, reserved, sold`
    const [event] = await tx<SeatCounts[]>`
      SELECT sum(available)::int AS available, sum(reserved)::int AS reserved, sum(sold)::int AS sold
      FROM subsection_stats WHERE event_id = ${booking.event_id}`
    return { paid_at: booking.paid_at, subsection: subsection!, event: event! }
  })
}
