import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base"
import { Partitioners, type Admin, type Producer } from "kafkajs"
import { join } from "node:path"
import { createRedis } from "../shared/clients.ts"
import { loadConfig } from "../shared/config.ts"
import { encodeCommand, type Command, type ReserveCommand } from "../shared/commands.ts"
import { commandKey, createKafka } from "../shared/kafka.ts"
import { redisKeys } from "../shared/redis-keys.ts"
import { findBestAvailable } from "../shared/seat-finder.ts"
import { createTracing } from "../shared/tracing.ts"
import { createTestDatabase, eventually, startScratchRedis, testConfig, testLogger, uniqueName, type TestDatabase } from "../testing/helpers.ts"
import { createBatchStep } from "./batch-step.ts"
import { createCommandConsumer } from "./consume-commands.ts"
import { auditEvent } from "../testing/audit.ts"
import { insertTestEvent, release, reserve } from "../testing/fixtures.ts"

const config = testConfig()
const log = testLogger()
const kafka = createKafka(config, log, uniqueName("reserver-test"))
const redis = createRedis(config.redisUrl)
const prefix = uniqueName("t")
const keys = redisKeys(prefix)
let db: TestDatabase
let admin: Admin
let producer: Producer

beforeAll(async () => {
  db = await createTestDatabase()
  admin = kafka.admin()
  await admin.connect()
  producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 })
  await producer.connect()
})
afterAll(async () => {
  const stale = await redis.keys(keys.all)
  if (stale.length) await redis.del(...stale)
  await Promise.all([producer.disconnect(), admin.disconnect(), redis.quit()])
  await db.drop()
})

const newTopics = async (partitions = 4) => {
  const topic = uniqueName("cmd")
  const dlq = `${topic}.dlq`
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions }, { topic: dlq, numPartitions: 1 }] })
  return { topic, dlq, groupId: uniqueName("group") }
}

const send = (topic: string, commands: (Command | { raw: string; key: string })[]) =>
  producer.send({
    topic,
    acks: -1,
    messages: commands.map((c) =>
      "raw" in c ? { key: c.key, value: c.raw } : { key: commandKey(c.event_id, c.section, c.subsection), value: encodeCommand(c) },
    ),
  })

const startReserver = async (t: { topic: string; dlq: string; groupId: string }, onAssign?: (partitions: number[]) => void, seatRedis = redis) => {
  const reserver = createCommandConsumer({
    kafka,
    topic: t.topic,
    deadLetterTopic: t.dlq,
    groupId: t.groupId,
    concurrency: 2,
    log,
    onAssign,
    batch: createBatchStep({ sql: db.sql, redis: seatRedis, keys, log, findSeats: findBestAvailable }),
  })
  await reserver.start()
  return reserver
}

const outcomes = (eventId: number) =>
  db.sql<{ id: string; status: string }[]>`SELECT id, status FROM bookings WHERE event_id = ${eventId}`

