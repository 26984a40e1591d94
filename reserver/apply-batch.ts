import type Redis from "ioredis"
import type { Sql } from "postgres"
import type { Command, ReserveCommand } from "../shared/commands.ts"
import { commandKey } from "../shared/kafka.ts"
import type { Logger } from "../shared/log.ts"
import { subsectionLabel, type EventMeta, type RedisKeys } from "../shared/redis-keys.ts"
import { isTaken, seatIndex, seatOfIndex, setTaken, type SeatFinder } from "../shared/seat-finder.ts"
import { buildSeatMapsFromDb, forgetRecreatedEvents, loadGrids, readSeatMaps, type Grid } from "./seat-state.ts"

export type BatchDeps = {
  sql: Sql
  redis: Redis
  keys: RedisKeys
  log: Logger
  findSeats: SeatFinder
  /** Subsection grids, cached for the process's life (they never change). */
  grids: Map<string, Grid>
  /**
   * Subsections whose Redis seat map this member has checked against PostgreSQL since it
   * last joined the group; the first batch touching any other subsection rebuilds its map
   * from PostgreSQL, so a Redis that lost writes cannot cause a double sale.
   */
  verified: Set<string>
  /** Tracing on: a span per phase of the batch step; absent, the step runs untraced. */
  phases?: () => BatchPhases
}

/** The phases of the batch step, in order. */
export type BatchPhase = "load" | "decide" | "pg-write" | "redis-apply" | "publish"

/** Marks where each phase of one attempt starts, and where the attempt ends. */
export type BatchPhases = { next(phase: BatchPhase): void; end(error?: unknown): void }

type BookingStatus = "pending_payment" | "failed" | "cancelled" | "completed"

/** One booking's result, as published to its buyer. */
export type BookingOutcome = {
  booking_id: string
  buyer_id: number
  event_id: number
  section: string
  subsection: number
  status: BookingStatus
  tickets: { id: number; section: string; subsection: number; row: number; seat: number; price: number; status: string }[]
  error_message?: string
  replayed: boolean
}

export type BatchResult = {
  outcomes: BookingOutcome[]
  /** Commands that name a subsection that does not exist; they go to the dead-letter topic. */
  rejected: { command: Command; reason: string }[]
  reserved: number
  failed: number
  released: number
}

/** PostgreSQL disagreed with the seat map a decision was based on; the batch is decided again from PostgreSQL. */
export class StaleSeatMapError extends Error {
  override name = "StaleSeatMapError"
  constructor(readonly subsections: string[]) {
    super(`seat map out of date for ${subsections.join(", ")}`)
  }
}

// A ticket's holder before and after the batch: null = free, otherwise a booking id.
type SeatChange = { initial: string | null; final: string | null }

type Sub = {
  key: string
  grid: Grid
  map: Uint8Array
  changes: Map<number, SeatChange>
  /** The whole map goes back to Redis: it was rebuilt from PostgreSQL or corrected by a replay. */
  rewrite: boolean
}

type Booking = {
  id: string
  buyerId: number
  status: BookingStatus
  /** Seats (bit indexes) this booking holds in the reserved state right now. */
  held: number[]
  /** Seats it was given when reserved (kept after a release, for the booking record). */
  chosen: number[]
  isNew: boolean
  cancelExisting: boolean
  command?: ReserveCommand
  errorMessage?: string
  outcome?: BookingOutcome
}

const refOf = (c: Command) => ({ eventId: c.event_id, section: c.section, subsection: c.subsection })

/**
 * The reserver's batch step for the commands of one partition, in message order:
 * load seat maps and replays, decide in memory, write PostgreSQL in one transaction,
 * then apply the bit and counter changes to Redis and publish notifications.
 * Safe to run again on the same commands: it lands on the same result.
 */
export async function applyBatch(deps: BatchDeps, commands: Command[]): Promise<BatchResult> {
  for (let attempt = 1; ; attempt++) {
    const phases = deps.phases?.()
    try {
      const result = await decideAndWrite(deps, commands, phases)
      phases?.end()
      return result
    } catch (error) {
      phases?.end(error)
      if (!(error instanceof StaleSeatMapError) || attempt >= 3) throw error
      deps.log.warn("seat map disagreed with PostgreSQL; rebuilding it", { subsections: error.subsections })
      // The grid goes too: an event re-created under the same id (seed --reset) has new ticket ids.
      for (const key of error.subsections) {
        deps.verified.delete(key)
        deps.grids.delete(key)
      }
    }
  }
}

