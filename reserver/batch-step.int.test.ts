import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { createRedis } from "../shared/clients.ts"
import { redisKeys } from "../shared/redis-keys.ts"
import { findBestAvailable } from "../shared/seat-finder.ts"
import { createTestDatabase, eventually, testConfig, testLogger, uniqueName, type TestDatabase } from "../testing/helpers.ts"
import { createBatchStep, type BatchStep, type BatchStepDeps } from "./batch-step.ts"
import { auditEvent } from "../testing/audit.ts"
import { expire, insertTestEvent, release, reserve } from "../testing/fixtures.ts"
import { cancelPendingBooking } from "../gateway/bookings-db.ts"

let db: TestDatabase
const redis = createRedis(testConfig().redisUrl)
const keys = redisKeys(uniqueName("t"))
let deps: BatchStepDeps
let step: BatchStep

beforeAll(async () => {
  db = await createTestDatabase()
  deps = { sql: db.sql, redis, keys, log: testLogger(), findSeats: findBestAvailable }
  step = createBatchStep(deps)
})
afterAll(async () => {
  const stale = await redis.keys(`${keys.all}`)
  if (stale.length) await redis.del(...stale)
  await redis.quit()
  await db.drop()
})

const newEvent = (shape: { rows: number; cols: number; sections?: string[]; subsections?: number }) =>
  insertTestEvent(deps, { sections: ["A"], subsections: 1, ...shape })

const bookingRow = async (id: string) => {
  const [row] = await db.sql`SELECT status, seat_positions, error_message, total_price FROM bookings WHERE id = ${id}`
  return row
}
const ticketsOf = async (id: string) =>
  (await db.sql`SELECT row, seat, status FROM tickets WHERE booking_id = ${id} ORDER BY row, seat`).map((t) => `${t.row}-${t.seat}`)

