import type { Fragment, Sql } from "postgres"
import type { EventMeta } from "../shared/redis-keys.ts"
import type { SeatingConfig } from "./seating.ts"

/** Seat counts of an event; `total` is the sum of the other three. */
export type EventStats = { available: number; reserved: number; sold: number; total: number }

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
}

/** One subsection's price and counts, as listed in an event's `sections`. */
export type SectionJson = { event_id: number; section: string; subsection: number; price: number; available: number; reserved: number; sold: number }

/** One seat of a subsection's seat list. */
export type TicketJson = { id: number; event_id: number; section: string; subsection: number; row: number; seat: number; price: number; status: string }

/** A subsection's counts and every one of its seats, ordered by row then seat. */
export type SeatListJson = SectionJson & { total: number; tickets: TicketJson[] }

type Counts = { available: number; reserved: number; sold: number }
type EventRow = Omit<EventJson, "id" | "seller_id" | "stats"> & Counts & { id: string; seller_id: string }

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
  stats: { available: row.available, reserved: row.reserved, sold: row.sold, total: row.available + row.reserved + row.sold },
})

const selectEvents = async (sql: Sql, where: Fragment): Promise<EventJson[]> => {
  const rows = await sql<EventRow[]>`
    SELECT e.id, e.name, e.description, e.seller_id, e.venue_name, e.seating_config, e.is_active, e.status,
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
    sql<(Counts & { price: number })[]>`
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