async function decideAndWrite(deps: BatchDeps, commands: Command[], phases?: BatchPhases): Promise<BatchResult> {
  const { sql, redis, keys } = deps
  const result: BatchResult = { outcomes: [], rejected: [], reserved: 0, failed: 0, released: 0 }

  // 1-2. Grids, seat maps (Redis, or PostgreSQL when not yet verified) and replays.
  phases?.next("load")
  await forgetRecreatedEvents(redis, keys, deps.grids, deps.verified, [...new Set(commands.map((c) => c.event_id))])
  const [grids, buyers] = await Promise.all([
    loadGrids(sql, deps.grids, commands.map(refOf)),
    // A command older than a data reset can name a buyer who no longer exists; rejecting it here
    // keeps it from failing the whole batch's transaction on the foreign key.
    sql<{ id: string }[]>`SELECT id FROM users WHERE id = ANY(${[...new Set(commands.map((c) => c.buyer_id))]}::bigint[])`,
  ])
  const knownBuyers = new Set(buyers.map((b) => Number(b.id)))
  const valid = commands.filter((c) => {
    if (!grids.has(commandKey(c.event_id, c.section, c.subsection))) {
      result.rejected.push({ command: c, reason: `Section ${subsectionLabel(c.section, c.subsection)} of event ${c.event_id} does not exist` })
      return false
    }
    if (!knownBuyers.has(c.buyer_id)) {
      result.rejected.push({ command: c, reason: `Buyer ${c.buyer_id} does not exist` })
      return false
    }
    return true
  })
  const touched = [...new Set(valid.map((c) => commandKey(c.event_id, c.section, c.subsection)))].map((k) => grids.get(k)!)
  const fromRedis = touched.filter((g) => deps.verified.has(commandKey(g.eventId, g.section, g.subsection)))
  const fromDb = touched.filter((g) => !deps.verified.has(commandKey(g.eventId, g.section, g.subsection)))
  const ids = [...new Set(valid.map((c) => c.booking_id))]
  const [redisMaps, dbMaps, existing] = await Promise.all([
    readSeatMaps(redis, keys, fromRedis),
    buildSeatMapsFromDb(sql, fromDb),
    sql<{ id: string; buyer_id: string; status: BookingStatus; seat_positions: string[]; error_message: string | null }[]>`
      SELECT id, buyer_id, status, seat_positions, error_message FROM bookings WHERE id = ANY(${ids}::uuid[])`,
  ])
  const subs = new Map<string, Sub>()
  fromRedis.forEach((g, i) => addSub(subs, g, redisMaps[i]!, false))
  fromDb.forEach((g, i) => addSub(subs, g, dbMaps.maps[i]!, true))
  const bookings = await loadExistingBookings(sql, existing, new Map(valid.map((c) => [c.booking_id, subs.get(commandKey(c.event_id, c.section, c.subsection))!])))

  // 3. Decide in memory, in message order.
  phases?.next("decide")
  for (const command of valid) {
    const sub = subs.get(commandKey(command.event_id, command.section, command.subsection))!
    if (command.type === "reserve") decideReserve(deps, sub, bookings, command, result)
    else decideRelease(sub, bookings, command.booking_id, result)
  }

  // 4. One transaction; guards make a stale seat map an error instead of a double sale.
  phases?.next("pg-write")
  const written = await writeOutcomes(sql, subs, bookings)

  // 5. Redis: bit changes, counters, event status; then 6. notifications.
  phases?.next("redis-apply")
  await applyToRedis(deps, subs, bookings, written)
  phases?.next("publish")
  const reported = new Set<string>()
  for (const command of valid) {
    const booking = bookings.get(command.booking_id)
    if (!booking?.outcome || reported.has(booking.id)) continue
    reported.add(booking.id)
    result.outcomes.push(finaliseOutcome(booking, subs.get(commandKey(command.event_id, command.section, command.subsection))!))
  }
  await publish(deps, result.outcomes, written)
  for (const sub of subs.values()) deps.verified.add(sub.key)
  return result
}

