// Test fixtures for the reserver's integration tests: events written straight to a test
// database (the gateway's event creation is tested on its own side).
import type Redis from "ioredis"
import type { Sql } from "postgres"
import { releaseCommand, type ExpireCommand, type ReleaseCommand, type ReserveCommand } from "../shared/commands.ts"
import type { RedisKeys } from "../shared/redis-keys.ts"
import { reconcileEvent } from "../reserver/seat-state.ts"
import { insertSeats } from "../gateway/events-db.ts"

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
    VALUES ('Test', 'Test event', ${seller!.id}, 'Hall', ${sql.json(config)}, 'available') RETURNING id, created_at`
  const eventId = Number(event!.id)
  await sql.begin((tx) => insertSeats(tx, eventId, config))
  // As event creation does: fresh statistics keep the planner on index lookups for tickets.
  await sql`ANALYZE tickets`
  await deps.redis.set(deps.keys.eventMeta(eventId), JSON.stringify({ id: eventId, status: "available", is_active: true, ...config, created_at: event!.created_at.toISOString() }))
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
export const release = (r: ReserveCommand): ReleaseCommand => releaseCommand(r.booking_id, r)

/** The expire command for a reserve's hold. */
export const expire = (r: ReserveCommand): ExpireCommand => ({ ...releaseCommand(r.booking_id, r), type: "expire" })
