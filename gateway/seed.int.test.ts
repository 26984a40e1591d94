import { afterAll, beforeAll, expect, test } from "bun:test"
import { join } from "node:path"
import { createRedis } from "../shared/clients.ts"
import { redisKeys } from "../shared/redis-keys.ts"
import { createTestDatabase, testConfig, testLogger, uniqueName, type TestDatabase } from "../testing/helpers.ts"
import { resetData, seed, SEED_PASSWORD } from "./seed.ts"

let db: TestDatabase
const config = testConfig({ REDIS_PREFIX: uniqueName("t") })
const redis = createRedis(config.redisUrl)
const keys = redisKeys(config.redisPrefix)
const deps = () => ({ sql: db.sql, redis, keys, log: testLogger(), seats: "500", config })

beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(async () => {
  await resetData({ sql: db.sql, redis, keys })
  redis.disconnect()
  await db.drop()
})

const counts = async () =>
  (
    await db.sql<[{ users: number; events: number; tickets: number }]>`
      SELECT (SELECT count(*)::int FROM users) AS users, (SELECT count(*)::int FROM events) AS events,
             (SELECT count(*)::int FROM tickets) AS tickets`
  )[0]

test("on an empty database: the three users and event 1 at Taipei Arena with the SEATS layout; again: a no-op", async () => {
  const first = await seed(deps())
  expect(first).toEqual({ createdUsers: ["s@t.com", "b@t.com", "b_1@t.com"], event: { id: 1, seats: 500, ms: expect.any(Number) } })

  const users = await db.sql`SELECT id, email, name, role, hashed_password FROM users ORDER BY id`
  expect(users.map(({ email, name, role }) => ({ email, name, role }))).toEqual([
    { email: "s@t.com", name: "init seller", role: "seller" },
    { email: "b@t.com", name: "init buyer", role: "buyer" },
    { email: "b_1@t.com", name: "Load Test User", role: "buyer" },
  ])
  for (const user of users) expect(await Bun.password.verify(SEED_PASSWORD, user.hashed_password)).toBe(true)
  const [event] = await db.sql`SELECT id, name, venue_name, seller_id, status, seating_config->>'total_seats' AS total FROM events`
  expect(event).toEqual({ id: "1", name: "Concert Event", venue_name: "Taipei Arena", seller_id: users[0]!.id, status: "available", total: "500" })
  expect(await redis.exists(keys.eventMeta(1))).toBe(1)

  const before = await counts()
  expect(before).toEqual({ users: 3, events: 1, tickets: 500 })
  expect(await seed(deps())).toEqual({ createdUsers: [] })
  expect(await counts()).toEqual(before)
})

test("reset empties the tables and this prefix's Redis keys only, so seeding makes event 1 again", async () => {
  await db.sql`INSERT INTO users (email, hashed_password, name, role) VALUES ('extra@t.com', 'x', 'extra', 'buyer')`
  const foreign = `${uniqueName("t")}:seats:{1}:A-1`
  await redis.set(foreign, "keep")
  try {
    expect(await resetData({ sql: db.sql, redis, keys })).toBeGreaterThan(0)
    expect(await counts()).toEqual({ users: 0, events: 0, tickets: 0 })
    expect(await redis.exists(keys.eventMeta(1), keys.available(1))).toBe(0)
    expect(await redis.get(foreign)).toBe("keep")
    expect((await seed(deps())).event?.id).toBe(1)
    expect(await counts()).toEqual({ users: 3, events: 1, tickets: 500 })
  } finally {
    await redis.del(foreign)
  }
})

test("the seed command: --reset then seeds, a second run says there is nothing to do, unknown flags are refused", async () => {
  const run = async (...args: string[]) => {
    const proc = Bun.spawn([process.execPath, join(import.meta.dir, "seed-cli.ts"), ...args], {
      env: { ...process.env, NODE_ENV: "test", DATABASE_URL: db.url, REDIS_PREFIX: config.redisPrefix, SEATS: "500" },
      stdout: "pipe",
      stderr: "pipe",
    })
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
    return { code, out: out + err }
  }
  const reset = await run("--reset")
  expect(reset.code).toBe(0)
  expect(reset.out).toContain("[seed] reset: tables emptied")
  expect(reset.out).toMatch(/\[seed\] created event 1 in \d+ ms/)
  const again = await run()
  expect(again).toEqual({ code: 0, out: "[seed] users and events exist already; nothing to do (--reset starts over)\n" })
  expect((await run("--wipe")).code).toBe(2)
})