describe("batch step", () => {
  test("best available reserves the first adjacent run and every store agrees", async () => {
    const { eventId, buyerIds } = await newEvent({ rows: 2, cols: 5 })
    const a = reserve({ event_id: eventId, buyer_id: buyerIds[0]!, quantity: 2 })
    const b = reserve({ event_id: eventId, buyer_id: buyerIds[1]!, quantity: 3 })
    const result = await step.apply([a, b])
    expect(result.reserved).toBe(2)
    expect(result.outcomes.map((o) => [o.status, o.tickets.map((t) => `${t.row}-${t.seat}`)])).toEqual([
      ["pending_payment", ["1-1", "1-2"]],
      ["pending_payment", ["1-3", "1-4", "1-5"]],
    ])
    expect(result.outcomes.every((o) => o.tickets.every((t) => typeof t.id === "number"))).toBe(true)
    expect(await bookingRow(a.booking_id)).toMatchObject({ status: "pending_payment", seat_positions: ["1-1", "1-2"], total_price: 2000 })
    expect(await ticketsOf(b.booking_id)).toEqual(["1-3", "1-4", "1-5"])
    expect(await auditEvent(deps, eventId)).toEqual([])
    expect(await redis.hget(keys.available(eventId), "A-1")).toBe("5")
  })

  test("manual booking of a taken seat fails as a whole with the seat named", async () => {
    const { eventId, buyerIds } = await newEvent({ rows: 1, cols: 5 })
    const first = reserve({ event_id: eventId, buyer_id: buyerIds[0]!, seats: [[1, 2]] })
    const second = reserve({ event_id: eventId, buyer_id: buyerIds[1]!, seats: [[1, 1], [1, 2], [1, 3]] })
    const result = await step.apply([first, second])
    expect(result.outcomes[1]).toMatchObject({ status: "failed", error_message: "Seat 1-2 is already reserved", tickets: [] })
    expect(await ticketsOf(second.booking_id)).toEqual([])
    expect(await bookingRow(second.booking_id)).toMatchObject({ status: "failed", error_message: "Seat 1-2 is already reserved", total_price: 0 })
    expect(await auditEvent(deps, eventId)).toEqual([])
  })

  test("best available with too few seats fails with the contract's reason", async () => {
    const { eventId, buyerIds } = await newEvent({ rows: 1, cols: 3 })
    const big = reserve({ event_id: eventId, buyer_id: buyerIds[0]!, quantity: 2 })
    const tooMany = reserve({ event_id: eventId, buyer_id: buyerIds[1]!, quantity: 2 })
    const result = await step.apply([big, tooMany])
    expect(result.outcomes[1]).toMatchObject({ status: "failed", error_message: "No 2 seats available" })
  })

  test("reserve then release in one batch, and across batches, applies in order", async () => {
    const { eventId, buyerIds } = await newEvent({ rows: 1, cols: 4 })
    const a = reserve({ event_id: eventId, buyer_id: buyerIds[0]!, quantity: 2 })
    const b = reserve({ event_id: eventId, buyer_id: buyerIds[1]!, quantity: 4 })
    // a takes 1-1..1-2, is released, and b can then take all four seats, all in one batch.
    const one = await step.apply([a, release(a), b])
    expect(one.outcomes.map((o) => o.status)).toEqual(["cancelled", "pending_payment"])
    expect(await bookingRow(a.booking_id)).toMatchObject({ status: "cancelled", seat_positions: ["1-1", "1-2"] })
    expect(await ticketsOf(b.booking_id)).toEqual(["1-1", "1-2", "1-3", "1-4"])
    expect(await auditEvent(deps, eventId)).toEqual([])

    const two = await step.apply([release(b)])
    expect(two.outcomes).toMatchObject([{ booking_id: b.booking_id, status: "cancelled" }])
    expect(await ticketsOf(b.booking_id)).toEqual([])
    const c = reserve({ event_id: eventId, buyer_id: buyerIds[2]!, seats: [[1, 3]] })
    expect((await step.apply([c])).outcomes[0]!.status).toBe("pending_payment")
    expect(await auditEvent(deps, eventId)).toEqual([])
  })

  test("a replayed batch lands on the same result", async () => {
    const { eventId, buyerIds } = await newEvent({ rows: 3, cols: 4 })
    const commands = buyerIds.map((buyer, i) => reserve({ event_id: eventId, buyer_id: buyer, quantity: (i % 4) + 1 }))
    const cancelled = commands[1]!
    const batch = [...commands, release(cancelled)]
    const first = await step.apply(batch)
    const snapshot = async () => ({
      tickets: await db.sql`SELECT row, seat, status, booking_id FROM tickets WHERE event_id = ${eventId} ORDER BY row, seat`,
      bookings: await db.sql`SELECT id, status, seat_positions FROM bookings WHERE event_id = ${eventId} ORDER BY id`,
      stats: await db.sql`SELECT available, reserved, sold FROM subsection_stats WHERE event_id = ${eventId}`,
      bits: (await redis.getBuffer(keys.seats(eventId, "A", 1)))?.toString("hex"),
      counter: await redis.hget(keys.available(eventId), "A-1"),
    })
    const before = await snapshot()
    const again = await step.apply(batch)
    expect(await snapshot()).toEqual(before)
    expect(again.outcomes.map((o) => [o.booking_id, o.status, o.tickets.map((t) => `${t.row}-${t.seat}`)])).toEqual(
      first.outcomes.map((o) => [o.booking_id, o.status, o.tickets.map((t) => `${t.row}-${t.seat}`)]),
    )
    expect(again.reserved).toBe(0)
    expect(await auditEvent(deps, eventId)).toEqual([])
  })

  test("a replay after a crash between the PostgreSQL commit and the Redis write restores Redis", async () => {
    const { eventId, buyerIds } = await newEvent({ rows: 1, cols: 6 })
    const a = reserve({ event_id: eventId, buyer_id: buyerIds[0]!, quantity: 3 })
    await step.apply([a])
    const b = reserve({ event_id: eventId, buyer_id: buyerIds[1]!, quantity: 2 })
    const bitsBefore = await redis.getBuffer(keys.seats(eventId, "A", 1))
    const counterBefore = await redis.hget(keys.available(eventId), "A-1")
    await step.apply([release(a), b])
    // Undo the Redis half, as if the process died right after PostgreSQL committed.
    await redis.set(keys.seats(eventId, "A", 1), bitsBefore!)
    await redis.hset(keys.available(eventId), "A-1", counterBefore!)
    // The gateway's `processing` record of b, which the lost Redis write would have deleted.
    await redis.set(keys.pendingBooking(b.booking_id), "{}", "EX", 60)
    const replay = await step.apply([release(a), b])
    expect(replay.outcomes.find((o) => o.booking_id === b.booking_id)?.tickets.map((t) => `${t.row}-${t.seat}`)).toEqual(["1-1", "1-2"])
    expect(await redis.exists(keys.pendingBooking(b.booking_id))).toBe(0)
    expect(await auditEvent(deps, eventId)).toEqual([])
  })

  test("a Redis that lost a write cannot cause a double sale", async () => {
    const { eventId, buyerIds } = await newEvent({ rows: 1, cols: 4 })
    const a = reserve({ event_id: eventId, buyer_id: buyerIds[0]!, quantity: 2 })
    await step.apply([a])
    // Redis forgets seat 1-1 (e.g. an AOF that lost its last second).
    await redis.setbit(keys.seats(eventId, "A", 1), 0, 0)
    const b = reserve({ event_id: eventId, buyer_id: buyerIds[1]!, quantity: 1 })
    const result = await step.apply([b])
    expect(result.outcomes[0]!.tickets.map((t) => `${t.row}-${t.seat}`)).toEqual(["1-3"])
    expect(await auditEvent(deps, eventId)).toEqual([])
  })

  test("an event re-created under the same id (new ticket ids) is decided against the new tickets", async () => {
    const { eventId, buyerIds } = await newEvent({ rows: 1, cols: 4 })
    await step.apply([reserve({ event_id: eventId, buyer_id: buyerIds[0]!, quantity: 1 })])
    // As seed --reset does: the same event id, fresh tickets with new primary keys.
    await db.sql`UPDATE tickets SET id = id + 1000000, status = 'available', booking_id = NULL WHERE event_id = ${eventId}`
    await db.sql`UPDATE subsection_stats SET available = 4, reserved = 0 WHERE event_id = ${eventId}`
    await db.sql`DELETE FROM bookings WHERE event_id = ${eventId}`
    await redis.set(keys.seats(eventId, "A", 1), Buffer.alloc(1))
    await redis.hset(keys.available(eventId), "A-1", 4)
    const again = reserve({ event_id: eventId, buyer_id: buyerIds[1]!, quantity: 2 })
    const result = await step.apply([again])
    expect(result.outcomes[0]!.tickets.map((t) => `${t.row}-${t.seat}`)).toEqual(["1-1", "1-2"])
    expect(result.outcomes[0]!.tickets.every((t) => t.id > 1_000_000)).toBe(true)
    expect(await auditEvent(deps, eventId)).toEqual([])
  })

  test("an event re-created with another shape under the same id is decided on its new grid", async () => {
    const { eventId, buyerIds } = await newEvent({ rows: 1, cols: 2 })
    await step.apply([reserve({ event_id: eventId, buyer_id: buyerIds[0]!, quantity: 2 })])
    // As seed --reset with another SEATS does: same id, a bigger subsection, a new creation time.
    await db.sql`DELETE FROM tickets WHERE event_id = ${eventId}`
    await db.sql`DELETE FROM bookings WHERE event_id = ${eventId}`
    await db.sql`INSERT INTO tickets (event_id, section, subsection, row, seat, price) SELECT ${eventId}, 'A', 1, r, c, 1000 FROM generate_series(1, 2) r, generate_series(1, 3) c`
    await db.sql`UPDATE subsection_stats SET rows = 2, cols = 3, available = 6, reserved = 0 WHERE event_id = ${eventId}`
    const [event] = await db.sql`UPDATE events SET created_at = now() + interval '1 second' WHERE id = ${eventId} RETURNING created_at, seating_config`
    await redis.set(keys.eventMeta(eventId), JSON.stringify({ id: eventId, status: "available", is_active: true, rows: 2, cols: 3, sections: event!.seating_config.sections, created_at: event!.created_at.toISOString() }))
    await redis.set(keys.seats(eventId, "A", 1), Buffer.alloc(1))
    await redis.hset(keys.available(eventId), "A-1", 6)
    const big = reserve({ event_id: eventId, buyer_id: buyerIds[1]!, quantity: 3 })
    const result = await step.apply([big])
    expect(result.outcomes[0]!.tickets.map((t) => `${t.row}-${t.seat}`)).toEqual(["1-1", "1-2", "1-3"])
    expect(await auditEvent(deps, eventId)).toEqual([])
  })

  test("the event is sold out with its last seat and available again after a release", async () => {
    const { eventId, buyerIds } = await newEvent({ rows: 1, cols: 2, sections: ["A", "B"] })
    const a = reserve({ event_id: eventId, buyer_id: buyerIds[0]!, quantity: 2 })
    const b = reserve({ event_id: eventId, buyer_id: buyerIds[1]!, quantity: 2, section: "B" })
    await step.apply([a])
    const status = async () => (await db.sql`SELECT status FROM events WHERE id = ${eventId}`)[0]!.status
    expect(await status()).toBe("available")
    await step.apply([b])
    expect(await status()).toBe("sold_out")
    expect(JSON.parse((await redis.get(keys.eventMeta(eventId)))!).status).toBe("sold_out")
    await step.apply([release(b)])
    expect(await status()).toBe("available")
    expect(JSON.parse((await redis.get(keys.eventMeta(eventId)))!).status).toBe("available")
  })

  // Batch steps of different partitions run at once; each used to miss the other's last seats.
  test("two batch steps of one event at once: the event is sold out after both, and available after both release", async () => {
    for (let round = 0; round < 10; round++) {
      const { eventId, buyerIds } = await newEvent({ rows: 1, cols: 1, sections: ["A", "B"] })
      const a = reserve({ event_id: eventId, buyer_id: buyerIds[0]!, section: "A" })
      const b = reserve({ event_id: eventId, buyer_id: buyerIds[1]!, section: "B" })
      await Promise.all([step.apply([a]), step.apply([b])])
      const status = async () => (await db.sql`SELECT status FROM events WHERE id = ${eventId}`)[0]!.status
      expect(await status()).toBe("sold_out")
      await Promise.all([step.apply([release(a)]), step.apply([release(b)])])
      expect(await status()).toBe("available")
      expect(await auditEvent(deps, eventId)).toEqual([])
    }
  })

  test("a command for a subsection or a buyer that does not exist is rejected, the rest applied", async () => {
    const { eventId, buyerIds } = await newEvent({ rows: 1, cols: 2 })
    const ghost = reserve({ event_id: eventId, buyer_id: buyerIds[0]!, section: "Z" })
    const nobody = reserve({ event_id: eventId, buyer_id: 987_654_321 })
    const real = reserve({ event_id: eventId, buyer_id: buyerIds[0]! })
    const result = await step.apply([ghost, nobody, real])
    expect(result.rejected.map((r) => r.reason)).toEqual([`Section Z-1 of event ${eventId} does not exist`, "Buyer 987654321 does not exist"])
    expect(result.outcomes.map((o) => o.booking_id)).toEqual([real.booking_id])
  })

  test("publishes each outcome to its buyer and coalesced counts to the event", async () => {
    const { eventId, buyerIds } = await newEvent({ rows: 1, cols: 5 })
    const sub = createRedis(testConfig().redisUrl)
    const messages: { channel: string; body: Record<string, unknown> }[] = []
    sub.on("message", (channel, body) => messages.push({ channel, body: JSON.parse(body) }))
    await sub.subscribe(keys.userChannel(buyerIds[0]!), keys.eventChannel(eventId))
    const a = reserve({ event_id: eventId, buyer_id: buyerIds[0]!, quantity: 2 })
    const b = reserve({ event_id: eventId, buyer_id: buyerIds[0]!, quantity: 1 })
    await step.apply([a, b])
    for (let i = 0; i < 100 && messages.length < 3; i++) await Bun.sleep(20)
    await sub.quit()
    const user = messages.filter((m) => m.channel === keys.userChannel(buyerIds[0]!))
    expect(user.map((m) => [m.body.booking_id, m.body.status])).toEqual([
      [a.booking_id, "pending_payment"],
      [b.booking_id, "pending_payment"],
    ])
    const event = messages.filter((m) => m.channel === keys.eventChannel(eventId))
    expect(event.length).toBe(1)
    expect(event[0]!.body).toMatchObject({
      event_type: "status_update",
      stats: { available: 2, reserved: 3, sold: 0, total: 5 },
      subsection_stats: { "A-1": { price: 1000, available: 2, reserved: 3, sold: 0 } },
    })
  })
})

