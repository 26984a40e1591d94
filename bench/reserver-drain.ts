// Reserver drain: pre-fills a fresh command topic with N reserve commands, then measures
// how fast one reserver (in this process, as reserver/main.ts would run it) turns them
// into outcomes in PostgreSQL and Redis, and audits the result.
//
//   npm run bench:drain -- [--commands 100000] [--partitions 12] [--concurrency 4] [--rows 50 --cols 50 --subsections 10]
//   SEAT_FINDER=ts|native picks the seat finder, as for the reserver.
import { cpus, loadavg } from "node:os"
import { parseArgs } from "node:util"
import { Partitioners } from "kafkajs"
import { createRedis } from "../shared/clients.ts"
import { encodeCommand } from "../shared/commands.ts"
import { commandKey, createKafka } from "../shared/kafka.ts"
import { redisKeys } from "../shared/redis-keys.ts"
import { findBestAvailableNative, loadSeatFinder } from "../reserver/native-seat-finder.ts"
import type { SeatFinder } from "../shared/seat-finder.ts"
import { createTestDatabase, testConfig, testLogger, uniqueName } from "../testing/helpers.ts"
import { createBatchStep } from "../reserver/batch-step.ts"
import { createCommandConsumer } from "../reserver/consume-commands.ts"
import { auditEvent } from "../testing/audit.ts"
import { insertTestEvent, reserve } from "../testing/fixtures.ts"

const { values: args } = parseArgs({
  options: {
    commands: { type: "string", default: "100000" },
    partitions: { type: "string", default: "12" },
    concurrency: { type: "string", default: "4" },
    rows: { type: "string", default: "50" },
    cols: { type: "string", default: "50" },
    subsections: { type: "string", default: "10" },
  },
})
const total = Number(args.commands)
const partitions = Number(args.partitions)
const concurrency = Number(args.concurrency)
const [rows, cols, subsections] = [Number(args.rows), Number(args.cols), Number(args.subsections)]
const say = (line: string) => console.log(`[drain] ${line}`)

