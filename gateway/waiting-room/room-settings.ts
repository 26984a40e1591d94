// The seller's side of the waiting room: turn it on, change it, turn it off.
import type Redis from "ioredis"
import type { Sql } from "postgres"
import { AppError } from "../../shared/errors.ts"
import type { Logger } from "../../shared/log.ts"
import type { RedisKeys } from "../../shared/redis-keys.ts"
import { findEvent, type EventJson } from "../events-db.ts"
import type { RoomConfig, RoomSettings } from "./admission.ts"
import { clearRoom, findRoom, saveRoom } from "./rooms-db.ts"
import { createRoomStore } from "./room-store.ts"

/** What changing a room writes to. */
export type RoomSettingsDeps = { sql: Sql; redis: Redis; keys: RedisKeys; log: Logger }

/**
 * Puts a room's settings (as PostgreSQL now holds them) into Redis: the schedule at the new rate, the
 * cached copy, and a note on the meta channel so that every gateway drops its cached event. A room
 * turned off leaves its queue behind for nobody; it is removed.
 */
export async function announceRoom(deps: RoomSettingsDeps, eventId: number, room: RoomConfig | null, previous: RoomConfig | null = null): Promise<void> {
  const store = createRoomStore(deps.redis, deps.keys)
  if (room) await store.reschedule(eventId, room)
  await store.saveConfig(eventId, room)
  await deps.redis.publish(deps.keys.metaChannel, String(eventId))
  if (!room && previous) await store.drop(eventId, previous.epoch).catch((error: unknown) => deps.log.warn("could not remove a closed waiting room", { error, eventId }))
}

/** Turns an event's room on or changes it (`settings`), or turns it off (null); answers the event JSON. */
export async function changeRoom(deps: RoomSettingsDeps, sellerId: number, eventId: number, settings: RoomSettings | null): Promise<EventJson> {
  const found = await findRoom(deps.sql, eventId)
  if (!found) throw new AppError(404, `Event not found: ${eventId}`)
  if (found.sellerId !== sellerId) throw new AppError(403, "Only the event's seller can change its waiting room")
  // Removed first: should anything below fail, gateways read the settings from PostgreSQL instead of a stale copy.
  await deps.redis.del(deps.keys.roomConfig(eventId))
  const room = settings ? ((await saveRoom(deps.sql, eventId, sellerId, settings)) ?? null) : null
  if (!settings) await clearRoom(deps.sql, eventId, sellerId)
  await announceRoom(deps, eventId, room, found.room)
  return (await findEvent(deps.sql, eventId))!
}
