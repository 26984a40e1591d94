// The waiting room's settings on the event row: PostgreSQL is their truth, so they survive restarts
// of every process and a Redis that lost them.
import type { JSONValue, Sql, TransactionSql } from "postgres"
import type { RoomConfig, RoomSettings } from "./admission.ts"

type RoomRow = { seller_id: string; waiting_room: RoomSettings | null; waiting_room_epoch: string }

const toConfig = (row: Pick<RoomRow, "waiting_room" | "waiting_room_epoch">): RoomConfig | null =>
  row.waiting_room && { ...row.waiting_room, epoch: Number(row.waiting_room_epoch) }

/** An event's room settings (null: no room), or undefined when there is no such event. */
export async function findRoom(sql: Sql, eventId: number): Promise<{ sellerId: number; room: RoomConfig | null } | undefined> {
  const [row] = await sql<RoomRow[]>`SELECT seller_id, waiting_room, waiting_room_epoch FROM events WHERE id = ${eventId}`
  return row && { sellerId: Number(row.seller_id), room: toConfig(row) }
}

/**
 * Turns the room on or changes its settings; a room turned on from off gets the next epoch. Returns the
 * new config, or undefined when the event is not this seller's (or does not exist).
 */
export async function saveRoom(sql: Sql | TransactionSql, eventId: number, sellerId: number, settings: RoomSettings): Promise<RoomConfig | undefined> {
  const [row] = await sql<RoomRow[]>`
    UPDATE events SET
      waiting_room_epoch = CASE WHEN waiting_room IS NULL THEN waiting_room_epoch + 1 ELSE waiting_room_epoch END,
      waiting_room = ${sql.json(settings as JSONValue)}
    WHERE id = ${eventId} AND seller_id = ${sellerId}
    RETURNING seller_id, waiting_room, waiting_room_epoch`
  return row ? toConfig(row)! : undefined
}

/** Turns the room off; false when the event is not this seller's (or does not exist). */
export async function clearRoom(sql: Sql, eventId: number, sellerId: number): Promise<boolean> {
  const rows = await sql`UPDATE events SET waiting_room = NULL WHERE id = ${eventId} AND seller_id = ${sellerId} RETURNING id`
  return rows.length > 0
}
