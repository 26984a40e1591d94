import { afterAll, beforeAll, expect, test } from "bun:test"
import { join } from "node:path"
import { auditEvent } from "../testing/audit.ts"
import { createRedis } from "../shared/clients.ts"
import { redisKeys } from "../shared/redis-keys.ts"
import { findBestAvailable } from "../shared/seat-finder.ts"
import { createTestDatabase, testConfig, testLogger, uniqueName, type TestDatabase } from "../testing/helpers.ts"
import { createBatchStep, type BatchStepDeps } from "./batch-step.ts"
import { insertTestEvent, reserve } from "../testing/fixtures.ts"

const config = testConfig()
const redis = createRedis(config.redisUrl)
const prefix = uniqueName("t")
const keys = redisKeys(prefix)
let db: TestDatabase
let deps: BatchStepDeps

beforeAll(async () => {
  db = await createTestDatabase()
  deps = { sql: db.sql, redis, keys, log: testLogger(), findSeats: findBestAvailable }
})
afterAll(async () => {
  const stale = await redis.keys(keys.all)
  if (stale.length) await redis.del(...stale)
  await redis.quit()
  await db.drop()
})

const reconcile = async (...args: string[]) => {
  const proc = Bun.spawn([process.execPath, join(import.meta.dir, "reconcile-cli.ts"), ...args], {
    env: { ...process.env, DATABASE_URL: db.url, REDIS_PREFIX: prefix, LOG_LEVEL: "warn" },
    stdout: "pipe",
    stderr: "pipe",
  })
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
  return { code, out: out + err }
}

test("reconcile rebuilds seat maps and counters that Redis lost or got wrong, from PostgreSQL", async () => {
  const { eventId, buyerIds } = await insertTestEvent(deps, { rows: 2, cols: 5, sections: ["A", "B"], subsections: 2 })
  await createBatchStep(deps).apply([
    reserve({ event_id: eventId, buyer_id: buyerIds[0]!, quantity: 3 }),
    reserve({ event_id: eventId, buyer_id: buyerIds[1]!, section: "B", subsection: 2, quantity: 4 }),
  ])
  const before = {
    a1: await redis.getBuffer(keys.seats(eventId, "A", 1)),
    b2: await redis.getBuffer(keys.seats(eventId, "B", 2)),
    counters: await redis.hgetall(keys.available(eventId)),
  }
  expect(before.counters).toEqual({ "A-1": "7", "A-2": "10", "B-1": "10", "B-2": "6" })

  // A Redis restored from an old snapshot: one map gone, one with a seat freed, one counter wrong.
  await redis.del(keys.seats(eventId, "A", 1))
  await redis.setbit(keys.seats(eventId, "B", 2), 0, 0)
  await redis.hset(keys.available(eventId), "A-2", "3")
  expect((await auditEvent(deps, eventId)).length).toBeGreaterThan(0)

  const run = await reconcile(String(eventId))
  expect(run.code).toBe(0)
  expect(run.out).toContain(`event ${eventId}: 4 subsections rebuilt from PostgreSQL`)
  expect(await redis.getBuffer(keys.seats(eventId, "A", 1))).toEqual(before.a1)
  expect(await redis.getBuffer(keys.seats(eventId, "B", 2))).toEqual(before.b2)
  expect(await redis.hgetall(keys.available(eventId))).toEqual(before.counters)
  expect(await auditEvent(deps, eventId)).toEqual([])
})

test("--all takes every available or sold-out event; bad arguments and unknown events are errors", async () => {
  const first = await insertTestEvent(deps, { rows: 1, cols: 3, sections: ["A"], subsections: 1 })
  const second = await insertTestEvent(deps, { rows: 1, cols: 3, sections: ["A"], subsections: 1 })
  await redis.del(keys.seats(first.eventId, "A", 1), keys.seats(second.eventId, "A", 1))
  const all = await reconcile("--all")
  expect(all.code).toBe(0)
  expect(all.out).toContain(`event ${first.eventId}: 1 subsections rebuilt`)
  expect(all.out).toContain(`event ${second.eventId}: 1 subsections rebuilt`)
  expect(await auditEvent(deps, first.eventId)).toEqual([])
  expect(await auditEvent(deps, second.eventId)).toEqual([])

  expect((await reconcile()).code).toBe(2)
  expect((await reconcile("abc")).code).toBe(2)
  const unknown = await reconcile("987654")
  expect(unknown.code).toBe(1)
  expect(unknown.out).toContain("event 987654 has no seats in PostgreSQL")
})
