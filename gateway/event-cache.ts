import type Redis from "ioredis"
import type { Sql } from "postgres"
import type { EventMeta, RedisKeys } from "../shared/redis-keys.ts"
import type { RoomConfig } from "./waiting-room/admission.ts"
import { findRoom } from "./waiting-room/rooms-db.ts"

/**
 * In-process cache of each event's seating map and sale status, so validating a booking
 * reads neither Redis nor PostgreSQL. Entries are dropped when the meta channel says an
 * event changed, and expire after `ttlMs` in case a message was missed.
 */
export function createEventCache(deps: { sql: Sql; redis: Redis; keys: RedisKeys }, ttlMs = 2_000, countsMs = 100) {
  const entries = new Map<number, { meta: EventMeta | null; room: RoomConfig | null; loadedAt: number; sections: Map<string, EventMeta["sections"][number]> }>()
  const loading = new Map<number, Promise<[EventMeta | null, RoomConfig | null]>>()

  // The waiting room's settings, kept beside the meta (which the reserver rewrites) rather than in it.
  // Redis holds a copy, null included; PostgreSQL answers when it has none.
  const loadRoom = async (eventId: number): Promise<RoomConfig | null> => {
    const raw = await deps.redis.get(deps.keys.roomConfig(eventId))
    if (raw !== null) return JSON.parse(raw) as RoomConfig | null
    const found = await findRoom(deps.sql, eventId)
    if (found) await deps.redis.set(deps.keys.roomConfig(eventId), JSON.stringify(found.room), "NX")
    return found?.room ?? null
  }

  // Redis holds the meta written at event creation; PostgreSQL answers when Redis lost it.
  const load = async (eventId: number): Promise<EventMeta | null> => {
    const raw = await deps.redis.get(deps.keys.eventMeta(eventId))
    if (raw) return JSON.parse(raw) as EventMeta
    const [event] = await deps.sql<{ status: EventMeta["status"]; is_active: boolean; seating_config: { rows: number; cols: number; sections: EventMeta["sections"] }; created_at: Date }[]>`
      SELECT status, is_active, seating_config, created_at FROM events WHERE id = ${eventId}`
    if (!event) return null
    const { rows, cols, sections } = event.seating_config
    const meta: EventMeta = {
      id: eventId,
      status: event.status,
      is_active: event.is_active,
      rows,
      cols,
      sections: sections.map(({ name, price, subsections }) => ({ name, price, subsections })),
      created_at: event.created_at.toISOString(),
    }
    if (meta.status !== "draft") await deps.redis.set(deps.keys.eventMeta(eventId), JSON.stringify(meta))
    return meta
  }

  const get = async (eventId: number) => {
    const now = Date.now()
    const hit = entries.get(eventId)
    if (hit && now - hit.loadedAt < ttlMs) return hit
    let pending = loading.get(eventId)
    if (!pending) {
      pending = Promise.all([load(eventId), loadRoom(eventId)]).finally(() => loading.delete(eventId))
      loading.set(eventId, pending)
    }
    const [meta, room] = await pending
    const entry = { meta, room, loadedAt: now, sections: new Map(meta?.sections.map((s) => [s.name, s]) ?? []) }
    entries.set(eventId, entry)
    return entry
  }

  // Free-seat counters per event, read with one HGETALL at most every `countsMs` while the
  // event is being booked; requests in between use the last copy instead of a Redis round trip.
  const counts = new Map<number, { free: Map<string, number>; readAt: number; reading?: Promise<void> }>()
  const readCounts = (eventId: number, entry: { free: Map<string, number>; readAt: number; reading?: Promise<void> }) => {
    entry.reading ??= deps.redis
      .hgetall(deps.keys.available(eventId))
      .then((all) => {
        entry.free = new Map(Object.entries(all).map(([label, n]) => [label, Number(n)]))
        entry.readAt = performance.now()
      })
      .finally(() => (entry.reading = undefined))
    return entry.reading
  }

  return {
    /**
     * Committed free seats of a subsection, at most `countsMs` old (null when unknown). A stale
     * count is only a hint: callers confirm a shortage with `freeSeatsNow` before refusing.
     */
    async freeSeats(eventId: number, label: string): Promise<number | null> {
      let entry = counts.get(eventId)
      if (!entry) {
        counts.set(eventId, (entry = { free: new Map(), readAt: 0 }))
        await readCounts(eventId, entry)
      } else if (performance.now() - entry.readAt > countsMs) {
        void readCounts(eventId, entry).catch(() => {})
      }
      return entry.free.get(label) ?? null
    },
    /** Committed free seats of a subsection read from Redis now (null when unknown). */
    async freeSeatsNow(eventId: number, label: string): Promise<number | null> {
      const free = await deps.redis.hget(deps.keys.available(eventId), label)
      return free === null ? null : Number(free)
    },
    /** The event's meta, or null when it does not exist. */
    async meta(eventId: number): Promise<EventMeta | null> {
      return (await get(eventId)).meta
    },
    /** The event's waiting-room settings (null: none, or no such event). */
    async room(eventId: number): Promise<RoomConfig | null> {
      return (await get(eventId)).room
    },
    /** The section's price and subsection count, or undefined when the event has no such section. */
    async section(eventId: number, name: string) {
      return (await get(eventId)).sections.get(name)
    },
    /** Forgets an event so the next read loads it again. */
    invalidate(eventId: number) {
      entries.delete(eventId)
    },
  }
}

export type EventCache = ReturnType<typeof createEventCache>
