// The batch step's Redis side, after the PostgreSQL commit: the seat bits and counters the
// next batches decide from, then the notifications the gateways fan out.
import type Redis from "ioredis"
import { subsectionLabel, type EventMeta, type RedisKeys } from "../shared/redis-keys.ts"
import type { BatchDecisions } from "./decide-batch.ts"
import type { CommittedCounts } from "./batch-writes.ts"
import { eventCounts, type BookingUpdatedMessage, type StatusUpdateMessage, type SubsectionCounts } from "../shared/live-messages.ts"

/**
 * Applies a committed batch to Redis in one pipeline: changed seat bits (or whole maps), free
 * counters, the `processing` records of decided bookings, and event statuses that changed.
 */
export async function applyToRedis(redis: Redis, keys: RedisKeys, decisions: BatchDecisions, committed: CommittedCounts): Promise<void> {
  const pipeline = redis.pipeline()
  for (const sub of decisions.subsections.values()) {
    const { eventId, section, subsection } = sub.grid
    const key = keys.seats(eventId, section, subsection)
    if (sub.rewrite) {
      pipeline.set(key, Buffer.from(sub.map))
    } else if (sub.changes.size > 0) {
      // BITFIELD SET is idempotent, so a replayed batch writes the same bits again.
      const args: (string | number)[] = []
      for (const [index, change] of sub.changes) args.push("SET", "u1", index, change.final === null ? 0 : 1)
      pipeline.call("BITFIELD", key, ...args)
    }
    const stat = committed.stats.get(sub.key)
    if (stat) pipeline.hset(keys.available(eventId), subsectionLabel(section, subsection), stat.available)
  }
  // Replays too: a crash after the PostgreSQL commit leaves decided bookings' `processing` records behind.
  for (const id of decisions.bookings.keys()) pipeline.del(keys.pendingBooking(id))
  for (const [eventId, event] of committed.events) {
    if (!event.statusChanged) continue
    const raw = await redis.get(keys.eventMeta(eventId))
    if (raw) pipeline.set(keys.eventMeta(eventId), JSON.stringify({ ...(JSON.parse(raw) as EventMeta), status: event.status }))
    pipeline.publish(keys.metaChannel, String(eventId))
  }
  for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error
}

/** Publishes each outcome to its buyer's channel and one coalesced count update per event of the batch. */
export async function publishOutcomes(redis: Redis, keys: RedisKeys, decisions: BatchDecisions, committed: CommittedCounts): Promise<void> {
  const pipeline = redis.pipeline()
  for (const o of decisions.outcomes) {
    const { replayed: _, buyer_id, ...body } = o
    const update: BookingUpdatedMessage = { event_type: "booking_updated", ...body }
    pipeline.publish(keys.userChannel(buyer_id), JSON.stringify(update))
  }
  for (const [eventId, totals] of committed.events) {
    const subsectionStats: Record<string, SubsectionCounts> = {}
    for (const [key, stat] of committed.stats) {
      const grid = decisions.subsections.get(key)?.grid
      if (grid && grid.eventId === eventId) subsectionStats[subsectionLabel(grid.section, grid.subsection)] = { price: grid.price, ...stat }
    }
    const counts: StatusUpdateMessage = {
      event_type: "status_update",
      event_id: eventId,
      status: totals.status,
      stats: eventCounts(totals),
      subsection_stats: subsectionStats,
    }
    pipeline.publish(keys.eventChannel(eventId), JSON.stringify(counts))
  }
  await pipeline.exec()
}