function addSub(subs: Map<string, Sub>, grid: Grid, map: Uint8Array, rewrite: boolean) {
  const key = commandKey(grid.eventId, grid.section, grid.subsection)
  subs.set(key, { key, grid, map, changes: new Map(), rewrite })
}

// Sets a bit to what PostgreSQL says; a bit that Redis had wrong sends the whole map back.
function correctSeat(sub: Sub, index: number, taken: boolean) {
  if (isTaken(sub.map, index) === taken) return
  setTaken(sub.map, index, taken)
  sub.rewrite = true
}

/**
 * Bookings of this batch that PostgreSQL already has (a replay, or the reserve before a
 * release). The tickets at their recorded seats say which seats each still holds, and
 * set those seats' bits to what PostgreSQL says: after a crash between the PostgreSQL
 * commit and the Redis write, Redis may be behind for exactly these seats.
 */
async function loadExistingBookings(
  sql: Sql,
  existing: { id: string; buyer_id: string; status: BookingStatus; seat_positions: string[]; error_message: string | null }[],
  subOfBooking: Map<string, Sub>,
): Promise<Map<string, Booking>> {
  const bookings = new Map<string, Booking>()
  const seats = existing.flatMap((b) => {
    const sub = subOfBooking.get(b.id)!
    return b.seat_positions.map((p) => {
      const [row, seat] = p.split("-").map(Number) as [number, number]
      const index = seatIndex(row, seat, sub.grid.cols)
      return { booking: b.id, sub, index, ticketId: sub.grid.ticketIds[index]! }
    })
  })
  const tickets = seats.length === 0 ? [] : await sql<{ id: string; status: string; booking_id: string | null }[]>`
    SELECT id, status, booking_id FROM tickets WHERE id = ANY(${seats.map((s) => s.ticketId)}::bigint[])`
  const byId = new Map(tickets.map((t) => [Number(t.id), t]))
  const held = new Map<string, number[]>()
  for (const s of seats) {
    const ticket = byId.get(s.ticketId)
    if (!ticket) continue
    correctSeat(s.sub, s.index, ticket.status !== "available")
    if (ticket.status === "reserved" && ticket.booking_id === s.booking) held.set(s.booking, [...(held.get(s.booking) ?? []), s.index])
  }
  for (const b of existing) {
    const seatsHeld = held.get(b.id) ?? []
    bookings.set(b.id, {
      id: b.id,
      buyerId: Number(b.buyer_id),
      status: b.status,
      held: seatsHeld,
      chosen: seatsHeld,
      isNew: false,
      cancelExisting: false,
      errorMessage: b.error_message ?? undefined,
    })
  }
  return bookings
}

// Records a seat's new holder, remembering who held it before the batch.
function recordChange(sub: Sub, index: number, before: string | null, holder: string | null) {
  const change = sub.changes.get(index)
  if (change) change.final = holder
  else sub.changes.set(index, { initial: before, final: holder })
}

function decideReserve(deps: BatchDeps, sub: Sub, bookings: Map<string, Booking>, command: ReserveCommand, result: BatchResult) {
  const known = bookings.get(command.booking_id)
  if (known) {
    // Already decided (a replay, or the same message delivered twice): keep that result.
    known.outcome ??= outcomeOf(known, command, !known.isNew)
    return
  }
  const { rows, cols } = sub.grid
  let seats: number[] | null = null
  let failure: string | undefined
  if (command.mode === "manual") {
    for (const [row, seat] of command.seats) {
      if (row > rows || seat > cols) {
        failure = `Seat ${row}-${seat} does not exist`
        break
      }
      if (isTaken(sub.map, seatIndex(row, seat, cols))) {
        failure = `Seat ${row}-${seat} is already reserved`
        break
      }
    }
    if (!failure) seats = command.seats.map(([row, seat]) => seatIndex(row, seat, cols))
  } else {
    seats = deps.findSeats(sub.map, rows, cols, command.quantity)
    if (!seats) failure = `No ${command.quantity} seats available`
  }
  const booking: Booking = {
    id: command.booking_id,
    buyerId: command.buyer_id,
    status: seats ? "pending_payment" : "failed",
    held: seats ?? [],
    chosen: seats ?? [],
    isNew: true,
    cancelExisting: false,
    command,
    errorMessage: failure,
  }
  for (const index of booking.held) {
    recordChange(sub, index, null, booking.id)
    setTaken(sub.map, index, true)
  }
  booking.outcome = outcomeOf(booking, command, false)
  bookings.set(booking.id, booking)
  if (seats) result.reserved++
  else result.failed++
}

