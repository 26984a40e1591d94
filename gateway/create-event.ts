import type Redis from "ioredis"
import type { JSONValue, Sql } from "postgres"
import type { Config } from "../shared/config.ts"
import { ValidationError } from "../shared/errors.ts"
import type { Logger } from "../shared/log.ts"
import { subsectionLabel, type EventMeta, type RedisKeys } from "../shared/redis-keys.ts"
import { newSeatMap } from "../shared/seat-finder.ts"
import { listSubsections, totalSeats, validateSeatingConfig, type Subsection } from "./seating.ts"
import { insertSeats, type EventJson } from "./events-db.ts"
import { parseRoomSettings, type RoomConfig } from "./waiting-room/admission.ts"
import { announceRoom } from "./waiting-room/room-settings.ts"
import { saveRoom } from "./waiting-room/rooms-db.ts"

/** What creating an event writes to. */
export type CreateEventDeps = { sql: Sql; redis: Redis; keys: RedisKeys; log: Logger; config: Pick<Config, "holdSeconds"> }

/** A create-event request body once its types are checked; the seating configuration is validated here. */
export type CreateEventInput = { name: string; description: string; venue_name: string; is_active?: boolean; seating_config: unknown; hold_seconds?: unknown; waiting_room?: unknown }

const requiredTexts = ["name", "description", "venue_name"] as const

// Prices are stored in PostgreSQL integer columns; a larger one must be a 400, not a failed INSERT.
const MAX_PRICE = 2_147_483_647

/**
 * Validates and creates an event: its row, one ticket per seat and the subsection stats in one PostgreSQL
 * transaction, and the seat state in Redis before that transaction commits. Any failure removes
 * everything written, so an event is never visible half-created.
 */
export async function createEvent(deps: CreateEventDeps, sellerId: number, input: CreateEventInput): Promise<EventJson> {
  const { sql, redis, keys, log } = deps
  const seating = validateSeatingConfig(input.seating_config)
  if (!seating.ok) throw new ValidationError([{ field: "body.seating_config", message: seating.message }])
  if (seating.config.sections.some((s) => s.price > MAX_PRICE)) {
    throw new ValidationError([{ field: "body.seating_config", message: `Invalid seating configuration: price must be at most ${MAX_PRICE}` }])
  }
  for (const field of requiredTexts) {
    if (input[field].trim() === "") throw new ValidationError([{ field: `body.${field}`, message: `Event ${field} cannot be empty` }])
  }
  const holdSeconds = input.hold_seconds === undefined ? deps.config.holdSeconds : input.hold_seconds
  if (!isHoldSeconds(holdSeconds)) throw new ValidationError([{ field: "body.hold_seconds", message: "hold_seconds must be between 1 and 86400" }])
  const settings = input.waiting_room == null ? null : parseRoomSettings(input.waiting_room)
  let room: RoomConfig | null = null
  const config = seating.config
  const isActive = input.is_active ?? true
  const { rows, cols, sections } = config
  const subsections = listSubsections(config)
  let seatStateWrittenFor: number | undefined
  let id: number
  try {
    id = await sql.begin(async (tx) => {
      const [event] = await tx<{ id: string; created_at: Date }[]>`
        INSERT INTO events (name, description, seller_id, venue_name, seating_config, is_active, status, hold_seconds)
        VALUES (${input.name}, ${input.description}, ${sellerId}, ${input.venue_name}, ${tx.json(config as JSONValue)}, ${isActive}, 'available', ${holdSeconds})
        RETURNING id, created_at`
      const eventId = Number(event!.id)
      await insertSeats(tx, eventId, config)
      if (settings) room = (await saveRoom(tx, eventId, sellerId, settings))!
      // Written while the transaction is still open: the event only commits once Redis holds its seats.
      seatStateWrittenFor = eventId
      const meta: EventMeta = {
        id: eventId,
        status: "available",
        is_active: isActive,
        rows,
        cols,
        sections: sections.map(({ name, price, subsections }) => ({ name, price, subsections })),
        created_at: event!.created_at.toISOString(),
      }
      await writeSeatState(redis, keys, meta, subsections)
      return eventId
    })
  } catch (error) {
    if (seatStateWrittenFor !== undefined) {
      const written = seatStateKeys(keys, seatStateWrittenFor, subsections)
      await redis.unlink(...written).catch((cleanup: unknown) =>
        log.error("could not remove the Redis keys of a failed event", { error: cleanup, eventId: seatStateWrittenFor, keys: written.length }),
      )
    }
    throw error
  }
  // Fresh statistics keep the reserver's ticket updates on primary-key lookups; a table that
  // just grew by a million rows would otherwise be planned as a sequential scan.
  await sql`ANALYZE tickets`
  if (room) await announceRoom(deps, id, room)
  // Best effort: no gateway can have cached an event that did not exist a moment ago.
  await redis.publish(keys.metaChannel, String(id)).catch((error: unknown) => log.warn("could not announce a new event", { error, eventId: id }))
  const total = totalSeats(config)
  return {
    id,
    name: input.name,
    description: input.description,
    seller_id: sellerId,
    venue_name: input.venue_name,
    seating_config: config,
    is_active: isActive,
    status: "available",
    stats: { available: total, reserved: 0, sold: 0, total },
    hold_seconds: holdSeconds,
    waiting_room: settings,
  }
}

// A hold time in whole seconds, from one second to one day.
const isHoldSeconds = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 1 && (v as number) <= 86_400

const seatStateKeys = (keys: RedisKeys, id: number, subsections: Subsection[]) => [
  ...subsections.map((s) => keys.seats(id, s.section, s.subsection)),
  keys.available(id),
  keys.eventMeta(id),
]

// Writes every subsection's empty seat map, the free-seat counters and the event meta in one MULTI.
// A command failing inside EXEC does not abort the others, so every reply is checked.
async function writeSeatState(redis: Redis, keys: RedisKeys, meta: EventMeta, subsections: Subsection[]) {
  const perSubsection = meta.rows * meta.cols
  const emptyMap = Buffer.from(newSeatMap(meta.rows, meta.cols))
  const multi = redis.multi()
  for (const s of subsections) multi.set(keys.seats(meta.id, s.section, s.subsection), emptyMap)
  const available = Object.fromEntries(subsections.map((s) => [subsectionLabel(s.section, s.subsection), perSubsection]))
  // DEL first: counters left from an earlier life of this event id must not survive beside the new ones.
  multi.del(keys.available(meta.id)).hset(keys.available(meta.id), available).set(keys.eventMeta(meta.id), JSON.stringify(meta))
  const replies = await multi.exec()
  if (replies === null) throw new Error("Redis discarded the transaction writing the event's seat state")
  const failed = replies.find(([error]) => error !== null)
  if (failed !== undefined) throw failed[0]
}
