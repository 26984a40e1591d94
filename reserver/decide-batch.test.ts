import { describe, expect, test } from "bun:test"
import type { Command, ReserveCommand } from "../shared/commands.ts"
import { commandKey } from "../shared/kafka.ts"
import { findBestAvailable, isTaken, newSeatMap, seatIndex, setTaken } from "../shared/seat-finder.ts"
import { decideBatch, eventStatusFor, rejectUndecidable, writesOf, type RecordedBooking } from "./decide-batch.ts"
import type { Grid } from "./seat-state.ts"
import { expire, release, reserve } from "../testing/fixtures.ts"

const EVENT = 7

// Subsection A-1 of EVENT; ticket ids are 100 + the seat's bit index, so expected ids read off the seat.
const gridOf = (rows: number, cols: number): Grid => ({
  eventId: EVENT,
  section: "A",
  subsection: 1,
  rows,
  cols,
  price: 1000,
  holdSeconds: 60,
  ticketIds: Float64Array.from({ length: rows * cols }, (_, i) => 100 + i),
  createdAt: "2026-12-01T00:00:00.000Z",
})

const KEY = commandKey(EVENT, "A", 1)

const indexOf = (grid: Grid, position: string) => {
  const [row, seat] = position.split("-").map(Number) as [number, number]
  return seatIndex(row, seat, grid.cols)
}

// A seat map as Redis holds it, with `taken` seats set.
const mapOf = (grid: Grid, taken: string[] = []) => {
  const map = newSeatMap(grid.rows, grid.cols)
  for (const p of taken) setTaken(map, indexOf(grid, p), true)
  return map
}

const takenSeats = (grid: Grid, map: Uint8Array) =>
  Array.from({ length: grid.rows * grid.cols }, (_, i) => i).filter((i) => isTaken(map, i)).map((i) => `${Math.floor(i / grid.cols) + 1}-${(i % grid.cols) + 1}`)

// A booking PostgreSQL has, still holding the tickets at `positions` unless `fields` says otherwise.
const recorded = (grid: Grid, id: string, fields: Partial<RecordedBooking>, positions: string[] = []): RecordedBooking => ({
  id,
  buyerId: 1,
  status: "pending_payment",
  expiresAt: null,
  due: false,
  key: KEY,
  seats: positions.map((p) => ({ index: indexOf(grid, p), status: "reserved", bookingId: id })),
  ...fields,
})

const NOW = Date.parse("2026-12-04T10:00:00.000Z")

const decide = (grid: Grid, commands: Command[], options: { taken?: string[]; recorded?: RecordedBooking[]; fromDb?: boolean } = {}) => {
  const map = mapOf(grid, options.taken)
  const decisions = decideBatch(commands, [{ grid, map, fromDb: options.fromDb ?? false }], options.recorded ?? [], findBestAvailable, NOW)
  return { decisions, writes: writesOf(decisions), map, sub: decisions.subsections.get(KEY)! }
}

const seatsOf = (o: { tickets: { row: number; seat: number }[] }) => o.tickets.map((t) => `${t.row}-${t.seat}`)

