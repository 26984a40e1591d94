import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { Admin as FencingAdmin } from "@platformatic/kafka"
import { Partitioners, type Admin, type Producer } from "kafkajs"
import { auditEvent } from "../testing/audit.ts"
import { createRedis } from "../shared/clients.ts"
import { encodeCommand, type Command } from "../shared/commands.ts"
import { commandKey, createKafka } from "../shared/kafka.ts"
import { redisKeys } from "../shared/redis-keys.ts"
import { findBestAvailable } from "../shared/seat-finder.ts"
import { createTestDatabase, eventually, testConfig, testLogger, uniqueName, type TestDatabase } from "../testing/helpers.ts"
import { createBatchStep } from "./batch-step.ts"
import { createCommandConsumer } from "./consume-commands.ts"
import { createConsumerWatchdog } from "./consumer-watchdog.ts"
import { groupOffsets } from "./group-offsets.ts"
import { insertTestEvent, reserve } from "../testing/fixtures.ts"

const config = testConfig()
const log = testLogger()
const kafka = createKafka(config, log, uniqueName("watchdog-test"))
const redis = createRedis(config.redisUrl)
const keys = redisKeys(uniqueName("t"))
let db: TestDatabase
let admin: Admin
let producer: Producer
let fencer: FencingAdmin

beforeAll(async () => {
  db = await createTestDatabase()
  admin = kafka.admin()
  await admin.connect()
  producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false })
  await producer.connect()
  fencer = new FencingAdmin({ clientId: uniqueName("fencer"), bootstrapBrokers: [...config.kafkaBrokers] })
})
afterAll(async () => {
  const stale = await redis.keys(keys.all)
  if (stale.length) await redis.del(...stale)
  await Promise.all([producer.disconnect(), admin.disconnect(), fencer.close(), redis.quit()])
  await db.drop()
})

const send = (topic: string, commands: Command[]) =>
  producer.send({ topic, acks: -1, messages: commands.map((c) => ({ key: commandKey(c.event_id, c.section, c.subsection), value: encodeCommand(c) })) })

const decided = async (eventId: number) =>
  (await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM bookings WHERE event_id = ${eventId}`)[0]!.n

// The reserver as main.ts wires it, with a short stall limit and a recorder of crashes.
function startWatchedReserver(topic: string, groupId: string) {
  const crashes: { error: string; restart: boolean }[] = []
  const recreations: string[] = []
  const batch = createBatchStep({ sql: db.sql, redis, keys, log, findSeats: findBestAvailable })
  const watchdog = createConsumerWatchdog({
    create: () => {
      const consumer = createCommandConsumer({
        kafka,
        topic,
        deadLetterTopic: `${topic}.dlq`,
        groupId,
        concurrency: 2,
        sessionTimeoutMs: 6_000,
        log,
        batch,
        onAssign: (partitions) => watchdog.assigned(partitions),
        onBatch: ({ partition }) => watchdog.progressed(partition),
      })
      consumer.onCrash((error, restart) => crashes.push({ error: `${error.name}: ${error.message}`, restart }))
      return consumer
    },
    offsets: () => groupOffsets(admin, topic, groupId),
    log,
    stallMs: 4_000,
    giveUpMs: 60_000,
    onGiveUp: (error) => {
      throw new Error(`gave up: ${error}`)
    },
    onRecreate: (reason) => recreations.push(reason),
  })
  return { watchdog, crashes, recreations }
}

describe("consumer watchdog against the real broker", () => {
  test("a member fenced mid-batch crashes kafkajs for good; the watchdog recreates it and the backlog is decided", async () => {
    const topic = uniqueName("cmd")
    const groupId = uniqueName("group")
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 2 }, { topic: `${topic}.dlq`, numPartitions: 1 }] })
    const { eventId, buyerIds } = await insertTestEvent({ sql: db.sql, redis, keys }, { rows: 5, cols: 10, sections: ["A"], subsections: 1 })
    const book = (n: number) => Array.from({ length: n }, (_, i) => reserve({ event_id: eventId, buyer_id: buyerIds[i % 5]! }))
    const { watchdog, crashes, recreations } = startWatchedReserver(topic, groupId)
    await watchdog.start()
    try {
      await send(topic, book(2))
      await eventually(async () => ((await decided(eventId)) === 2 ? true : undefined), 30_000, "the first decisions")

      // Hold the batch step on the event's row lock (every step takes it), fence the member
      // while the batch is in flight, then let the step finish: its offset commit is refused
      // with "The coordinator is not aware of this member", which kafkajs does not retry.
      const lock = await db.sql.reserve()
      try {
        await lock`BEGIN`
        await lock`SELECT id FROM events WHERE id = ${eventId} FOR UPDATE`
        await send(topic, book(3))
        await eventually(async () => {
          const [waiting] = await db.sql<{ n: number }[]>`
            SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = ${db.name} AND wait_event_type = 'Lock'`
          return waiting!.n > 0 ? true : undefined
        }, 20_000, "the batch step to wait on the row lock")
        await fencer.removeMembersFromConsumerGroup({ groupId })
        await lock`COMMIT`
      } finally {
        lock.release()
      }
      await eventually(() => (crashes.some((c) => !c.restart) ? true : undefined), 20_000, "a crash kafkajs will not restart")
      expect(crashes.find((c) => !c.restart)?.error).toContain("not aware of this member")

      // The backlog that arrives after the crash is decided by the recreated member.
      await send(topic, book(10))
      await eventually(async () => ((await decided(eventId)) === 15 ? true : undefined), 30_000, "every command decided after the crash")
      expect(recreations).toContain("crashed")
      expect(await auditEvent({ sql: db.sql, redis, keys }, eventId)).toEqual([])
      await eventually(() => (watchdog.health().healthy && watchdog.undecided() === 0 ? true : undefined), 10_000, "a healthy reserver with nothing undecided")
    } finally {
      await watchdog.stop()
    }
  }, 90_000)
})