function decideRelease(sub: Sub, bookings: Map<string, Booking>, bookingId: string, result: BatchResult) {
  const booking = bookings.get(bookingId)
  // No reserve was ever seen for it (dead-lettered), or it failed or was paid: nothing to free.
  if (!booking || booking.status === "failed" || booking.status === "completed") return
  for (const index of booking.held) {
    recordChange(sub, index, booking.id, null)
    setTaken(sub.map, index, false)
  }
  if (booking.held.length > 0 || booking.status !== "cancelled") result.released++
  booking.held = []
  booking.status = "cancelled"
  if (!booking.isNew) booking.cancelExisting = true
  const { eventId, section, subsection } = sub.grid
  booking.outcome = { booking_id: booking.id, buyer_id: booking.buyerId, event_id: eventId, section, subsection, status: "cancelled", tickets: [], replayed: false }
}

function outcomeOf(booking: Booking, command: ReserveCommand, replayed: boolean): BookingOutcome {
  return {
    booking_id: booking.id,
    buyer_id: command.buyer_id,
    event_id: command.event_id,
    section: command.section,
    subsection: command.subsection,
    status: booking.status,
    tickets: [],
    ...(booking.errorMessage ? { error_message: booking.errorMessage } : {}),
    replayed,
  }
}

type Written = {
  stats: Map<string, { available: number; reserved: number; sold: number }>
  events: Map<number, { available: number; reserved: number; sold: number; status: string; statusChanged: boolean }>
}

