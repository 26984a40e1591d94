// A reserver killed (-9) after it decided holds and before their deadline: nothing expires them
// while no reserver runs, and the next reserver to own their partition expires them when it starts.
import { afterAll, beforeAll, expect, test } from "bun:test"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Partitioners, type Producer } from "kafkajs"
import { createRedis } from "../shared/clients.ts"
import { encodeCommand } from "../shared/commands.ts"
import { commandKey, createKafka } from "../shared/kafka.ts"
import { redisKeys } from "../shared/redis-keys.ts"
import { auditEvent } from "../testing/audit.ts"
import { insertTestEvent, reserve } from "../testing/fixtures.ts"
import { groupOffsets } from "./group-offsets.ts"
import { createTestDatabase, eventually, freePort, isolatedStackEnv, testConfig, testLogger, uniqueName, type TestDatabase } from "../testing/helpers.ts"

const root = join(import.meta.dir, "..")
const dataDir = mkdtempSync(join(tmpdir(), "holds-restart-"))
const redis = createRedis(testConfig().redisUrl)
const kafka = createKafka(testConfig(), testLogger(), uniqueName("holds-restart"))
let db: TestDatabase
let env: Record<string, string>
let producer: Producer
let reserver: Bun.Subprocess | undefined

beforeAll(async () => {
  db = await createTestDatabase()
  env = isolatedStackEnv({ dataDir, databaseUrl: db.url, gatewayPort: freePort(), metricsPort: freePort() })
  producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false })
  await producer.connect()
})
afterAll(async () => {
  reserver?.kill("SIGKILL")
  const stale = await redis.keys(redisKeys(env.REDIS_PREFIX!).all)
  if (stale.length) await redis.del(...stale)
  await Promise.all([producer.disconnect(), redis.quit()])
  await db.drop()
  rmSync(dataDir, { recursive: true, force: true })
})

// `bun reserver/main.ts` on this test's database, Redis prefix, topic and group; resolves once it owns partitions.
const startReserver = async () => {
  const proc = Bun.spawn([process.execPath, join(root, "reserver/main.ts")], { env: { ...process.env, ...env }, stdin: "ignore", stdout: "ignore", stderr: "inherit" })
  await eventually(async () => {
    const res = await fetch(`http://127.0.0.1:${env.METRICS_PORT}/health`).catch(() => undefined)
    const body = res?.ok ? ((await res.json()) as { partitions: number[] }) : undefined
    return body && body.partitions.length > 0 ? true : undefined
  }, 60_000, "the reserver owning its partitions")
  return proc
}

test("holds whose deadline passed while no reserver ran are expired by the next one to start", async () => {
  const keys = redisKeys(env.REDIS_PREFIX!)
  const { eventId, buyerIds } = await insertTestEvent({ sql: db.sql, redis, keys }, { rows: 1, cols: 6, sections: ["A"], subsections: 2 })
  await db.sql`UPDATE events SET hold_seconds = 3 WHERE id = ${eventId}`
  reserver = await startReserver()
  const commands = [1, 2].flatMap((subsection) => [0, 1].map((i) => reserve({ event_id: eventId, buyer_id: buyerIds[i]!, subsection, quantity: 2 })))
  await producer.send({
    topic: env.COMMAND_TOPIC!,
    acks: -1,
    messages: commands.map((c) => ({ key: commandKey(c.event_id, c.section, c.subsection), value: encodeCommand(c) })),
  })
  const pending = () => db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM bookings WHERE event_id = ${eventId} AND status = 'pending_payment'`
  await eventually(async () => ((await pending())[0]!.n === 4 ? true : undefined), 30_000, "four holds decided")
  // Committed too, so the next reserver does not replay the reserves: it must find the holds in PostgreSQL.
  const admin = kafka.admin()
  await admin.connect()
  try {
    await eventually(async () => {
      const offsets = await groupOffsets(admin, env.COMMAND_TOPIC!, env.RESERVER_GROUP_ID!)
      return offsets.every((p) => p.committed === p.high) ? true : undefined
    }, 30_000, "the reserves committed")
  } finally {
    await admin.disconnect()
  }
  reserver.kill("SIGKILL")
  await reserver.exited

  // Past every deadline with no reserver running: the holds are still there.
  const [{ last }] = await db.sql<[{ last: Date }]>`SELECT max(expires_at) AS last FROM bookings WHERE event_id = ${eventId}`
  await Bun.sleep(Math.max(0, last.getTime() - Date.now() + 500))
  expect((await pending())[0]!.n).toBe(4)

  reserver = await startReserver()
  await eventually(async () => ((await pending())[0]!.n === 0 ? true : undefined), 60_000, "the holds expired after the restart")
  const statuses = await db.sql`SELECT status, count(*)::int AS n FROM bookings WHERE event_id = ${eventId} GROUP BY status`
  expect(statuses.map((s) => [s.status, s.n])).toEqual([["expired", 4]])
  const [stats] = await db.sql`SELECT sum(available)::int AS available, sum(reserved)::int AS reserved FROM subsection_stats WHERE event_id = ${eventId}`
  expect(stats).toEqual({ available: 12, reserved: 0 })
  expect(await auditEvent({ sql: db.sql, redis, keys }, eventId)).toEqual([])
}, 150_000)
