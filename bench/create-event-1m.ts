// bun bench/create-event-1m.ts [layout]: times createEvent for a standard layout (default "1m") against a
// fresh database and a unique Redis prefix, then removes both.
import { createRedis } from "../shared/clients.ts"
import { redisKeys } from "../shared/redis-keys.ts"
import { loadStandardSeatingConfig, totalSeats } from "../gateway/seating.ts"
import { createTestDatabase, testConfig, testLogger, uniqueName } from "../testing/helpers.ts"
import { createEvent } from "../gateway/create-event.ts"
import { insertUser } from "../gateway/users-db.ts"
import { resetData } from "../gateway/seed.ts"

const layout = process.argv[2] ?? "1m"
const seating = loadStandardSeatingConfig(layout)
const db = await createTestDatabase()
const config = testConfig({ REDIS_PREFIX: uniqueName("bench") })
const redis = createRedis(config.redisUrl)
const deps = { sql: db.sql, redis, keys: redisKeys(config.redisPrefix), log: testLogger("bench"), config }
try {
  const seller = await insertUser(db.sql, { email: "s@t.com", hashedPassword: "-", name: "bench seller", role: "seller" })
  const started = performance.now()
  const event = await createEvent(deps, seller!.id, { name: "Bench", description: "Bench", venue_name: "Bench", seating_config: seating })
  const seconds = (performance.now() - started) / 1000
  const [{ tickets }] = await db.sql<[{ tickets: number }]>`SELECT count(*)::int AS tickets FROM tickets WHERE event_id = ${event.id}`
  console.log(`createEvent "${layout}": ${totalSeats(seating)} seats, ${tickets} tickets written, in ${seconds.toFixed(2)} s`)
} finally {
  await resetData(deps)
  redis.disconnect()
  await db.drop()
}