// An event whose holds last `holdSeconds`.
const newHoldEvent = async (cols: number, holdSeconds = 900) => {
  const event = await insertTestEvent(deps, { rows: 1, cols, sections: ["A"], subsections: 1 })
  await db.sql`UPDATE events SET hold_seconds = ${holdSeconds} WHERE id = ${event.eventId}`
  return event
}
// Moves a hold's deadline into the past, as time passing would.
const pastDeadline = (id: string) => db.sql`UPDATE bookings SET expires_at = now() - interval '1 second' WHERE id = ${id}`
const bookingOf = async (id: string) => (await db.sql`SELECT status, expires_at FROM bookings WHERE id = ${id}`)[0]!
const ticketStatuses = async (eventId: number) =>
  (await db.sql`SELECT status FROM tickets WHERE event_id = ${eventId} ORDER BY row, seat`).map((t) => t.status as string)
const eventStatus = async (eventId: number) => (await db.sql`SELECT status FROM events WHERE id = ${eventId}`)[0]!.status as string

describe("expiries in the batch step", () => {
  test("an expiry frees a due hold once: a sold-out event is available again, a replay of the expiry or of the reserve changes nothing", async () => {
    const { eventId, buyerIds } = await newHoldEvent(2)
    const a = reserve({ event_id: eventId, buyer_id: buyerIds[0]!, quantity: 2 })
    await step.apply([a])
    expect(await eventStatus(eventId)).toBe("sold_out")
    // Not due yet: the expire command finds the hold live and leaves it.
    expect((await step.apply([expire(a)])).expired).toBe(0)
    expect((await bookingOf(a.booking_id)).status).toBe("pending_payment")

    await pastDeadline(a.booking_id)
    const result = await step.apply([expire(a)])
    expect(result.expired).toBe(1)
    expect(result.outcomes).toMatchObject([{ booking_id: a.booking_id, status: "expired", tickets: [] }])
    expect((await bookingOf(a.booking_id)).status).toBe("expired")
    expect(await ticketStatuses(eventId)).toEqual(["available", "available"])
    expect(await eventStatus(eventId)).toBe("available")
    expect(await redis.hget(keys.available(eventId), "A-1")).toBe("2")

    // Replays: the expiry again, and the reserve it ended, in one batch.
    const again = await step.apply([a, expire(a)])
    expect([again.expired, again.reserved]).toEqual([0, 0])
    expect(again.outcomes).toMatchObject([{ status: "expired", replayed: true }])
    expect(await ticketStatuses(eventId)).toEqual(["available", "available"])
    expect(await auditEvent(deps, eventId)).toEqual([])
  })

  test("a cancel and an expiry of one hold in one batch free its seats once, cancelled if the cancel came in time, else expired", async () => {
    const { eventId, buyerIds } = await newHoldEvent(4)
    const inTime = reserve({ event_id: eventId, buyer_id: buyerIds[0]!, quantity: 2 })
    const tooLate = reserve({ event_id: eventId, buyer_id: buyerIds[1]!, quantity: 2 })
    await step.apply([inTime, tooLate])
    // The gateway's guarded cancel wins before the deadline; then both deadlines pass.
    expect(await cancelPendingBooking(db.sql, inTime.booking_id)).toBe(true)
    await pastDeadline(inTime.booking_id)
    await pastDeadline(tooLate.booking_id)
    // Past the deadline the gateway refuses the cancel, but its release is already on its way.
    expect(await cancelPendingBooking(db.sql, tooLate.booking_id)).toBe(false)
    const result = await step.apply([release(inTime), expire(inTime), release(tooLate), expire(tooLate)])
    expect(result.outcomes.map((o) => [o.booking_id, o.status])).toEqual([
      [inTime.booking_id, "cancelled"],
      [tooLate.booking_id, "expired"],
    ])
    expect([(await bookingOf(inTime.booking_id)).status, (await bookingOf(tooLate.booking_id)).status]).toEqual(["cancelled", "expired"])
    expect(await ticketStatuses(eventId)).toEqual(["available", "available", "available", "available"])
    expect(await auditEvent(deps, eventId)).toEqual([])
  })

  test("a booking still processing cannot expire: its deadline starts when it is decided, however old the request", async () => {
    const { eventId, buyerIds } = await newHoldEvent(2, 1)
    const old = reserve({ event_id: eventId, buyer_id: buyerIds[0]!, quantity: 1, created_at: new Date(Date.now() - 3_600_000).toISOString() })
    const before = Date.now()
    // An expire command ahead of the reserve (or in its batch) finds nothing to expire.
    const result = await step.apply([expire(old), old, expire(old)])
    expect(result.outcomes).toMatchObject([{ status: "pending_payment" }])
    const booking = await bookingOf(old.booking_id)
    expect(booking.status).toBe("pending_payment")
    expect((booking.expires_at as Date).getTime()).toBeGreaterThanOrEqual(before + 1_000)
    expect(await auditEvent(deps, eventId)).toEqual([])
  })

  test("a payment that locked the hold before its deadline wins over an expiry decided after it: completed, seats sold, nothing freed", async () => {
    const { eventId, buyerIds } = await newHoldEvent(2)
    const a = reserve({ event_id: eventId, buyer_id: buyerIds[0]!, quantity: 2 })
    await step.apply([a])
    await db.sql`UPDATE bookings SET expires_at = now() + interval '500 milliseconds' WHERE id = ${a.booking_id}`
    // The payment's guarded update passes before the deadline and holds the row until after it.
    const payment = await db.sql.reserve()
    try {
      await payment`BEGIN`
      const [won] = await payment`
        UPDATE bookings SET status = 'completed', paid_at = now() WHERE id = ${a.booking_id} AND status = 'pending_payment' AND expires_at > now() RETURNING id`
      expect(won).toBeDefined()
      await payment`UPDATE tickets SET status = 'sold' WHERE booking_id = ${a.booking_id}`
      await payment`UPDATE subsection_stats SET reserved = reserved - 2, sold = sold + 2 WHERE event_id = ${eventId}`
      await Bun.sleep(700)
      const expiring = step.apply([expire(a)])
      await eventually(async () => {
        const [waiting] = await db.sql<{ n: number }[]>`
          SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = ${db.name} AND wait_event_type = 'Lock'`
        return waiting!.n > 0 ? true : undefined
      }, 20_000, "the expiry to wait on the paid booking's row")
      await payment`COMMIT`
      const result = await expiring
      expect([result.expired, result.outcomes]).toEqual([0, []])
    } finally {
      payment.release()
    }
    expect((await bookingOf(a.booking_id)).status).toBe("completed")
    expect(await ticketStatuses(eventId)).toEqual(["sold", "sold"])
    expect(await auditEvent(deps, eventId)).toEqual([])
  })
})
