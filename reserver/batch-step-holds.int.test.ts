// Expiries in the batch step against the real PostgreSQL and Redis: ordered with reserves and
// releases, idempotent under replay, and never both won with a payment.
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { createRedis } from "../shared/clients.ts"
import { redisKeys } from "../shared/redis-keys.ts"
import { findBestAvailable } from "../shared/seat-finder.ts"
import { auditEvent } from "../testing/audit.ts"
import { expire, insertTestEvent, release, reserve } from "../testing/fixtures.ts"
import { createTestDatabase, eventually, testConfig, testLogger, uniqueName, type TestDatabase } from "../testing/helpers.ts"
import { cancelPendingBooking } from "../gateway/bookings-db.ts"
import { createBatchStep, type BatchStep, type BatchStepDeps } from "./batch-step.ts"

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
  const stale = await redis.keys(keys.all)
  if (stale.length) await redis.del(...stale)
  await redis.quit()
  await db.drop()
})

// An event whose holds last `holdSeconds`.
const newEvent = async (cols: number, holdSeconds = 900) => {
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
    const { eventId, buyerIds } = await newEvent(2)
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
    const { eventId, buyerIds } = await newEvent(4)
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
    const { eventId, buyerIds } = await newEvent(2, 1)
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
    const { eventId, buyerIds } = await newEvent(2)
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
