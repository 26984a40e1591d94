// The batch step's PostgreSQL transaction: one function per statement, each taking the
// batch's rows as arrays (`unnest`), so a batch costs the same number of round trips
// whatever its size; writeBatch runs them in the order the guards and locks need.
import type { Sql, TransactionSql } from "postgres"
import { commandKey } from "../shared/kafka.ts"
import { eventStatusFor, type BatchWrites, type NewBooking } from "./decide-batch.ts"
import type { Grid } from "./seat-state.ts"
import type { SeatCounts } from "../shared/tickets.ts"

/** The counts and statuses the transaction committed, for Redis and the notifications. */
export type CommittedCounts = {
  /** By subsection key. */
  stats: Map<string, SeatCounts>
  /** By event id; `statusChanged` when this batch moved it between available and sold out. */
  events: Map<number, SeatCounts & { status: string; statusChanged: boolean }>
}

/** PostgreSQL disagreed with the seat map a decision was based on; the batch is decided again from PostgreSQL. */
export class StaleSeatMapError extends Error {
  override name = "StaleSeatMapError"
  constructor(readonly subsections: string[]) {
    super(`seat map out of date for ${subsections.join(", ")}`)
  }
}

/**
 * A hold the batch decided to expire was paid (or cancelled) between the batch's load and its write;
 * nothing was written, and the batch is decided again from the bookings as they are now.
 */
export class HoldRaceError extends Error {
  override name = "HoldRaceError"
  constructor(readonly bookings: string[]) {
    super(`holds no longer expirable: ${bookings.join(", ")}`)
  }
}

/**
 * Writes a batch's decisions in one transaction and returns the counts it committed. The guarded
 * ticket updates make a stale seat map a StaleSeatMapError (nothing written) instead of a double sale.
 */
export function writeBatch(sql: Sql, writes: BatchWrites): Promise<CommittedCounts> {
  return sql.begin(async (tx) => {
    await insertBookings(tx, writes.newBookings)
    // Before the tickets, as the payment locks the booking before its tickets; a hold paid since the
    // load is no longer expirable, and its tickets must not be freed.
    const expired = await expireBookings(tx, writes.expiredBookings)
    if (expired.size !== writes.expiredBookings.length) throw new HoldRaceError(writes.expiredBookings.filter((id) => !expired.has(id)))
    const stale = new Set<string>()
    if ((await reserveTickets(tx, writes.reservedTickets)) !== writes.reservedTickets.length) for (const t of writes.reservedTickets) stale.add(t.key)
    if ((await moveTickets(tx, writes.movedTickets)) !== writes.movedTickets.length) for (const t of writes.movedTickets) stale.add(t.key)
    if (stale.size > 0) throw new StaleSeatMapError([...stale])
    await cancelBookings(tx, writes.cancelledBookings)
    await addToSubsectionStats(tx, writes.statDeltas)
    await lockEvents(tx, writes.eventIds)
    const stats = await selectSubsectionStats(tx, writes.subsections)
    const totals = await selectEventTotals(tx, writes.eventIds)
    const changed = await updateEventStatuses(tx, [...totals].map(([id, t]) => ({ id, status: eventStatusFor(t.available) })))
    const statuses = await selectEventStatuses(tx, writes.eventIds)
    const events: CommittedCounts["events"] = new Map()
    for (const [id, status] of statuses) events.set(id, { ...totals.get(id)!, status, statusChanged: changed.has(id) })
    return { stats, events }
  })
}