async function writeOutcomes(sql: Sql, subs: Map<string, Sub>, bookings: Map<string, Booking>): Promise<Written> {
  const reserveSeats: { sub: Sub; index: number; booking: string }[] = []
  const moveSeats: { sub: Sub; index: number; from: string; to: string | null }[] = []
  const deltas: { sub: Sub; available: number; reserved: number }[] = []
  for (const sub of subs.values()) {
    let available = 0
    for (const [index, change] of sub.changes) {
      if (change.initial === change.final) continue
      if (change.initial === null) {
        reserveSeats.push({ sub, index, booking: change.final! })
        available--
      } else {
        moveSeats.push({ sub, index, from: change.initial, to: change.final })
        if (change.final === null) available++
      }
    }
    if (available !== 0) deltas.push({ sub, available, reserved: -available })
  }
  const newBookings = [...bookings.values()].filter((b) => b.isNew)
  const cancelled = [...bookings.values()].filter((b) => b.cancelExisting).map((b) => b.id)
  const eventIds = [...new Set([...subs.values()].map((s) => s.grid.eventId))]
  const ticketId = (s: { sub: Sub; index: number }) => s.sub.grid.ticketIds[s.index]!

  return sql.begin(async (tx) => {
    if (newBookings.length > 0) {
      // A failed booking records the seats it asked for; any other the seats it was given.
      const chosenSeats = newBookings.map((b) => {
        const positions = b.status === "failed" ? b.command!.seats : b.chosen.map((i) => {
          const p = seatOfIndex(i, subs.get(commandKey(b.command!.event_id, b.command!.section, b.command!.subsection))!.grid.cols)
          return [p.row, p.seat] as const
        })
        return positions.map(([row, seat]) => `${row}-${seat}`).join(",")
      })
      await tx`
        INSERT INTO bookings (id, buyer_id, event_id, section, subsection, quantity, seat_selection_mode,
                              seat_positions, total_price, status, error_message, created_at)
        SELECT v.id, v.buyer_id, v.event_id, v.section, v.subsection, v.quantity, v.mode,
               CASE WHEN v.seats = '' THEN '{}'::text[] ELSE string_to_array(v.seats, ',') END,
               v.total, v.status, NULLIF(v.error, ''), v.created_at
        FROM unnest(${newBookings.map((b) => b.id)}::uuid[], ${newBookings.map((b) => b.command!.buyer_id)}::bigint[],
                    ${newBookings.map((b) => b.command!.event_id)}::bigint[], ${newBookings.map((b) => b.command!.section)}::text[],
                    ${newBookings.map((b) => b.command!.subsection)}::int[], ${newBookings.map((b) => b.command!.quantity)}::int[],
                    ${newBookings.map((b) => b.command!.mode)}::text[], ${chosenSeats}::text[],
                    ${newBookings.map((b) => (b.status === "failed" ? 0 : b.command!.price * b.command!.quantity))}::int[],
                    ${newBookings.map((b) => b.status)}::text[], ${newBookings.map((b) => b.errorMessage ?? "")}::text[],
                    ${newBookings.map((b) => b.command!.created_at)}::timestamptz[])
          AS v(id, buyer_id, event_id, section, subsection, quantity, mode, seats, total, status, error, created_at)
        ON CONFLICT (id) DO NOTHING`
    }
    const stale = new Set<string>()
    if (reserveSeats.length > 0) {
      const updated = await tx`
        UPDATE tickets t SET status = 'reserved', booking_id = v.booking_id
        FROM unnest(${reserveSeats.map(ticketId)}::bigint[], ${reserveSeats.map((s) => s.booking)}::uuid[]) AS v(id, booking_id)
        WHERE t.id = v.id AND t.status = 'available'
        RETURNING t.id`
      if (updated.length !== reserveSeats.length) for (const s of reserveSeats) stale.add(s.sub.key)
    }
    if (moveSeats.length > 0) {
      const updated = await tx`
        UPDATE tickets t
        SET status = CASE WHEN v.to_booking IS NULL THEN 'available' ELSE 'reserved' END, booking_id = v.to_booking
        FROM unnest(${moveSeats.map(ticketId)}::bigint[], ${moveSeats.map((s) => s.from)}::uuid[], ${moveSeats.map((s) => s.to)}::uuid[])
          AS v(id, from_booking, to_booking)
        WHERE t.id = v.id AND t.status = 'reserved' AND t.booking_id = v.from_booking
        RETURNING t.id`
      if (updated.length !== moveSeats.length) for (const s of moveSeats) stale.add(s.sub.key)
    }
    if (stale.size > 0) throw new StaleSeatMapError([...stale])
    if (cancelled.length > 0) {
      await tx`
        UPDATE bookings SET status = 'cancelled', updated_at = now()
        WHERE id = ANY(${cancelled}::uuid[]) AND status IN ('pending_payment', 'cancelled')`
    }
    if (deltas.length > 0) {
      await tx`
        UPDATE subsection_stats s SET available = s.available + v.available, reserved = s.reserved + v.reserved
        FROM unnest(${deltas.map((d) => d.sub.grid.eventId)}::bigint[], ${deltas.map((d) => d.sub.grid.section)}::text[],
                    ${deltas.map((d) => d.sub.grid.subsection)}::int[], ${deltas.map((d) => d.available)}::int[],
                    ${deltas.map((d) => d.reserved)}::int[]) AS v(event_id, section, subsection, available, reserved)
        WHERE s.event_id = v.event_id AND s.section = v.section AND s.subsection = v.subsection`
    }
    // Two batch steps of different partitions can run at once and share an event. Locking the
    // event rows (in id order, so two steps cannot wait on each other) before reading the totals
    // makes the later step wait for the earlier one's commit and count its seats too; without it
    // each step missed the other's last seats and a sold-out event stayed "available".
    await tx`SELECT id FROM events WHERE id = ANY(${eventIds}::bigint[]) ORDER BY id FOR NO KEY UPDATE`
    const touched = [...subs.values()].map((sub) => sub.grid)
    const statRows = await tx<{ event_id: string; section: string; subsection: number; available: number; reserved: number; sold: number }[]>`
      SELECT s.event_id, s.section, s.subsection, s.available, s.reserved, s.sold
      FROM subsection_stats s
      JOIN unnest(${touched.map((g) => g.eventId)}::bigint[], ${touched.map((g) => g.section)}::text[],
                  ${touched.map((g) => g.subsection)}::int[]) AS v(event_id, section, subsection)
        ON s.event_id = v.event_id AND s.section = v.section AND s.subsection = v.subsection`
    const stats = new Map<string, { available: number; reserved: number; sold: number }>()
    for (const r of statRows) {
      stats.set(commandKey(Number(r.event_id), r.section, r.subsection), { available: r.available, reserved: r.reserved, sold: r.sold })
    }
    const totalRows = await tx<{ event_id: string; available: number; reserved: number; sold: number }[]>`
      SELECT event_id, sum(available)::int AS available, sum(reserved)::int AS reserved, sum(sold)::int AS sold
      FROM subsection_stats WHERE event_id = ANY(${eventIds}::bigint[]) GROUP BY event_id`
    const totals = new Map(totalRows.map((r) => [Number(r.event_id), { available: r.available, reserved: r.reserved, sold: r.sold }]))
    // An event is sold out when its last seat is reserved, and available again when one is freed.
    const changed = await tx<{ id: string; status: string }[]>`
      UPDATE events e SET status = v.status
      FROM unnest(${[...totals.keys()]}::bigint[], ${[...totals.values()].map((t) => (t.available === 0 ? "sold_out" : "available"))}::text[])
        AS v(id, status)
      WHERE e.id = v.id AND e.status IN ('available', 'sold_out') AND e.status <> v.status
      RETURNING e.id, e.status`
    const statuses = await tx<{ id: string; status: string }[]>`SELECT id, status FROM events WHERE id = ANY(${eventIds}::bigint[])`
    const changedIds = new Set(changed.map((c) => Number(c.id)))
    const events = new Map(
      statuses.map((e) => [Number(e.id), { ...totals.get(Number(e.id))!, status: e.status, statusChanged: changedIds.has(Number(e.id)) }]),
    )
    return { stats, events }
  })
}

