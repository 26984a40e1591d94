import type Redis from "ioredis"
import type { Sql } from "postgres"
import { commandKey } from "../shared/kafka.ts"
import { subsectionLabel, type EventMeta, type RedisKeys } from "../shared/redis-keys.ts"
import { newSeatMap, seatIndex, setTaken } from "../shared/seat-finder.ts"

/**
 * One subsection's fixed shape and its ticket ids by seat index (bit index); none of it
 * changes after the event is created, so it is loaded once per process.
 */
export type Grid = {
  eventId: number
  section: string
  subsection: number
  rows: number
  cols: number
  price: number
  /** The event's hold time: a booking decided pending_payment holds its seats this long. */
  holdSeconds: number
  ticketIds: Float64Array
  /** The event's creation time, which tells a re-created event (same id, new seats) from the cached one. */
  createdAt: string
}

/** The part of a grid that seat maps need. */
export type Shape = Omit<Grid, "ticketIds" | "createdAt" | "holdSeconds">

/** A subsection identified the way the command key names it. */
export type SubsectionRef = { eventId: number; section: string; subsection: number }

/** Loads the grids of subsections not yet in `cache` (one query) and returns every asked one that exists. */
export async function loadGrids(sql: Sql, cache: Map<string, Grid>, refs: SubsectionRef[]): Promise<Map<string, Grid>> {
  const missing = refs.filter((r) => !cache.has(commandKey(r.eventId, r.section, r.subsection)))
  if (missing.length > 0) {
    const rows = await sql<{ event_id: string; section: string; subsection: number; rows: number; cols: number; price: number; hold_seconds: number; created_at: Date }[]>`
      SELECT s.event_id, s.section, s.subsection, s.rows, s.cols, s.price, e.hold_seconds, e.created_at
      FROM subsection_stats s JOIN events e ON e.id = s.event_id
      JOIN unnest(${missing.map((r) => r.eventId)}::bigint[], ${missing.map((r) => r.section)}::text[],
                  ${missing.map((r) => r.subsection)}::int[]) AS v(event_id, section, subsection)
        ON s.event_id = v.event_id AND s.section = v.section AND s.subsection = v.subsection`
    const loaded = new Map<string, Grid>()
    for (const r of rows) {
      const grid = {
        eventId: Number(r.event_id),
        section: r.section,
        subsection: r.subsection,
        rows: r.rows,
        cols: r.cols,
        price: r.price,
        holdSeconds: r.hold_seconds,
        ticketIds: new Float64Array(r.rows * r.cols),
        createdAt: r.created_at.toISOString(),
      }
      loaded.set(commandKey(grid.eventId, grid.section, grid.subsection), grid)
    }
    if (loaded.size > 0) {
      // Writes then address tickets by primary key, the cheapest guarded update PostgreSQL has.
      const grids = [...loaded.values()]
      const tickets = sql<{ id: string; event_id: string; section: string; subsection: number; row: number; seat: number }[]>`
        SELECT t.id, t.event_id, t.section, t.subsection, t.row, t.seat
        FROM tickets t
        JOIN unnest(${grids.map((g) => g.eventId)}::bigint[], ${grids.map((g) => g.section)}::text[],
                    ${grids.map((g) => g.subsection)}::int[]) AS v(event_id, section, subsection)
          ON t.event_id = v.event_id AND t.section = v.section AND t.subsection = v.subsection`.cursor(20_000)
      for await (const batch of tickets) {
        for (const t of batch) {
          const grid = loaded.get(commandKey(Number(t.event_id), t.section, t.subsection))!
          grid.ticketIds[seatIndex(t.row, t.seat, grid.cols)] = Number(t.id)
        }
      }
      for (const [key, grid] of loaded) cache.set(key, grid)
    }
  }
  const found = new Map<string, Grid>()
  for (const r of refs) {
    const key = commandKey(r.eventId, r.section, r.subsection)
    const grid = cache.get(key)
    if (grid) found.set(key, grid)
  }
  return found
}

/**
 * Drops cached grids of events re-created since they were loaded (seed --reset keeps the id
 * but changes the seats), judged by the creation time in each event's Redis meta.
 */