/** Inserts new bookings; one already there (a replay) is left as it is. */
export async function insertBookings(tx: TransactionSql, bookings: NewBooking[]): Promise<void> {
  if (bookings.length === 0) return
  // PostgreSQL arrays are rectangular and unnest flattens them, so each booking's seats travel as one comma-joined string.
  await tx`
    INSERT INTO bookings (id, buyer_id, event_id, section, subsection, quantity, seat_selection_mode,
                          seat_positions, total_price, status, error_message, created_at, expires_at)
    SELECT v.id, v.buyer_id, v.event_id, v.section, v.subsection, v.quantity, v.mode,
           CASE WHEN v.seats = '' THEN '{}'::text[] ELSE string_to_array(v.seats, ',') END,
           v.total, v.status, NULLIF(v.error, ''), v.created_at, v.expires_at
    FROM unnest(${bookings.map((b) => b.id)}::uuid[], ${bookings.map((b) => b.buyerId)}::bigint[],
                ${bookings.map((b) => b.eventId)}::bigint[], ${bookings.map((b) => b.section)}::text[],
                ${bookings.map((b) => b.subsection)}::int[], ${bookings.map((b) => b.quantity)}::int[],
                ${bookings.map((b) => b.mode)}::text[], ${bookings.map((b) => b.seatPositions.join(","))}::text[],
                ${bookings.map((b) => b.totalPrice)}::int[], ${bookings.map((b) => b.status)}::text[],
                ${bookings.map((b) => b.errorMessage ?? "")}::text[], ${bookings.map((b) => b.createdAt)}::timestamptz[],
                ${bookings.map((b) => b.expiresAt)}::timestamptz[])
      AS v(id, buyer_id, event_id, section, subsection, quantity, mode, seats, total, status, error, created_at, expires_at)
    ON CONFLICT (id) DO NOTHING`
}

/** Reserves free tickets for their bookings; returns how many were still free (fewer means the seat map was stale). */
export async function reserveTickets(tx: TransactionSql, tickets: BatchWrites["reservedTickets"]): Promise<number> {
  if (tickets.length === 0) return 0
  const updated = await tx`
    UPDATE tickets t SET status = 'reserved', booking_id = v.booking_id
    FROM unnest(${tickets.map((t) => t.ticketId)}::bigint[], ${tickets.map((t) => t.bookingId)}::uuid[]) AS v(id, booking_id)
    WHERE t.id = v.id AND t.status = 'available'
    RETURNING t.id`
  return updated.length
}

/** Moves reserved tickets to another booking or frees them; returns how many were still held as expected. */
export async function moveTickets(tx: TransactionSql, tickets: BatchWrites["movedTickets"]): Promise<number> {
  if (tickets.length === 0) return 0
  const updated = await tx`
    UPDATE tickets t
    SET status = CASE WHEN v.to_booking IS NULL THEN 'available' ELSE 'reserved' END, booking_id = v.to_booking
    FROM unnest(${tickets.map((t) => t.ticketId)}::bigint[], ${tickets.map((t) => t.from)}::uuid[], ${tickets.map((t) => t.to)}::uuid[])
      AS v(id, from_booking, to_booking)
    WHERE t.id = v.id AND t.status = 'reserved' AND t.booking_id = v.from_booking
    RETURNING t.id`
  return updated.length
}

/** Marks recorded bookings cancelled, unless they were paid meanwhile. */
export async function cancelBookings(tx: TransactionSql, ids: string[]): Promise<void> {
  if (ids.length === 0) return
  await tx`
    UPDATE bookings SET status = 'cancelled', updated_at = now()
    WHERE id = ANY(${ids}::uuid[]) AND status IN ('pending_payment', 'cancelled')`
}

/**
 * Expires holds that are still unpaid and past their deadline by PostgreSQL's clock, the guard the
 * payment's `expires_at > now()` mirrors, so a payment and an expiry never both win. Returns the ids it expired.
 */
export async function expireBookings(tx: TransactionSql, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set()
  const rows = await tx<{ id: string }[]>`
    UPDATE bookings SET status = 'expired', updated_at = now()
    WHERE id = ANY(${ids}::uuid[]) AND status = 'pending_payment' AND expires_at <= now()
    RETURNING id`
  return new Set(rows.map((r) => r.id))
}