describe("decideBatch", () => {
  test("best available gives each reserve the first free run, in message order, and the transaction reserves each ticket once", () => {
    const grid = gridOf(2, 5)
    const a = reserve({ event_id: EVENT, buyer_id: 1, quantity: 2 })
    const b = reserve({ event_id: EVENT, buyer_id: 2, quantity: 3 })
    const { decisions, writes, map, sub } = decide(grid, [a, b])
    expect(decisions.outcomes.map((o) => [o.booking_id, o.status, seatsOf(o)])).toEqual([
      [a.booking_id, "pending_payment", ["1-1", "1-2"]],
      [b.booking_id, "pending_payment", ["1-3", "1-4", "1-5"]],
    ])
    expect(decisions.outcomes[1]!.tickets.map((t) => t.id)).toEqual([102, 103, 104])
    expect([decisions.reserved, decisions.failed, decisions.released]).toEqual([2, 0, 0])
    expect(takenSeats(grid, map)).toEqual(["1-1", "1-2", "1-3", "1-4", "1-5"])
    expect(sub.rewrite).toBe(false)
    expect(writes.reservedTickets.map((t) => [t.ticketId, t.bookingId])).toEqual([
      [100, a.booking_id],
      [101, a.booking_id],
      [102, b.booking_id],
      [103, b.booking_id],
      [104, b.booking_id],
    ])
    expect(writes.movedTickets).toEqual([])
    expect(writes.statDeltas.map((d) => [d.available, d.reserved])).toEqual([[-5, 5]])
    expect(writes.newBookings.map((n) => [n.id, n.status, n.seatPositions, n.totalPrice])).toEqual([
      [a.booking_id, "pending_payment", ["1-1", "1-2"], 2000],
      [b.booking_id, "pending_payment", ["1-3", "1-4", "1-5"], 3000],
    ])
    expect(writes.eventIds).toEqual([EVENT])
  })

  test("a manual booking of a taken seat fails as a whole with the seat named; its record keeps the seats asked for", () => {
    const grid = gridOf(1, 5)
    const wanted = reserve({ event_id: EVENT, buyer_id: 2, seats: [[1, 1], [1, 2], [1, 3]] })
    const { decisions, writes, map } = decide(grid, [wanted], { taken: ["1-2"] })
    expect(decisions.outcomes).toMatchObject([{ status: "failed", error_message: "Seat 1-2 is already reserved", tickets: [] }])
    expect([decisions.reserved, decisions.failed]).toEqual([0, 1])
    expect(takenSeats(grid, map)).toEqual(["1-2"])
    expect(writes.reservedTickets).toEqual([])
    expect(writes.statDeltas).toEqual([])
    expect(writes.newBookings).toMatchObject([{ status: "failed", seatPositions: ["1-1", "1-2", "1-3"], totalPrice: 0, errorMessage: "Seat 1-2 is already reserved" }])
  })

  test("a manual seat outside the grid, or too few free seats, fails with the contract's reason", () => {
    const grid = gridOf(1, 3)
    const outside = reserve({ event_id: EVENT, buyer_id: 1, seats: [[1, 4]] })
    const big = reserve({ event_id: EVENT, buyer_id: 2, quantity: 2 })
    const tooMany = reserve({ event_id: EVENT, buyer_id: 3, quantity: 2 })
    const { decisions } = decide(grid, [outside, big, tooMany])
    expect(decisions.outcomes.map((o) => [o.status, o.error_message])).toEqual([
      ["failed", "Seat 1-4 does not exist"],
      ["pending_payment", undefined],
      ["failed", "No 2 seats available"],
    ])
  })

  test("a release frees the seats its recorded booking holds and cancels the record", () => {
    const grid = gridOf(1, 4)
    const held = reserve({ event_id: EVENT, buyer_id: 1, quantity: 2 })
    const booking = recorded(grid, held.booking_id, {}, ["1-1", "1-2"])
    const { decisions, writes, map } = decide(grid, [release(held)], { taken: ["1-1", "1-2", "1-4"], recorded: [booking] })
    expect(decisions.outcomes).toMatchObject([{ booking_id: held.booking_id, status: "cancelled", tickets: [], replayed: false }])
    expect(decisions.released).toBe(1)
    expect(takenSeats(grid, map)).toEqual(["1-4"])
    expect(writes.movedTickets.map((t) => [t.ticketId, t.from, t.to])).toEqual([
      [100, held.booking_id, null],
      [101, held.booking_id, null],
    ])
    expect(writes.cancelledBookings).toEqual([held.booking_id])
    expect(writes.newBookings).toEqual([])
    expect(writes.statDeltas.map((d) => [d.available, d.reserved])).toEqual([[2, -2]])
  })

  test("reserve and release in one batch: the freed seats go to the next reserve, and the tickets are written for it alone", () => {
    const grid = gridOf(1, 4)
    const a = reserve({ event_id: EVENT, buyer_id: 1, quantity: 2 })
    const b = reserve({ event_id: EVENT, buyer_id: 2, quantity: 4 })
    const { decisions, writes } = decide(grid, [a, release(a), b])
    expect(decisions.outcomes.map((o) => [o.booking_id, o.status, seatsOf(o)])).toEqual([
      [a.booking_id, "cancelled", []],
      [b.booking_id, "pending_payment", ["1-1", "1-2", "1-3", "1-4"]],
    ])
    expect([decisions.reserved, decisions.released]).toEqual([2, 1])
    expect(writes.newBookings.map((n) => [n.id, n.status, n.seatPositions])).toEqual([
      [a.booking_id, "cancelled", ["1-1", "1-2"]],
      [b.booking_id, "pending_payment", ["1-1", "1-2", "1-3", "1-4"]],
    ])
    expect(writes.reservedTickets.map((t) => t.bookingId)).toEqual([b.booking_id, b.booking_id, b.booking_id, b.booking_id])
    expect(writes.movedTickets).toEqual([])
    expect(writes.cancelledBookings).toEqual([])
    expect(writes.statDeltas.map((d) => [d.available, d.reserved])).toEqual([[-4, 4]])
  })

  test("a replay keeps the seats PostgreSQL recorded, restores the bits Redis lost, and writes nothing again", () => {
    const grid = gridOf(1, 6)
    const replayed = reserve({ event_id: EVENT, buyer_id: 1, quantity: 2 })
    const fresh = reserve({ event_id: EVENT, buyer_id: 2, quantity: 2 })
    // PostgreSQL gave 1-3 and 1-4; Redis lost both bits (a crash between the commit and the Redis write).
    const booking = recorded(grid, replayed.booking_id, {}, ["1-3", "1-4"])
    const { decisions, writes, map, sub } = decide(grid, [replayed, fresh], { recorded: [booking] })
    expect(decisions.outcomes.map((o) => [o.status, seatsOf(o), o.replayed])).toEqual([
      ["pending_payment", ["1-3", "1-4"], true],
      ["pending_payment", ["1-1", "1-2"], false],
    ])
    expect(decisions.reserved).toBe(1)
    expect(takenSeats(grid, map)).toEqual(["1-1", "1-2", "1-3", "1-4"])
    expect(sub.rewrite).toBe(true)
    expect(writes.newBookings.map((n) => n.id)).toEqual([fresh.booking_id])
    expect(writes.reservedTickets.map((t) => t.ticketId)).toEqual([100, 101])
  })

  test("a replayed failure keeps its reason; a seat freed in PostgreSQL but taken in Redis is freed", () => {
    const grid = gridOf(1, 3)
    const failed = reserve({ event_id: EVENT, buyer_id: 1, seats: [[1, 1]] })
    const booking = recorded(grid, failed.booking_id, { status: "failed", errorMessage: "Seat 1-1 is already reserved", seats: [{ index: 0, status: "available", bookingId: null }] })
    const { decisions, map, sub } = decide(grid, [failed], { taken: ["1-1"], recorded: [booking] })
    expect(decisions.outcomes).toMatchObject([{ status: "failed", error_message: "Seat 1-1 is already reserved", replayed: true }])
    expect(takenSeats(grid, map)).toEqual([])
    expect(sub.rewrite).toBe(true)
  })

  test("a release of a failed, paid or unknown booking frees nothing and tells no one", () => {
    const grid = gridOf(1, 3)
    const failed = reserve({ event_id: EVENT, buyer_id: 1, seats: [[1, 1]] })
    const paid = reserve({ event_id: EVENT, buyer_id: 2, seats: [[1, 2]] })
    const unknown = reserve({ event_id: EVENT, buyer_id: 3 })
    const { decisions, writes } = decide(grid, [release(failed), release(paid), release(unknown)], {
      taken: ["1-2"],
      recorded: [
        recorded(grid, failed.booking_id, { status: "failed" }),
        recorded(grid, paid.booking_id, { status: "completed", seats: [{ index: 1, status: "sold", bookingId: paid.booking_id }] }),
      ],
    })
    expect(decisions.outcomes).toEqual([])
    expect(decisions.released).toBe(0)
    expect([writes.movedTickets, writes.cancelledBookings, writes.statDeltas]).toEqual([[], [], []])
  })

  test("a release replayed after its commit is published again but not counted again", () => {
    const grid = gridOf(1, 3)
    const gone = reserve({ event_id: EVENT, buyer_id: 1, quantity: 1 })
    const { decisions, writes } = decide(grid, [release(gone)], { recorded: [recorded(grid, gone.booking_id, { status: "cancelled" })] })
    expect(decisions.outcomes).toMatchObject([{ booking_id: gone.booking_id, status: "cancelled" }])
    expect(decisions.released).toBe(0)
    expect(writes.movedTickets).toEqual([])
  })

  test("the same reserve delivered twice in one batch is decided once", () => {
    const grid = gridOf(1, 4)
    const a = reserve({ event_id: EVENT, buyer_id: 1, quantity: 2 })
    const { decisions, writes } = decide(grid, [a, a])
    expect(decisions.outcomes.map((o) => [o.status, seatsOf(o), o.replayed])).toEqual([["pending_payment", ["1-1", "1-2"], false]])
    expect(decisions.reserved).toBe(1)
    expect(writes.newBookings.length).toBe(1)
  })

  test("a new hold's deadline is the decision time plus its event's hold time; a failed booking has none", () => {
    const grid = gridOf(1, 2)
    const held = reserve({ event_id: EVENT, buyer_id: 1, quantity: 2 })
    const failed = reserve({ event_id: EVENT, buyer_id: 2, quantity: 1 })
    const { decisions, writes } = decide(grid, [held, failed])
    const deadline = new Date(NOW + 60_000).toISOString()
    expect(decisions.outcomes.map((o) => [o.status, o.expires_at])).toEqual([
      ["pending_payment", deadline],
      ["failed", null],
    ])
    expect(writes.newBookings.map((n) => n.expiresAt)).toEqual([deadline, null])
  })

  test("an expiry frees a due hold's seats, marks it expired and says so with its deadline", () => {
    const grid = gridOf(1, 4)
    const held = reserve({ event_id: EVENT, buyer_id: 1, quantity: 2 })
    const deadline = new Date(NOW - 1_000).toISOString()
    const booking = recorded(grid, held.booking_id, { expiresAt: deadline, due: true }, ["1-1", "1-2"])
    const { decisions, writes, map } = decide(grid, [expire(held)], { taken: ["1-1", "1-2", "1-4"], recorded: [booking] })
    expect(decisions.outcomes).toMatchObject([{ booking_id: held.booking_id, status: "expired", tickets: [], expires_at: deadline, replayed: false }])
    expect([decisions.expired, decisions.released]).toEqual([1, 0])
    expect(takenSeats(grid, map)).toEqual(["1-4"])
    expect(writes.expiredBookings).toEqual([held.booking_id])
    expect(writes.cancelledBookings).toEqual([])
    expect(writes.movedTickets.map((t) => [t.ticketId, t.from, t.to])).toEqual([
      [100, held.booking_id, null],
      [101, held.booking_id, null],
    ])
    expect(writes.statDeltas.map((d) => [d.available, d.reserved])).toEqual([[2, -2]])
  })

  test("an expiry of a hold not yet due, paid, cancelled, already expired, unknown or decided in this batch changes nothing", () => {
    const grid = gridOf(1, 6)
    const [early, paid, cancelled, gone, unknown, fresh] = [1, 2, 3, 4, 5, 1].map((b) => reserve({ event_id: EVENT, buyer_id: b, quantity: 1 })) as [ReserveCommand, ReserveCommand, ReserveCommand, ReserveCommand, ReserveCommand, ReserveCommand]
    const past = new Date(NOW - 1_000).toISOString()
    const commands: Command[] = [early, paid, cancelled, gone, unknown, fresh].map(expire)
    const { decisions, writes } = decide(grid, [...commands, fresh, expire(fresh)], {
      taken: ["1-1", "1-2", "1-3"],
      recorded: [
        recorded(grid, early.booking_id, { expiresAt: new Date(NOW + 1_000).toISOString(), due: false }, ["1-1"]),
        recorded(grid, paid.booking_id, { status: "completed", expiresAt: past, due: true, seats: [{ index: 1, status: "sold", bookingId: paid.booking_id }] }),
        recorded(grid, cancelled.booking_id, { status: "cancelled", expiresAt: past, due: true }, ["1-3"]),
        recorded(grid, gone.booking_id, { status: "expired", expiresAt: past, due: true }),
      ],
    })
    expect(decisions.expired).toBe(0)
    expect(decisions.outcomes.map((o) => [o.booking_id, o.status])).toEqual([[fresh.booking_id, "pending_payment"]])
    expect([writes.expiredBookings, writes.movedTickets]).toEqual([[], []])
  })

  test("a replayed reserve after its hold expired keeps it expired and takes no seat back", () => {
    const grid = gridOf(1, 2)
    const held = reserve({ event_id: EVENT, buyer_id: 1, quantity: 2 })
    const past = new Date(NOW - 1_000).toISOString()
    const booking = recorded(grid, held.booking_id, { status: "expired", expiresAt: past, due: true, seats: [0, 1].map((index) => ({ index, status: "available", bookingId: null })) })
    const { decisions, writes, map } = decide(grid, [held, expire(held)], { recorded: [booking] })
    expect(decisions.outcomes).toMatchObject([{ status: "expired", tickets: [], expires_at: past, replayed: true }])
    expect(takenSeats(grid, map)).toEqual([])
    expect([writes.newBookings, writes.reservedTickets, writes.movedTickets, writes.expiredBookings]).toEqual([[], [], [], []])
  })

  test("a release and an expiry of one hold in one batch free its seats once: cancelled if the buyer cancelled in time, else expired", () => {
    const grid = gridOf(1, 4)
    const cancelledInTime = reserve({ event_id: EVENT, buyer_id: 1, quantity: 2 })
    const tooLate = reserve({ event_id: EVENT, buyer_id: 2, quantity: 2 })
    const past = new Date(NOW - 1_000).toISOString()
    const { decisions, writes, map } = decide(grid, [release(cancelledInTime), expire(cancelledInTime), release(tooLate), expire(tooLate)], {
      taken: ["1-1", "1-2", "1-3", "1-4"],
      recorded: [
        // The gateway's guarded cancel won before the deadline; the expiry finds it cancelled.
        recorded(grid, cancelledInTime.booking_id, { status: "cancelled", expiresAt: past, due: true }, ["1-1", "1-2"]),
        // The gateway refused the cancel (past the deadline); the release finds the hold due and expires it.
        recorded(grid, tooLate.booking_id, { expiresAt: past, due: true }, ["1-3", "1-4"]),
      ],
    })
    expect(decisions.outcomes.map((o) => [o.booking_id, o.status])).toEqual([
      [cancelledInTime.booking_id, "cancelled"],
      [tooLate.booking_id, "expired"],
    ])
    expect([decisions.released, decisions.expired]).toEqual([1, 1])
    expect(takenSeats(grid, map)).toEqual([])
    expect(writes.movedTickets.length).toBe(4)
    expect(writes.expiredBookings).toEqual([tooLate.booking_id])
    expect(writes.statDeltas.map((d) => [d.available, d.reserved])).toEqual([[4, -4]])
  })

  test("seats freed by an expiry go to a reserve later in the same batch", () => {
    const grid = gridOf(1, 2)
    const held = reserve({ event_id: EVENT, buyer_id: 1, quantity: 2 })
    const next = reserve({ event_id: EVENT, buyer_id: 2, quantity: 2 })
    const past = new Date(NOW - 1_000).toISOString()
    const { decisions, writes } = decide(grid, [expire(held), next], { taken: ["1-1", "1-2"], recorded: [recorded(grid, held.booking_id, { expiresAt: past, due: true }, ["1-1", "1-2"])] })
    expect(decisions.outcomes.map((o) => [o.status, seatsOf(o)])).toEqual([
      ["expired", []],
      ["pending_payment", ["1-1", "1-2"]],
    ])
    expect(writes.movedTickets.map((t) => [t.from, t.to])).toEqual([
      [held.booking_id, next.booking_id],
      [held.booking_id, next.booking_id],
    ])
    expect(writes.statDeltas).toEqual([])
  })

  test("a map rebuilt from PostgreSQL goes back to Redis whole", () => {
    const grid = gridOf(1, 2)
    expect(decide(grid, [reserve({ event_id: EVENT, buyer_id: 1 })], { fromDb: true }).sub.rewrite).toBe(true)
  })
})

test("commands of a subsection or a buyer that does not exist are set aside with the reason, the rest kept in order", () => {
  const grids = new Map([[KEY, gridOf(1, 2)]])
  const ghost = reserve({ event_id: EVENT, buyer_id: 1, section: "Z" })
  const nobody = reserve({ event_id: EVENT, buyer_id: 99 })
  const real = reserve({ event_id: EVENT, buyer_id: 1 })
  const { valid, rejected } = rejectUndecidable([ghost, nobody, real], grids, new Set([1]))
  expect(valid).toEqual([real])
  expect(rejected.map((r) => [r.command, r.reason])).toEqual([
    [ghost, `Section Z-1 of event ${EVENT} does not exist`],
    [nobody, "Buyer 99 does not exist"],
  ])
})

test("an event is sold out exactly when no seat is available", () => {
  expect([eventStatusFor(0), eventStatusFor(1)]).toEqual(["sold_out", "available"])
})
