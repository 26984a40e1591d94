// The correctness audit of an event, used by the reserver's tests and every benchmark:
// PostgreSQL tickets, stats and bookings, and Redis bits and counters, must all agree, and
// no seat may belong to two live bookings.
import type Redis from "ioredis"
import type { Sql } from "postgres"
import type { RedisKeys } from "../shared/redis-keys.ts"

/** Lists every disagreement found for one event; an empty list means the stores agree and nothing was sold twice. */
export async function auditEvent(deps: { sql: Sql; redis: Redis; keys: RedisKeys }, eventId: number) {
  const { sql, redis, keys } = deps
  const problems: string[] = []
  const subs = await sql<{ section: string; subsection: number; rows: number; cols: number; available: number; reserved: number; sold: number }[]>`
    SELECT section, subsection, rows, cols, available, reserved, sold FROM subsection_stats WHERE event_id = ${eventId}`
  for (const s of subs) {
    const label = `${s.section}-${s.subsection}`
    const tickets = await sql<{ row: number; seat: number; status: string; booking_id: string | null }[]>`
      SELECT row, seat, status, booking_id FROM tickets WHERE event_id = ${eventId} AND section = ${s.section} AND subsection = ${s.subsection}`
    const count = (status: string) => tickets.filter((t) => t.status === status).length
    if (count("available") !== s.available) problems.push(`${label}: stats available ${s.available} != tickets ${count("available")}`)
    if (count("reserved") !== s.reserved) problems.push(`${label}: stats reserved ${s.reserved} != tickets ${count("reserved")}`)
    if (count("sold") !== s.sold) problems.push(`${label}: stats sold ${s.sold} != tickets ${count("sold")}`)
    const bitmap = (await redis.getBuffer(keys.seats(eventId, s.section, s.subsection))) ?? Buffer.alloc(0)
    for (const t of tickets) {
      const i = (t.row - 1) * s.cols + (t.seat - 1)
      const bit = ((bitmap[i >> 3] ?? 0) >> (7 - (i & 7))) & 1
      if (bit !== (t.status === "available" ? 0 : 1)) problems.push(`${label} seat ${t.row}-${t.seat}: redis bit ${bit}, ticket ${t.status}`)
      if ((t.status === "available") !== (t.booking_id === null)) problems.push(`${label} seat ${t.row}-${t.seat}: ${t.status} with booking ${t.booking_id}`)
    }
    const counter = await redis.hget(keys.available(eventId), label)
    if (Number(counter) !== s.available) problems.push(`${label}: redis counter ${counter} != ${s.available}`)
  }
  // Every live booking holds exactly its quantity of seats; nothing else holds any.
  const holdings = await sql<{ id: string; status: string; quantity: number; held: number }[]>`
    SELECT b.id, b.status, b.quantity, count(t.id)::int AS held
    FROM bookings b LEFT JOIN tickets t ON t.booking_id = b.id
    WHERE b.event_id = ${eventId} GROUP BY b.id`
  for (const h of holdings) {
    const expected = h.status === "pending_payment" || h.status === "completed" ? h.quantity : 0
    if (h.held !== expected) problems.push(`booking ${h.id} (${h.status}) holds ${h.held} seats, expected ${expected}`)
  }
  // The same seat named by two live bookings is a double sale, whatever the tickets say.
  const doubles = await sql<{ seat: string; bookings: string[] }[]>`
    SELECT b.section || '-' || b.subsection || ':' || p AS seat, array_agg(b.id::text) AS bookings
    FROM bookings b, unnest(b.seat_positions) p
    WHERE b.event_id = ${eventId} AND b.status IN ('pending_payment', 'completed')
    GROUP BY 1 HAVING count(*) > 1`
  for (const d of doubles) problems.push(`seat ${d.seat} sold twice: bookings ${d.bookings.join(", ")}`)
  // An event on sale is sold_out exactly when no seat is free.
  const [event] = await sql<{ status: string }[]>`SELECT status FROM events WHERE id = ${eventId}`
  const free = subs.reduce((sum, s) => sum + s.available, 0)
  if (event && (event.status === "available" || event.status === "sold_out") && (event.status === "sold_out") !== (free === 0)) {
    problems.push(`event status ${event.status} with ${free} seats free`)
  }
  return problems
}
