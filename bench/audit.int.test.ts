import { afterAll, beforeAll, expect, test } from "bun:test"
import { auditEvent } from "../testing/audit.ts"
import { createRedis } from "../shared/clients.ts"
import { redisKeys } from "../shared/redis-keys.ts"
import { findBestAvailable } from "../shared/seat-finder.ts"
import { createTestDatabase, testConfig, testLogger, uniqueName, type TestDatabase } from "../testing/helpers.ts"
import { createBatchStep } from "../reserver/batch-step.ts"
import { insertTestEvent, reserve } from "../testing/fixtures.ts"

// The benchmarks' verdict rests on this audit, so it must catch what it exists to catch.
let db: TestDatabase
const redis = createRedis(testConfig().redisUrl)
const keys = redisKeys(uniqueName("t"))

beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(async () => {
  const stale = await redis.keys(keys.all)
  if (stale.length) await redis.del(...stale)
  await redis.quit()
  await db.drop()
})

const soldEvent = async () => {
  const deps = { sql: db.sql, redis, keys }
  const { eventId, buyerIds } = await insertTestEvent(deps, { rows: 2, cols: 5, sections: ["A"], subsections: 1 })
  const commands = buyerIds.map((buyer) => reserve({ event_id: eventId, buyer_id: buyer, quantity: 2 }))
  await createBatchStep({ ...deps, log: testLogger(), findSeats: findBestAvailable }).apply(commands)
  return { eventId, commands }
}

test("a clean sellout passes the audit", async () => {
  const { eventId } = await soldEvent()
  expect(await auditEvent({ sql: db.sql, redis, keys }, eventId)).toEqual([])
})

test("a planted double sale is caught", async () => {
  const { eventId, commands } = await soldEvent()
  const victim = commands[0]!
  const [row] = await db.sql`SELECT buyer_id, seat_positions FROM bookings WHERE id = ${victim.booking_id}`
  // A second live booking claiming the victim's seats, as a broken reserver would write it.
  await db.sql`
    INSERT INTO bookings (id, buyer_id, event_id, section, subsection, quantity, seat_selection_mode, seat_positions, total_price, status, created_at)
    VALUES (${Bun.randomUUIDv7()}, ${row!.buyer_id}, ${eventId}, 'A', 1, 2, 'manual', ${row!.seat_positions}, 2000, 'pending_payment', now())`
  const problems = await auditEvent({ sql: db.sql, redis, keys }, eventId)
  expect(problems.some((p) => p.startsWith(`seat A-1:${row!.seat_positions[0]} sold twice`))).toBe(true)
})

test("Redis disagreeing with PostgreSQL is caught", async () => {
  const { eventId } = await soldEvent()
  await redis.setbit(keys.seats(eventId, "A", 1), 0, 0)
  expect(await auditEvent({ sql: db.sql, redis, keys }, eventId)).toContain("A-1 seat 1-1: redis bit 0, ticket reserved")
})

test("a sold-out event still marked available is caught", async () => {
  const { eventId } = await soldEvent()
  await db.sql`UPDATE events SET status = 'available' WHERE id = ${eventId}`
  expect(await auditEvent({ sql: db.sql, redis, keys }, eventId)).toContain("event status available with 0 seats free")
})
