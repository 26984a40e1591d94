// Test fixtures for the reserver's integration tests: events written straight to a test
// database (the gateway's event creation is tested on its own side).
import type Redis from "ioredis"
import type { Sql } from "postgres"
import type { ReleaseCommand, ReserveCommand } from "../shared/commands.ts"
import type { RedisKeys } from "../shared/redis-keys.ts"
import { reconcileEvent } from "./seat-state.ts"

/** Inserts a seller, a buyer and an available event of `sections` × `subsections` subsections of rows × cols seats. */
export async function insertTestEvent(
  deps: { sql: Sql; redis: Redis; keys: RedisKeys },
  shape: { rows: number; cols: number; sections: string[]; subsections: number; price?: number },
) {
  const { sql } = deps
  const price = shape.price ?? 1000
  const [seller] = await sql`INSERT INTO users (email, hashed_password, name, role)
    VALUES (${`s${crypto.randomUUID()}@t.com`}, 'x', 'seller', 'seller') RETURNING id`
  const buyers = await sql`INSERT INTO users (email, hashed_password, name, role)
    SELECT 'b' || g || '-' || ${crypto.randomUUID()} || '@t.com', 'x', 'buyer ' || g, 'buyer' FROM generate_series(1, 5) g RETURNING id`
  const config = { rows: shape.rows, cols: shape.cols, sections: shape.sections.map((name) => ({ name, price, subsections: shape.subsections })) }
  const [event] = await sql`INSERT INTO events (name, description, seller_id, venue_name, seating_config, status)
    VALUES ('Test', 'Test event', ${seller!.id}, 'Hall', ${sql.json(config)}, 'available') RETURNING id`
  const eventId = Number(event!.id)
  await sql`INSERT INTO tickets (event_id, section, subsection, row, seat, price)
    SELECT ${eventId}, s, n, r, c, ${price}
    FROM unnest(${shape.sections}::text[]) s, generate_series(1, ${shape.subsections}) n,
         generate_series(1, ${shape.rows}) r, generate_series(1, ${shape.cols}) c`
  await sql`INSERT INTO subsection_stats (event_id, section, subsection, price, rows, cols, available)
    SELECT ${eventId}, s, n, ${price}, ${shape.rows}, ${shape.cols}, ${shape.rows * shape.cols}
    FROM unnest(${shape.sections}::text[]) s, generate_series(1, ${shape.subsections}) n`
  // As event creation does: fresh statistics keep the planner on index lookups for tickets.
  await sql`ANALYZE tickets`
  await deps.redis.set(deps.keys.eventMeta(eventId), JSON.stringify({ id: eventId, status: "available", is_active: true, ...config }))
  await reconcileEvent(deps, eventId)
  return { eventId, sellerId: Number(seller!.id), buyerIds: buyers.map((b) => Number(b.id)), price }
}

/** A reserve command with defaults. */
export const reserve = (fields: Partial<ReserveCommand> & Pick<ReserveCommand, "event_id" | "buyer_id">): ReserveCommand => ({
  type: "reserve",
  booking_id: Bun.randomUUIDv7(),
  section: "A",
  subsection: 1,
  quantity: fields.seats?.length || 1,
  mode: fields.seats?.length ? "manual" : "best_available",
  seats: [],
  price: 1000,
  created_at: new Date().toISOString(),
  ...fields,
})

/** The release command for a reserve. */
export const release = (r: ReserveCommand): ReleaseCommand => ({
  type: "release",
  booking_id: r.booking_id,
  buyer_id: r.buyer_id,
  event_id: r.event_id,
  section: r.section,
  subsection: r.subsection,
})

/** Everything that must agree after any sequence of batches: PostgreSQL tickets, bookings, stats, Redis bits and counters. */
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
  return problems
}