async function applyToRedis(deps: BatchDeps, subs: Map<string, Sub>, bookings: Map<string, Booking>, written: Written) {
  const { redis, keys } = deps
  const pipeline = redis.pipeline()
  for (const sub of subs.values()) {
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
    const stat = written.stats.get(sub.key)
    if (stat) pipeline.hset(keys.available(eventId), subsectionLabel(section, subsection), stat.available)
  }
  // Replays too: a crash after the PostgreSQL commit leaves decided bookings' `processing` records behind.
  for (const booking of bookings.values()) pipeline.del(keys.pendingBooking(booking.id))
  for (const [eventId, event] of written.events) {
    if (!event.statusChanged) continue
    const raw = await redis.get(keys.eventMeta(eventId))
    if (raw) pipeline.set(keys.eventMeta(eventId), JSON.stringify({ ...(JSON.parse(raw) as EventMeta), status: event.status }))
    pipeline.publish(keys.metaChannel, String(eventId))
  }
  for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error
}

function finaliseOutcome(booking: Booking, sub: Sub): BookingOutcome {
  const outcome = booking.outcome!
  const { eventId, section, subsection, cols, price } = sub.grid
  const seats = booking.status === "pending_payment" ? booking.held : []
  return {
    ...outcome,
    status: booking.status,
    tickets: seats.map((index) => {
      const { row, seat } = seatOfIndex(index, cols)
      return { id: sub.grid.ticketIds[index]!, section, subsection, row, seat, price, status: "reserved" }
    }),
  }
}

async function publish(deps: BatchDeps, outcomes: BookingOutcome[], written: Written) {
  const { redis, keys } = deps
  const pipeline = redis.pipeline()
  for (const o of outcomes) {
    const { replayed: _, buyer_id, ...body } = o
    pipeline.publish(keys.userChannel(buyer_id), JSON.stringify({ event_type: "booking_updated", ...body }))
  }
  // One coalesced count update per event per batch.
  for (const [eventId, totals] of written.events) {
    const subsectionStats: Record<string, { price: number; available: number; reserved: number; sold: number }> = {}
    for (const [key, stat] of written.stats) {
      const grid = deps.grids.get(key)
      if (grid && grid.eventId === eventId) subsectionStats[subsectionLabel(grid.section, grid.subsection)] = { price: grid.price, ...stat }
    }
    const { available, reserved, sold } = totals
    pipeline.publish(
      keys.eventChannel(eventId),
      JSON.stringify({
        event_type: "status_update",
        event_id: eventId,
        status: totals.status,
        stats: { available, reserved, sold, total: available + reserved + sold },
        subsection_stats: subsectionStats,
      }),
    )
  }
  await pipeline.exec()
}
