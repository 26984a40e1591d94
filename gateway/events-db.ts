import type { Fragment, Sql, TransactionSql } from "postgres"
import type { EventMeta } from "../shared/redis-keys.ts"
import type { SeatingConfig, SectionConfig } from "./seating.ts"
import { eventCounts, type EventCounts, type SubsectionCounts } from "../shared/live-messages.ts"
import type { SeatCounts, Ticket } from "../shared/tickets.ts"
import type { RoomSettings } from "./waiting-room/admission.ts"

/** Seat counts of an event; `total` is the sum of the other three. */
export type EventStats = EventCounts

/** An event as the API answers it. */
export type EventJson = {
  id: number
  name: string
  description: string
  seller_id: number
  venue_name: string
  seating_config: SeatingConfig
  is_active: boolean
  status: EventMeta["status"]
  stats: EventStats
  /** How long a pending_payment booking of this event holds its seats. */
  hold_seconds: number
  /** The waiting room's settings, or null when the event has none. */
  waiting_room: RoomSettings | null
}

/** One subsection's price and counts, as listed in an event's `sections`. */
export type SectionJson = { event_id: number; section: string; subsection: number } & SubsectionCounts

/** One seat of a subsection's seat list. */
export type TicketJson = Ticket & { event_id: number }

/** A subsection's counts and every one of its seats, ordered by row then seat. */
export type SeatListJson = SectionJson & { total: number; tickets: TicketJson[] }

type EventRow = Omit<EventJson, "id" | "seller_id" | "stats"> & SeatCounts & { id: string; seller_id: string }

// bigint ids arrive as strings; the API answers numbers.
const toEvent = (row: EventRow): EventJson => ({
  id: Number(row.id),
  name: row.name,
  description: row.description,
  seller_id: Number(row.seller_id),
  venue_name: row.venue_name,
  seating_config: row.seating_config,
  is_active: row.is_active,
  status: row.status,
  stats: eventCounts(row),
  hold_seconds: row.hold_seconds,
  waiting_room: row.waiting_room ?? null,
})

const selectEvents = async (sql: Sql, where: Fragment): Promise<EventJson[]> => {
  const rows = await sql<EventRow[]>`
    SELECT e.id, e.name, e.description, e.seller_id, e.venue_name, e.seating_config, e.is_active, e.status, e.hold_seconds, e.waiting_room,
           coalesce(s.available, 0)::int AS available, coalesce(s.reserved, 0)::int AS reserved, coalesce(s.sold, 0)::int AS sold
    FROM events e
    LEFT JOIN LATERAL (
      SELECT sum(available) AS available, sum(reserved) AS reserved, sum(sold) AS sold
      FROM subsection_stats WHERE event_id = e.id
    ) s ON true
    ${where}
    ORDER BY e.id`
  return rows.map(toEvent)
}

/** Events anyone may browse: active and on sale. */
export const listPublicEvents = (sql: Sql) => selectEvents(sql, sql`WHERE e.is_active AND e.status = 'available'`)

/** All of one seller's events, whatever their status. */
export const listSellerEvents = (sql: Sql, sellerId: number) => selectEvents(sql, sql`WHERE e.seller_id = ${sellerId}`)

/** One event by id, any status. */
export const findEvent = async (sql: Sql, id: number): Promise<EventJson | undefined> =>
  (await selectEvents(sql, sql`WHERE e.id = ${id}`))[0]

/** Tells whether an event with this id exists. */
export const eventExists = async (sql: Sql, id: number): Promise<boolean> =>
  (await sql`SELECT 1 FROM events WHERE id = ${id}`).length > 0

/** An event's subsections ordered by section name (bytewise, whatever the server's locale) then number. */
export async function listSections(sql: Sql, eventId: number): Promise<SectionJson[]> {
  const rows = await sql<Omit<SectionJson, "event_id">[]>`
    SELECT section, subsection, price, available, reserved, sold
    FROM subsection_stats WHERE event_id = ${eventId}
    ORDER BY section COLLATE "C", subsection`
  return rows.map((row) => ({ event_id: eventId, ...row }))
}

/** A subsection's counts and seats, or undefined when the event has no such subsection. */
export async function findSeatList(sql: Sql, eventId: number, section: string, subsection: number): Promise<SeatListJson | undefined> {
  const [[stats], tickets] = await Promise.all([
    sql<SubsectionCounts[]>`
      SELECT price, available, reserved, sold FROM subsection_stats
      WHERE event_id = ${eventId} AND section = ${section} AND subsection = ${subsection}`,
    sql<{ id: string; row: number; seat: number; price: number; status: string }[]>`
      SELECT id, row, seat, price, status FROM tickets
      WHERE event_id = ${eventId} AND section = ${section} AND subsection = ${subsection}
      ORDER BY row, seat`,
  ])
  if (stats === undefined) return undefined
  return {
    event_id: eventId,
    section,
    subsection,
    price: stats.price,
    total: stats.available + stats.reserved + stats.sold,
    available: stats.available,
    reserved: stats.reserved,
    sold: stats.sold,
    tickets: tickets.map((t) => ({ id: Number(t.id), event_id: eventId, section, subsection, row: t.row, seat: t.seat, price: t.price, status: t.status })),
  }
}

/**
 * Writes an event's seats: one ticket per seat of every subsection, and each subsection's
 * counts, all available.
 */
export async function insertSeats(tx: TransactionSql, eventId: number, config: { rows: number; cols: number; sections: SectionConfig[] }): Promise<void> {
  const { rows, cols, sections } = config
  const names = sections.map((s) => s.name)
  const prices = sections.map((s) => s.price)
  const counts = sections.map((s) => s.subsections)
  // One statement for every seat: a million-seat event costs one round trip, not a million.
  await tx`
    INSERT INTO tickets (event_id, section, subsection, row, seat, price)
    SELECT ${eventId}, s.name, n, r, c, s.price
    FROM unnest(${names}::text[], ${prices}::int[], ${counts}::int[]) AS s(name, price, subsections)
    CROSS JOIN LATERAL generate_series(1, s.subsections) AS n
    CROSS JOIN generate_series(1, ${rows}::int) AS r
    CROSS JOIN generate_series(1, ${cols}::int) AS c`
  await tx`
    INSERT INTO subsection_stats (event_id, section, subsection, price, rows, cols, available)
    SELECT ${eventId}, s.name, n, s.price, ${rows}, ${cols}, ${rows * cols}
    FROM unnest(${names}::text[], ${prices}::int[], ${counts}::int[]) AS s(name, price, subsections)
    CROSS JOIN LATERAL generate_series(1, s.subsections) AS n`
}
