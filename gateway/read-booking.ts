import type Redis from "ioredis"
import type { Sql } from "postgres"
import type { RedisKeys } from "../shared/redis-keys.ts"
import { findBooking, findBookingContext, type BookingRecord } from "./bookings-db.ts"
import type { PendingBooking } from "./create-booking.ts"

/** What reading a booking needs. */
export type ReadBookingDeps = { sql: Sql; redis: Redis; keys: RedisKeys }

/** The `processing` record the gateway keeps in Redis until the reserver decides, or undefined. */
export async function readPendingBooking({ redis, keys }: ReadBookingDeps, id: string): Promise<PendingBooking | undefined> {
  const raw = await redis.get(keys.pendingBooking(id))
  return raw ? (JSON.parse(raw) as PendingBooking) : undefined
}

/** A booking wherever it is now: in PostgreSQL once decided, in Redis as `processing` until then. */
export async function readBooking(deps: ReadBookingDeps, id: string): Promise<BookingRecord | undefined> {
  const decided = await findBooking(deps.sql, id)
  if (decided) return decided
  const pending = await readPendingBooking(deps, id)
  if (!pending) return findBooking(deps.sql, id) // decided between the two reads
  const context = await findBookingContext(deps.sql, pending.event_id, pending.buyer_id)
  if (!context) return undefined
  const { cancel_requested: _, ...fields } = pending
  return { ...fields, ...context, status: "processing", paid_at: null, expires_at: null, tickets: [] }
}