/** Adds each subsection's change to its available and reserved counts. */
export async function addToSubsectionStats(tx: TransactionSql, deltas: BatchWrites["statDeltas"]): Promise<void> {
  if (deltas.length === 0) return
  await tx`
    UPDATE subsection_stats s SET available = s.available + v.available, reserved = s.reserved + v.reserved
    FROM unnest(${deltas.map((d) => d.grid.eventId)}::bigint[], ${deltas.map((d) => d.grid.section)}::text[],
                ${deltas.map((d) => d.grid.subsection)}::int[], ${deltas.map((d) => d.available)}::int[],
                ${deltas.map((d) => d.reserved)}::int[]) AS v(event_id, section, subsection, available, reserved)
    WHERE s.event_id = v.event_id AND s.section = v.section AND s.subsection = v.subsection`
}

/**
 * Locks the events' rows until the transaction ends. Two batch steps of different partitions can
 * run at once and share an event; locking the event rows (in id order, so two steps cannot wait
 * on each other) before reading the totals makes the later step wait for the earlier one's commit
 * and count its seats too; without it each step missed the other's last seats and a sold-out
 * event stayed "available".
 */
export async function lockEvents(tx: TransactionSql, eventIds: number[]): Promise<void> {
  await tx`SELECT id FROM events WHERE id = ANY(${eventIds}::bigint[]) ORDER BY id FOR NO KEY UPDATE`
}

/** The counts of the given subsections, by subsection key. */
export async function selectSubsectionStats(tx: TransactionSql, subsections: Grid[]): Promise<Map<string, SeatCounts>> {
  const rows = await tx<{ event_id: string; section: string; subsection: number; available: number; reserved: number; sold: number }[]>`
    SELECT s.event_id, s.section, s.subsection, s.available, s.reserved, s.sold
    FROM subsection_stats s
    JOIN unnest(${subsections.map((g) => g.eventId)}::bigint[], ${subsections.map((g) => g.section)}::text[],
                ${subsections.map((g) => g.subsection)}::int[]) AS v(event_id, section, subsection)
      ON s.event_id = v.event_id AND s.section = v.section AND s.subsection = v.subsection`
  return new Map(rows.map((r) => [commandKey(Number(r.event_id), r.section, r.subsection), { available: r.available, reserved: r.reserved, sold: r.sold }]))
}

/** Each event's counts summed over its subsections, by event id. */
export async function selectEventTotals(tx: TransactionSql, eventIds: number[]): Promise<Map<number, SeatCounts>> {
  const rows = await tx<{ event_id: string; available: number; reserved: number; sold: number }[]>`
    SELECT event_id, sum(available)::int AS available, sum(reserved)::int AS reserved, sum(sold)::int AS sold
    FROM subsection_stats WHERE event_id = ANY(${eventIds}::bigint[]) GROUP BY event_id`
  return new Map(rows.map((r) => [Number(r.event_id), { available: r.available, reserved: r.reserved, sold: r.sold }]))
}

/** Sets each event's status where it differs and the event is on sale (available or sold out); returns the ids it changed. */
export async function updateEventStatuses(tx: TransactionSql, statuses: { id: number; status: string }[]): Promise<Set<number>> {
  const changed = await tx<{ id: string }[]>`
    UPDATE events e SET status = v.status
    FROM unnest(${statuses.map((s) => s.id)}::bigint[], ${statuses.map((s) => s.status)}::text[]) AS v(id, status)
    WHERE e.id = v.id AND e.status IN ('available', 'sold_out') AND e.status <> v.status
    RETURNING e.id`
  return new Set(changed.map((c) => Number(c.id)))
}

/** Each event's status, by event id. */
export async function selectEventStatuses(tx: TransactionSql, eventIds: number[]): Promise<Map<number, string>> {
  const rows = await tx<{ id: string; status: string }[]>`SELECT id, status FROM events WHERE id = ANY(${eventIds}::bigint[])`
  return new Map(rows.map((e) => [Number(e.id), e.status]))
}
