import type Redis from "ioredis"
import type { Sql } from "postgres"
import type { Command } from "../shared/commands.ts"
import { commandKey } from "../shared/kafka.ts"
import type { Logger } from "../shared/log.ts"
import type { RedisKeys } from "../shared/redis-keys.ts"
import { seatIndex, type SeatFinder } from "../shared/seat-finder.ts"
import { applyToRedis, publishOutcomes } from "./batch-redis.ts"
import { selectBookings, selectKnownBuyers, selectTicketHolders, type BookingRow } from "./batch-reads.ts"
import { HoldRaceError, StaleSeatMapError, writeBatch } from "./batch-writes.ts"
import { decideBatch, rejectUndecidable, writesOf, type BatchResult, type LoadedSeatMap, type RecordedBooking } from "./decide-batch.ts"
import { buildSeatMapsFromDb, forgetRecreatedEvents, loadGrids, readSeatMaps, type Grid } from "./seat-state.ts"
import { parseSeatPosition } from "../shared/tickets.ts"

/** What the batch step works with. */
export type BatchStepDeps = { sql: Sql; redis: Redis; keys: RedisKeys; log: Logger; findSeats: SeatFinder }

/** The phases of the batch step, in order. */
export type BatchPhase = "load" | "decide" | "pg-write" | "redis-apply" | "publish"

/** Marks where each phase of one attempt starts, and where the attempt ends. */
export type BatchPhases = { next(phase: BatchPhase): void; end(error?: unknown): void }

/** The reserver's batch step, with the caches it keeps between batches. */
export type BatchStep = {
  /**
   * Decides and records `commands` (one partition's, or several partitions' merged), in message
   * order; `phases`, when tracing, is called at the start of each attempt to mark its phases.
   * Safe to run again on the same commands: it lands on the same result.
   */
  apply(commands: Command[], phases?: () => BatchPhases): Promise<BatchResult>
  /** Called when this member's partitions are (re)assigned: every seat map is checked against PostgreSQL again on its first touch. */
  forgetOwnership(): void
}

type Loaded = { valid: Command[]; rejected: BatchResult["rejected"]; seatMaps: LoadedSeatMap[]; recorded: RecordedBooking[] }

const refOf = (c: Command) => ({ eventId: c.event_id, section: c.section, subsection: c.subsection })
const keyOf = (c: Command) => commandKey(c.event_id, c.section, c.subsection)
const keyOfGrid = (g: Grid) => commandKey(g.eventId, g.section, g.subsection)

/**
 * Creates the reserver's batch step: load seat maps and replays, decide in memory
 * (decide-batch.ts), write PostgreSQL in one transaction (batch-writes.ts), then apply the
 * bit and counter changes to Redis and publish notifications (batch-redis.ts).
 */
export function createBatchStep(deps: BatchStepDeps): BatchStep {
  const { sql, redis, keys, log, findSeats } = deps
  // Subsection grids, cached for the process's life (they never change).
  const grids = new Map<string, Grid>()
  // Subsections whose Redis seat map this member has checked against PostgreSQL since it last
  // joined the group; the first batch touching any other subsection rebuilds its map from
  // PostgreSQL, so a Redis that lost writes cannot cause a double sale.
  const verified = new Set<string>()

  const load = async (commands: Command[]): Promise<Loaded> => {
    await forgetRecreatedEvents(redis, keys, grids, verified, [...new Set(commands.map((c) => c.event_id))])
    const [found, buyers] = await Promise.all([
      loadGrids(sql, grids, commands.map(refOf)),
      selectKnownBuyers(sql, [...new Set(commands.map((c) => c.buyer_id))]),
    ])
    const { valid, rejected } = rejectUndecidable(commands, found, buyers)
    const touched = [...new Set(valid.map(keyOf))].map((key) => found.get(key)!)
    const fromRedis = touched.filter((g) => verified.has(keyOfGrid(g)))
    const fromDb = touched.filter((g) => !verified.has(keyOfGrid(g)))
    const [redisMaps, dbMaps, bookings] = await Promise.all([
      readSeatMaps(redis, keys, fromRedis),
      buildSeatMapsFromDb(sql, fromDb),
      selectBookings(sql, [...new Set(valid.map((c) => c.booking_id))]),
    ])
    const seatMaps = [
      ...fromRedis.map((grid, i) => ({ grid, map: redisMaps[i]!, fromDb: false })),
      ...fromDb.map((grid, i) => ({ grid, map: dbMaps.maps[i]!, fromDb: true })),
    ]
    const keyOfBooking = new Map(valid.map((c) => [c.booking_id, keyOf(c)]))
    return { valid, rejected, seatMaps, recorded: await loadRecordedSeats(bookings, keyOfBooking, found) }
  }

  // The tickets at the seats each recorded booking names, with who holds them now.
  const loadRecordedSeats = async (rows: BookingRow[], keyOfBooking: Map<string, string>, found: Map<string, Grid>): Promise<RecordedBooking[]> => {
    const seats = rows.map((b) => {
      const grid = found.get(keyOfBooking.get(b.id)!)!
      return b.seat_positions.map((p) => {
        const [row, seat] = parseSeatPosition(p)!
        const index = seatIndex(row, seat, grid.cols)
        return { index, ticketId: grid.ticketIds[index]! }
      })
    })
    const holders = await selectTicketHolders(sql, seats.flat().map((s) => s.ticketId))
    return rows.map((b, i) => ({
      id: b.id,
      buyerId: Number(b.buyer_id),
      status: b.status,
      errorMessage: b.error_message ?? undefined,
      expiresAt: b.expires_at?.toISOString() ?? null,
      due: b.due,
      key: keyOfBooking.get(b.id)!,
      seats: seats[i]!.flatMap(({ index, ticketId }) => {
        const holder = holders.get(ticketId)
        return holder ? [{ index, ...holder }] : []
      }),
    }))
  }

  const attempt = async (commands: Command[], phases?: BatchPhases): Promise<BatchResult> => {
    phases?.next("load")
    const { valid, rejected, seatMaps, recorded } = await load(commands)
    phases?.next("decide")
    const decisions = decideBatch(valid, seatMaps, recorded, findSeats, Date.now())
    phases?.next("pg-write")
    const committed = await writeBatch(sql, writesOf(decisions))
    phases?.next("redis-apply")
    await applyToRedis(redis, keys, decisions, committed)
    phases?.next("publish")
    await publishOutcomes(redis, keys, decisions, committed)
    for (const key of decisions.subsections.keys()) verified.add(key)
    const { outcomes, reserved, failed, released, expired } = decisions
    return { outcomes, rejected, reserved, failed, released, expired }
  }

  return {
    async apply(commands, phases) {
      for (let n = 1; ; n++) {
        const marks = phases?.()
        try {
          const result = await attempt(commands, marks)
          marks?.end()
          return result
        } catch (error) {
          marks?.end(error)
          if (error instanceof HoldRaceError && n < 5) continue
          if (!(error instanceof StaleSeatMapError) || n >= 3) throw error
          log.warn("seat map disagreed with PostgreSQL; rebuilding it", { subsections: error.subsections })
          // The grid goes too: an event re-created under the same id (seed --reset) has new ticket ids.
          for (const key of error.subsections) {
            verified.delete(key)
            grids.delete(key)
          }
        }
      }
    },
    forgetOwnership() {
      verified.clear()
    },
  }
}