describe("reserver consumer", () => {
  test("no double sale: 150 requests of random quantity on a 50-seat subsection", async () => {
    const t = await newTopics()
    const { eventId, buyerIds } = await insertTestEvent({ sql: db.sql, redis, keys }, { rows: 5, cols: 10, sections: ["A"], subsections: 1 })
    let seed = 7
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31)
    const commands = Array.from({ length: 150 }, (_, i) =>
      reserve({ event_id: eventId, buyer_id: buyerIds[i % buyerIds.length]!, quantity: 1 + Math.floor(random() * 4) }),
    )
    // Concurrent producers, as many gateway requests would be.
    await Promise.all(Array.from({ length: 10 }, (_, i) => send(t.topic, commands.slice(i * 15, i * 15 + 15))))
    const reserver = await startReserver(t)
    try {
      const rows = await eventually(async () => {
        const r = await outcomes(eventId)
        return r.length === commands.length ? r : undefined
      }, 30_000, "every booking decided")
      const reserved = await db.sql`SELECT count(*)::int AS n FROM tickets WHERE event_id = ${eventId} AND status = 'reserved'`
      expect(reserved[0]!.n).toBeLessThanOrEqual(50)
      expect(rows.filter((r) => r.status === "pending_payment").length).toBeGreaterThan(0)
      // Seats were given until a request could no longer be met; the rest failed with a reason.
      expect(rows.every((r) => r.status === "pending_payment" || r.status === "failed")).toBe(true)
      const doubles = await db.sql`
        SELECT p, count(*) FROM bookings, unnest(seat_positions) p
        WHERE event_id = ${eventId} AND status = 'pending_payment' GROUP BY p HAVING count(*) > 1`
      expect(doubles.length).toBe(0)
      expect(await auditEvent({ sql: db.sql, redis, keys }, eventId)).toEqual([])
    } finally {
      await reserver.stop()
    }
  })

  test("tracing only watches: partition batches are merged into steps as without it, and each batch span holds its step's phases", async () => {
    const t = await newTopics(4)
    const sections = ["A", "B", "C", "D", "E", "F", "G", "H"]
    const { eventId, buyerIds } = await insertTestEvent({ sql: db.sql, redis, keys }, { rows: 2, cols: 10, sections, subsections: 1 })
    const commands = Array.from({ length: 80 }, (_, i) => reserve({ event_id: eventId, buyer_id: buyerIds[i % buyerIds.length]!, section: sections[i % sections.length]! }))
    await send(t.topic, commands)
    const exporter = new InMemorySpanExporter()
    const tracing = (await createTracing(loadConfig({}).tracing, "reserver-test", exporter))!
    const reserver = createCommandConsumer({
      kafka,
      topic: t.topic,
      deadLetterTopic: t.dlq,
      groupId: t.groupId,
      concurrency: 4,
      log,
      tracing,
      batch: createBatchStep({ sql: db.sql, redis, keys, log, findSeats: findBestAvailable }),
    })
    await reserver.start()
    try {
      await eventually(async () => ((await outcomes(eventId)).length === commands.length ? true : undefined), 30_000, "every booking decided")
    } finally {
      // Stopping lets the last batch commit, which ends its span.
      await reserver.stop()
    }
    const spans = exporter.getFinishedSpans()
    await tracing.shutdown()
    const batches = spans.filter((s) => s.name === `process ${t.topic}`)
    const phasesOf = (batch: (typeof spans)[number]) => spans.filter((s) => s.parentSpanContext?.spanId === batch.spanContext().spanId && s.name.startsWith("batch "))
    expect(batches.length).toBeGreaterThan(1)
    for (const batch of batches) {
      expect(phasesOf(batch).map((s) => s.name)).toEqual(["batch load", "batch decide", "batch pg-write", "batch redis-apply", "batch publish"])
    }
    // The backlog of four partitions arrives together, so some steps merged batches of several of them.
    const merged = batches.filter((b) => (phasesOf(b)[0]!.attributes["batch.step.batches"] as number) > 1)
    expect(merged.length).toBeGreaterThan(1)
    expect(merged.every((b) => (phasesOf(b)[0]!.attributes["batch.step.commands"] as number) > (b.attributes["messaging.batch.message_count"] as number))).toBe(true)
    expect(await auditEvent({ sql: db.sql, redis, keys }, eventId)).toEqual([])
  })

  test("a poison message goes to the dead-letter topic and the partition moves on", async () => {
    const t = await newTopics(1)
    const { eventId, buyerIds } = await insertTestEvent({ sql: db.sql, redis, keys }, { rows: 1, cols: 5, sections: ["A"], subsections: 1 })
    const before = reserve({ event_id: eventId, buyer_id: buyerIds[0]! })
    const after = reserve({ event_id: eventId, buyer_id: buyerIds[1]! })
    const ghost = reserve({ event_id: eventId, buyer_id: buyerIds[1]!, section: "Q" })
    await send(t.topic, [before, { raw: "{not json", key: `${eventId}:A-1` }, { raw: '{"type":"reserve"}', key: `${eventId}:A-1` }, ghost, after])
    const reserver = await startReserver(t)
    const dead: { value: string; error: string; offset: string }[] = []
    const dlqConsumer = kafka.consumer({ groupId: uniqueName("dlq-reader") })
    try {
      await eventually(async () => ((await outcomes(eventId)).length === 2 ? true : undefined), 30_000, "both good commands decided")
      await dlqConsumer.connect()
      await dlqConsumer.subscribe({ topic: t.dlq, fromBeginning: true })
      await dlqConsumer.run({
        eachMessage: async ({ message }) => {
          dead.push({ value: message.value!.toString(), error: message.headers!["x-error"]!.toString(), offset: message.headers!["x-original-offset"]!.toString() })
        },
      })
      await eventually(() => (dead.length === 3 ? true : undefined), 30_000, "three dead letters")
      expect(dead.map((d) => d.value)).toEqual(["{not json", '{"type":"reserve"}', JSON.stringify(ghost)])
      expect(dead.map((d) => d.error)).toEqual(["not JSON", "booking_id must be a UUID", `Section Q-1 of event ${eventId} does not exist`])
      expect(dead.map((d) => d.offset)).toEqual(["1", "2", "3"])
      // Offsets are committed past everything: nothing is retried forever.
      const [committed] = await admin.fetchOffsets({ groupId: t.groupId, topics: [t.topic] })
      await eventually(async () => {
        const [c] = await admin.fetchOffsets({ groupId: t.groupId, topics: [t.topic] })
        return c!.partitions[0]!.offset === "5" ? true : undefined
      }, 10_000, "offset 5 committed")
      expect(committed).toBeDefined()
    } finally {
      await dlqConsumer.disconnect()
      await reserver.stop()
    }
  })

  test("more dead letters than one produce request can carry are all dead-lettered, and the partition moves on", async () => {
    const t = await newTopics(1)
    const { eventId, buyerIds } = await insertTestEvent({ sql: db.sql, redis, keys }, { rows: 1, cols: 5, sections: ["A"], subsections: 1 })
    // One fetch brings about 1 MB of these; with the dead-letter headers added, sending them back
    // in one produce request would exceed the broker's 1 MB limit.
    const junk = Array.from({ length: 6000 }, (_, i) => ({ raw: `${i}:${"x".repeat(200)}`, key: `${eventId}:A-1` }))
    const after = reserve({ event_id: eventId, buyer_id: buyerIds[0]! })
    for (let i = 0; i < junk.length; i += 2000) await send(t.topic, junk.slice(i, i + 2000))
    await send(t.topic, [after])
    const reserver = await startReserver(t)
    try {
      await eventually(async () => ((await outcomes(eventId)).length === 1 ? true : undefined), 30_000, "the command after the junk decided")
      const offsets = await admin.fetchTopicOffsets(t.dlq)
      await eventually(async () => {
        const [dlq] = await admin.fetchTopicOffsets(t.dlq)
        return dlq!.high === "6000" ? true : undefined
      }, 20_000, "6,000 dead letters")
      expect(offsets.length).toBe(1)
    } finally {
      await reserver.stop()
    }
  })

  test("two reservers split the partitions; stopping one hands its partitions over, nothing lost or doubled", async () => {
    const t = await newTopics(6)
    const { eventId, buyerIds } = await insertTestEvent({ sql: db.sql, redis, keys }, { rows: 10, cols: 10, sections: ["A", "B", "C"], subsections: 4 })
    const assigned: number[][] = []
    const first = await startReserver(t, (p) => assigned.push(p))
    const second = await startReserver(t, (p) => assigned.push(p))
    const make = (n: number) =>
      Array.from({ length: n }, (_, i) =>
        reserve({ event_id: eventId, buyer_id: buyerIds[i % 5]!, section: "ABC"[i % 3]!, subsection: 1 + (i % 4), quantity: 1 + (i % 3) }),
      )
    const wave1 = make(120)
    await send(t.topic, wave1)
    await eventually(async () => ((await outcomes(eventId)).length === 120 ? true : undefined), 30_000, "first wave decided")
    await eventually(() => (assigned.length >= 2 ? true : undefined), 20_000, "both members assigned")
    const lastTwo = assigned.slice(-2)
    expect(lastTwo.every((a) => a.length > 0)).toBe(true)
    expect(lastTwo.flat().sort()).toEqual([0, 1, 2, 3, 4, 5])

    await first.stop()
    const wave2 = make(120)
    const releases = wave1.slice(0, 30).map(release)
    await send(t.topic, [...wave2, ...releases])
    try {
      await eventually(async () => {
        const rows = await outcomes(eventId)
        const cancelled = rows.filter((r) => r.status === "cancelled").length
        return rows.length === 240 && cancelled >= 1 ? true : undefined
      }, 40_000, "second wave decided by the remaining reserver")
      const rows = await outcomes(eventId)
      expect(new Set(rows.map((r) => r.id)).size).toBe(240)
      const releasedIds = new Set(releases.map((r) => r.booking_id))
      await eventually(async () => {
        const r = await outcomes(eventId)
        const notYet = r.filter((b) => releasedIds.has(b.id) && b.status === "pending_payment")
        return notYet.length === 0 ? true : undefined
      }, 20_000, "every release applied")
      expect(await auditEvent({ sql: db.sql, redis, keys }, eventId)).toEqual([])
    } finally {
      await second.stop()
    }
  })

  test("Redis down for a while: batches are retried without committing, and every booking gets one outcome once it is back", async () => {
    const scratch = await startScratchRedis()
    const seatRedis = createRedis(scratch.url)
    seatRedis.on("error", () => {})
    const t = await newTopics(2)
    const { eventId, buyerIds } = await insertTestEvent({ sql: db.sql, redis: seatRedis, keys }, { rows: 5, cols: 10, sections: ["A"], subsections: 2 })
    const book = (i: number) => reserve({ event_id: eventId, buyer_id: buyerIds[i % 5]!, subsection: 1 + (i % 2), quantity: 1 + (i % 3) })
    const reserver = await startReserver(t, undefined, seatRedis)
    try {
      await send(t.topic, [book(0)])
      await eventually(async () => ((await outcomes(eventId)).length === 1 ? true : undefined), 30_000, "the first outcome")

      await scratch.stop()
      const during = Array.from({ length: 30 }, (_, i) => book(i + 1))
      await send(t.topic, during)
      // Several failed attempts and backoffs: nothing is decided while the seat maps are out of reach.
      await Bun.sleep(2_000)
      expect((await outcomes(eventId)).length).toBe(1)

      await scratch.start()
      await eventually(async () => ((await outcomes(eventId)).length === 31 ? true : undefined), 30_000, "every outcome after Redis came back")
      // The consumer kept running: a command sent now is decided too.
      await send(t.topic, [book(99)])
      const rows = await eventually(async () => {
        const r = await outcomes(eventId)
        return r.length === 32 ? r : undefined
      }, 30_000, "the outcome of a later command")
      expect(new Set(rows.map((r) => r.id)).size).toBe(32)
      expect(await auditEvent({ sql: db.sql, redis: seatRedis, keys }, eventId)).toEqual([])
    } finally {
      await reserver.stop()
      seatRedis.disconnect()
      await scratch.close()
    }
  })

  test("a reserver killed with SIGKILL mid-backlog restarts and every booking gets exactly one outcome", async () => {
    const t = await newTopics(4)
    const { eventId, buyerIds } = await insertTestEvent({ sql: db.sql, redis, keys }, { rows: 20, cols: 25, sections: ["A", "B"], subsections: 4 })
    // More than one fetch holds (about 1 MB per partition), so the kill lands between batches.
    const commands: ReserveCommand[] = Array.from({ length: 40_000 }, (_, i) =>
      reserve({ event_id: eventId, buyer_id: buyerIds[i % 5]!, section: "AB"[(i >> 2) & 1]!, subsection: 1 + (i % 4), quantity: 1 + ((i >> 3) % 4) }),
    )
    for (let i = 0; i < commands.length; i += 2000) await send(t.topic, commands.slice(i, i + 2000))
    const env = {
      ...process.env,
      DATABASE_URL: db.url,
      REDIS_PREFIX: prefix,
      COMMAND_TOPIC: t.topic,
      DEAD_LETTER_TOPIC: t.dlq,
      RESERVER_GROUP_ID: t.groupId,
      COMMAND_PARTITIONS: "4",
      LOG_LEVEL: "warn",
      // Any free port: a reserver from `npm start` may hold the default one.
      METRICS_PORT: "0",
    }
    const main = join(import.meta.dir, "main.ts")
    const spawn = () => Bun.spawn([process.execPath, main], { env, stdout: "ignore", stderr: "inherit" })
    let proc = spawn()
    await eventually(async () => ((await outcomes(eventId)).length > 0 ? true : undefined), 30_000, "first outcomes")
    proc.kill(9)
    await proc.exited
    const partial = (await outcomes(eventId)).length
    proc = spawn()
    try {
      await eventually(async () => ((await outcomes(eventId)).length === commands.length ? true : undefined), 60_000, "all outcomes after restart")
      const rows = await outcomes(eventId)
      expect(new Set(rows.map((r) => r.id)).size).toBe(commands.length)
      expect(partial).toBeLessThan(commands.length)
      // 4,000 seats, 100,000 asked for: the event sells out and nothing is sold twice.
      const [stats] = await db.sql`SELECT sum(available)::int AS available, sum(reserved)::int AS reserved FROM subsection_stats WHERE event_id = ${eventId}`
      console.log("after SIGKILL and restart:", stats)
      expect(stats!.reserved + stats!.available).toBe(4000)
      expect(await auditEvent({ sql: db.sql, redis, keys }, eventId)).toEqual([])
    } finally {
      proc.kill()
      await proc.exited
    }
  })
})