const config = testConfig()
const log = testLogger("drain")
const chosenFinder = loadSeatFinder(log, config.seatFinder)
const finderName = chosenFinder === findBestAvailableNative ? "native" : "TypeScript"
// Timed in place: the drain's own CPU figure is too noisy to show a few percent, the finder's sum is not.
const finderTime = { calls: 0, ns: 0 }
const findSeats: SeatFinder = (map, rows, cols, quantity) => {
  const started = Bun.nanoseconds()
  const seats = chosenFinder(map, rows, cols, quantity)
  finderTime.ns += Bun.nanoseconds() - started
  finderTime.calls++
  return seats
}
const db = await createTestDatabase()
const redis = createRedis(config.redisUrl)
const keys = redisKeys(uniqueName("bench"))
const kafka = createKafka(config, log, "bench-drain")
const topic = uniqueName("drain")
try {
  // By default 10 sections × 10 subsections × 50 × 50 = 250,000 seats: enough that most commands succeed.
  const sections = "ABCDEFGHIJ".split("")
  const { eventId, buyerIds } = await insertTestEvent({ sql: db.sql, redis, keys }, { rows, cols, sections, subsections })
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions }, { topic: `${topic}.dlq`, numPartitions: 1 }] })
  await admin.disconnect()

  say(`producing ${total.toLocaleString()} reserve commands to ${topic} (${partitions} partitions)`)
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false })
  await producer.connect()
  const chunk = 5_000
  for (let i = 0; i < total; i += chunk) {
    const messages = Array.from({ length: Math.min(chunk, total - i) }, (_, j) => {
      const n = i + j
      const command = reserve({
        event_id: eventId,
        buyer_id: buyerIds[n % buyerIds.length]!,
        section: sections[n % sections.length]!,
        subsection: 1 + (Math.floor(n / sections.length) % subsections),
        quantity: 1 + (n % 4),
      })
      return { key: commandKey(command.event_id, command.section, command.subsection), value: encodeCommand(command) }
    })
    await producer.send({ topic, acks: -1, messages })
    if ((i / chunk) % 4 === 3) say(`  produced ${(i + chunk).toLocaleString()}`)
  }
  await producer.disconnect()

  const sizes: number[] = []
  let done = 0
  let finished: () => void
  const allDone = new Promise<void>((resolve) => (finished = resolve))
  const reserver = createCommandConsumer({
    kafka,
    topic,
    deadLetterTopic: `${topic}.dlq`,
    groupId: uniqueName("drain-group"),
    concurrency,
    mergeLimit: config.reserverMergeLimit,
    log,
    batch: createBatchStep({ sql: db.sql, redis, keys, log, findSeats }),
    onBatch: ({ size }) => {
      sizes.push(size)
      done += size
      if (done >= total) finished()
    },
  })
  say(`draining with one reserver, ${concurrency} partitions at a time`)
  const cpuBefore = process.cpuUsage()
  const started = performance.now()
  await reserver.start()
  const progress = setInterval(() => say(`  ${done.toLocaleString()} / ${total.toLocaleString()} commands`), 2_000)
  await allDone
  const seconds = (performance.now() - started) / 1000
  clearInterval(progress)
  const cpu = process.cpuUsage(cpuBefore)
  const load = loadavg()[0]!
  await reserver.stop()

  sizes.sort((a, b) => a - b)
  const pct = (p: number) => sizes[Math.min(sizes.length - 1, Math.floor((sizes.length * p) / 100))]!
  const [outcomes] = await db.sql`
    SELECT count(*)::int AS bookings, count(*) FILTER (WHERE status = 'pending_payment')::int AS reserved,
           count(*) FILTER (WHERE status = 'failed')::int AS failed FROM bookings WHERE event_id = ${eventId}`
  say("audit: checking PostgreSQL tickets, stats, bookings, Redis bits and counters agree")
  const problems = await auditEvent({ sql: db.sql, redis, keys }, eventId)
  const lines = [
    `shape:           ${sections.length} sections × ${subsections} subsections × ${rows} × ${cols} seats; ${finderName} seat finder`,
    `commands:        ${total.toLocaleString()} in ${seconds.toFixed(2)} s = ${Math.round(total / seconds).toLocaleString()} commands/s`,
    `outcomes:        ${outcomes!.bookings.toLocaleString()} bookings (${outcomes!.reserved.toLocaleString()} pending_payment, ${outcomes!.failed.toLocaleString()} failed)`,
    `batches:         ${sizes.length.toLocaleString()}; size min ${sizes[0]} / p50 ${pct(50)} / p90 ${pct(90)} / max ${sizes.at(-1)}`,
    `reserver CPU:    ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s over ${seconds.toFixed(1)} s wall (${(((cpu.user + cpu.system) / 1e6 / seconds) * 100).toFixed(0)}% of one core)`,
    `seat finder:     ${finderTime.calls.toLocaleString()} calls, ${(finderTime.ns / 1e6).toFixed(0)} ms = ${(finderTime.ns / Math.max(1, finderTime.calls)).toFixed(0)} ns per call, ${((finderTime.ns / 1e3 / (cpu.user + cpu.system)) * 100).toFixed(1)}% of the reserver CPU`,
    `machine load:    1-min load average ${load.toFixed(2)} on ${cpus().length} cores (Kafka, PostgreSQL, Redis and this process)`,
    `audit:           ${problems.length === 0 ? "OK: no seat sold twice, every store agrees" : `${problems.length} problems, first: ${problems[0]}`}`,
  ]
  console.log("\n" + lines.join("\n"))
  if (problems.length > 0) process.exitCode = 1
} finally {
  const stale = await redis.keys(keys.all)
  for (let i = 0; i < stale.length; i += 1000) await redis.del(...stale.slice(i, i + 1000))
  await redis.quit()
  await db.drop()
  const admin = kafka.admin()
  await admin.connect()
  await admin.deleteTopics({ topics: [topic, `${topic}.dlq`] }).catch(() => {})
  await admin.disconnect()
}