export async function forgetRecreatedEvents(redis: Redis, keys: RedisKeys, cache: Map<string, Grid>, verified: Set<string>, eventIds: number[]) {
  const loadedAt = new Map<number, string>()
  for (const grid of cache.values()) if (eventIds.includes(grid.eventId)) loadedAt.set(grid.eventId, grid.createdAt)
  if (loadedAt.size === 0) return
  const ids = [...loadedAt.keys()]
  const metas = await redis.mget(...ids.map((id) => keys.eventMeta(id)))
  const recreated = new Set(ids.filter((id, i) => metas[i] && (JSON.parse(metas[i]!) as EventMeta).created_at !== loadedAt.get(id)))
  if (recreated.size === 0) return
  for (const [key, grid] of cache) {
    if (!recreated.has(grid.eventId)) continue
    cache.delete(key)
    verified.delete(key)
  }
}

/** Reads seat maps from Redis in one round trip, padded to the grid's full size. */
export async function readSeatMaps(redis: Redis, keys: RedisKeys, grids: Shape[]): Promise<Uint8Array[]> {
  if (grids.length === 0) return []
  const pipeline = redis.pipeline()
  for (const g of grids) pipeline.getBuffer(keys.seats(g.eventId, g.section, g.subsection))
  const results = (await pipeline.exec()) ?? []
  return grids.map((g, i) => {
    const [error, value] = results[i] ?? [new Error("no reply")]
    if (error) throw error
    const map = newSeatMap(g.rows, g.cols)
    if (value) map.set((value as Buffer).subarray(0, map.length))
    return map
  })
}

/** Builds seat maps from PostgreSQL, the source of truth, with the committed free counts. */
export async function buildSeatMapsFromDb(sql: Sql, grids: Shape[]): Promise<{ maps: Uint8Array[]; available: number[] }> {
  if (grids.length === 0) return { maps: [], available: [] }
  const maps = grids.map((g) => newSeatMap(g.rows, g.cols))
  const index = new Map(grids.map((g, i) => [commandKey(g.eventId, g.section, g.subsection), i]))
  const eventIds = grids.map((g) => g.eventId)
  const sections = grids.map((g) => g.section)
  const subsections = grids.map((g) => g.subsection)
  const taken = sql<{ event_id: string; section: string; subsection: number; row: number; seat: number }[]>`
    SELECT t.event_id, t.section, t.subsection, t.row, t.seat
    FROM tickets t
    JOIN unnest(${eventIds}::bigint[], ${sections}::text[], ${subsections}::int[]) AS v(event_id, section, subsection)
      ON t.event_id = v.event_id AND t.section = v.section AND t.subsection = v.subsection
    WHERE t.status <> 'available'`.cursor(10_000)
  for await (const rows of taken) {
    for (const r of rows) {
      const i = index.get(commandKey(Number(r.event_id), r.section, r.subsection))!
      setTaken(maps[i]!, seatIndex(r.row, r.seat, grids[i]!.cols), true)
    }
  }
  const stats = await sql<{ event_id: string; section: string; subsection: number; available: number }[]>`
    SELECT s.event_id, s.section, s.subsection, s.available
    FROM subsection_stats s
    JOIN unnest(${eventIds}::bigint[], ${sections}::text[], ${subsections}::int[]) AS v(event_id, section, subsection)
      ON s.event_id = v.event_id AND s.section = v.section AND s.subsection = v.subsection`
  const available = grids.map(() => 0)
  for (const s of stats) available[index.get(commandKey(Number(s.event_id), s.section, s.subsection))!] = s.available
  return { maps, available }
}

/** Writes whole seat maps and their free counters to Redis (idempotent). */
export async function writeSeatMaps(redis: Redis, keys: RedisKeys, grids: Shape[], maps: Uint8Array[], available: number[]): Promise<void> {
  if (grids.length === 0) return
  const pipeline = redis.pipeline()
  grids.forEach((g, i) => {
    pipeline.set(keys.seats(g.eventId, g.section, g.subsection), Buffer.from(maps[i]!))
    pipeline.hset(keys.available(g.eventId), subsectionLabel(g.section, g.subsection), available[i]!)
  })
  for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error
}

/**
 * Rebuilds one event's Redis seat maps and counters from PostgreSQL, so a Redis that
 * lost writes cannot make a taken seat look free. Returns the number of subsections.
 */
export async function reconcileEvent(deps: { sql: Sql; redis: Redis; keys: RedisKeys }, eventId: number): Promise<number> {
  const rows = await deps.sql<{ section: string; subsection: number; rows: number; cols: number; price: number }[]>`
    SELECT section, subsection, rows, cols, price FROM subsection_stats WHERE event_id = ${eventId} ORDER BY section, subsection`
  const grids: Shape[] = rows.map((r) => ({ eventId, ...r }))
  const { maps, available } = await buildSeatMapsFromDb(deps.sql, grids)
  await writeSeatMaps(deps.redis, deps.keys, grids, maps, available)
  return grids.length
}
