// How long the local Kafka takes to serve again after a crash and the project's own restart:
// `kill -9` of the broker in $DATA_DIR/run/kafka.pid, at once `bash infra/services.sh start`,
// then the seconds until
//   - services.sh start returns,
//   - a fresh client's acks=all produce succeeds (the broker serves again),
//   - the gateway's long-lived sender, created before the kill, gets an acks=all produce through,
//   - with --reserver: a reserver started from reserver/main.ts has decided a booking produced
//     after the restart (it has rejoined its group and consumes again).
// Each probe retries every 100 ms; a run gives up after --timeout seconds.
//
//   bun infra/measure-kafka-restart.ts [--runs 3] [--reserver] [--timeout 90]
import { Producer, stringSerializer } from "@platformatic/kafka"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { createKafkaSender, type OutgoingCommand } from "../gateway/command-producer.ts"
import { cpuTicks } from "../bench/process-cpu.ts"
import { insertTestEvent, reserve } from "../testing/fixtures.ts"
import { createRedis } from "../shared/clients.ts"
import { encodeCommand } from "../shared/commands.ts"
import { loadConfig } from "../shared/config.ts"
import { commandKey, createKafka, ensureTopics, partitionFor } from "../shared/kafka.ts"
import { createLogger } from "../shared/log.ts"
import { redisKeys } from "../shared/redis-keys.ts"
import { createTestDatabase, eventually, freePort, uniqueName } from "../testing/helpers.ts"
import { isAlive } from "./is-alive.ts"

const { values: args } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    reserver: { type: "boolean", default: false },
    timeout: { type: "string", default: "90" },
  },
})
const runs = Number(args.runs)
const timeoutMs = Number(args.timeout) * 1000
const root = join(import.meta.dir, "..")
const config = loadConfig(process.env)
const kafkaPidFile = join(config.dataDir, "run", "kafka.pid")
const log = createLogger("measure", "warn")
const topic = uniqueName("measure.kafka-restart")
const partitions = 2

const admin = createKafka(config, log, "measure-kafka-restart").admin()
await admin.connect()
await ensureTopics(admin, { commandTopic: topic, commandPartitions: partitions, deadLetterTopic: `${topic}.dlq`, replicationFactor: 1 })

const since = (t0: number) => (performance.now() - t0) / 1000

// --reserver: a test database with one event, and a reserver of its own group on the topic.
const db = args.reserver ? await createTestDatabase() : undefined
const prefix = uniqueName("t")
const keys = redisKeys(prefix)
const redis = createRedis(config.redisUrl)
const event = db ? await insertTestEvent({ sql: db.sql, redis, keys }, { rows: 20, cols: 25, sections: ["A"], subsections: 2 }) : undefined
const metricsPort = freePort()
const reserverLines: string[] = []
const reserver = db
  ? Bun.spawn([process.execPath, join(root, "reserver", "main.ts")], {
      env: {
        ...process.env,
        DATABASE_URL: db.url,
        REDIS_PREFIX: prefix,
        COMMAND_TOPIC: topic,
        DEAD_LETTER_TOPIC: `${topic}.dlq`,
        COMMAND_PARTITIONS: String(partitions),
        RESERVER_GROUP_ID: uniqueName("measure-group"),
        METRICS_PORT: String(metricsPort),
        LOG_LEVEL: "info",
      },
      stdout: "pipe",
      stderr: "pipe",
    })
  : undefined
if (reserver) {
  for (const stream of [reserver.stdout, reserver.stderr]) {
    void (async () => {
      const decoder = new TextDecoder()
      for await (const chunk of stream) reserverLines.push(...decoder.decode(chunk).split("\n").filter(Boolean))
    })()
  }
}

// Probe commands are real bookings of the test event (of event 1 when there is no reserver to read them).
const command = (): { booking: string; message: OutgoingCommand } => {
  const c = reserve({ event_id: event?.eventId ?? 1, buyer_id: event?.buyerIds[0] ?? 1, subsection: 1 + Math.floor(Math.random() * 2) })
  const key = commandKey(c.event_id, c.section, c.subsection)
  return { booking: c.booking_id, message: { key, value: encodeCommand(c), partition: partitionFor(key, partitions) } }
}
const isDecided = async (booking: string) => (await db!.sql`SELECT 1 FROM bookings WHERE id = ${booking}`).length > 0

const gatewaySender = createKafkaSender({ brokers: config.kafkaBrokers, clientId: "measure-gateway-sender", topic })
const freshProduce = async () => {
  const producer = new Producer({
    clientId: uniqueName("measure-fresh"),
    bootstrapBrokers: [...config.kafkaBrokers],
    acks: -1,
    autocreateTopics: false,
    retries: 0,
    timeout: 1_000,
    serializers: { key: stringSerializer, headerKey: stringSerializer, headerValue: stringSerializer },
  })
  try {
    const { message } = command()
    await producer.send({ messages: [{ topic, key: message.key, value: message.value, partition: message.partition }] })
  } finally {
    await producer.close().catch(() => {})
  }
}

// Until `attempt` resolves, once every 100 ms at most; the seconds since t0 at its first success.
const firstSuccess = async <T>(t0: number, attempt: () => Promise<T>): Promise<{ at: number; value: T } | undefined> => {
  while (since(t0) * 1000 < timeoutMs) {
    const began = performance.now()
    try {
      const value = await attempt()
      return { at: since(t0), value }
    } catch {
      await Bun.sleep(Math.max(0, 100 - (performance.now() - began)))
    }
  }
  return undefined
}

const warmUp = async () => {
  await eventually(async () => (await gatewaySender.send([command().message]), true), 30_000, "a first produce")
  if (!reserver) return
  const { booking, message } = command()
  await gatewaySender.send([message])
  await eventually(async () => ((await isDecided(booking)) ? true : undefined), 60_000, "the reserver deciding a first booking")
}

type Result = { broker: ReturnType<typeof milestones>; brokerCpu?: number; launched?: number; services?: number; fresh?: number; gateway?: number; decided?: number; servicesOk: boolean }

// The broker's own milestones, from the log services.sh starts afresh: the JVM's first line, the
// first registration the controller turned away, the registration it took, the server started.
const kafkaLog = join(config.dataDir, "logs", "kafka.log")
const MILESTONES = { jvm: /./, refused: /DuplicateBrokerRegistrationException/, registered: /Successfully registered broker/, started: /Kafka Server started/ }
const milestones = (t0Wall: number) => {
  const lines = readFileSync(kafkaLog, "utf8").split("\n")
  return Object.fromEntries(
    Object.entries(MILESTONES).map(([name, pattern]) => {
      const line = lines.find((l) => l.startsWith("[") && pattern.test(l))
      // log4j writes local time, as "[2026-01-01 10:00:00,123]".
      const stamp = line && new Date(line.slice(1, 24).replace(" ", "T").replace(",", ".")).getTime()
      return [name, stamp ? (stamp - t0Wall) / 1000 : undefined]
    }),
  ) as Record<keyof typeof MILESTONES, number | undefined>
}

const measureOnce = async (): Promise<Result> => {
  const pid = Number(readFileSync(kafkaPidFile, "utf8").trim())
  if (!isAlive(pid)) throw new Error(`no broker running with pid ${pid} (${kafkaPidFile})`)
  process.kill(pid, "SIGKILL")
  const t0 = performance.now()
  const t0Wall = Date.now()
  // services.sh would take a broker that has not died yet for a running one.
  while (isAlive(pid)) await Bun.sleep(5)
  const services = Bun.spawn(["bash", join(root, "infra", "services.sh"), "start"], { env: process.env, stdout: "pipe", stderr: "pipe" })
  // When services.sh launches the JVM: what comes before is the script's own checks.
  let launched: number | undefined
  const servicesOutput = (async () => {
    const decoder = new TextDecoder()
    for await (const chunk of services.stdout) if (decoder.decode(chunk).includes("starting kafka")) launched ??= since(t0)
  })()
  const servicesDone = services.exited.then(async (code) => (await servicesOutput, { code, at: since(t0) }))
  // The new broker's CPU time once it serves: its start's work, whatever else the machine runs.
  let brokerCpu: number | undefined
  const [fresh, gateway] = await Promise.all([
    firstSuccess(t0, async () => {
      await freshProduce()
      brokerCpu = cpuTicks(Number(readFileSync(kafkaPidFile, "utf8").trim())) / 100
    }),
    firstSuccess(t0, async () => {
      const probe = command()
      await gatewaySender.send([probe.message])
      return probe.booking
    }),
  ])
  const decided = reserver && gateway
    ? await firstSuccess(t0, async () => {
        if (!(await isDecided(gateway.value))) throw new Error("not yet")
      })
    : undefined
  const { code, at } = await servicesDone
  if (code !== 0) process.stderr.write(await new Response(services.stderr).text())
  return { broker: milestones(t0Wall), brokerCpu, launched, services: at, fresh: fresh?.at, gateway: gateway?.at, decided: decided?.at, servicesOk: code === 0 }
}

const fmt = (s: number | undefined) => (s === undefined ? "timeout" : `${s.toFixed(1)}s`)
const results: Result[] = []
try {
  if (!existsSync(kafkaPidFile)) throw new Error(`${kafkaPidFile} is missing: start the services with bash infra/services.sh start`)
  await warmUp()
  for (let run = 1; run <= runs; run++) {
    const r = await measureOnce()
    results.push(r)
    console.log(
      `run ${run}: services.sh launched java ${fmt(r.launched)}, returned ${fmt(r.services)}${r.servicesOk ? "" : " (failed)"}, fresh produce ${fmt(r.fresh)}, ` +
        `gateway sender ${fmt(r.gateway)}${reserver ? `, reserver decided ${fmt(r.decided)}` : ""}` +
        ` | broker CPU ${fmt(r.brokerCpu)}; its log: JVM ${fmt(r.broker.jvm)}, first registration refused ${fmt(r.broker.refused)}, registered ${fmt(r.broker.registered)}, started ${fmt(r.broker.started)}`,
    )
    // A quiet moment between runs, as between two real faults.
    await Bun.sleep(3_000)
  }
  const mean = (pick: (r: Result) => number | undefined) => {
    const values = results.map(pick)
    return values.includes(undefined) ? undefined : (values as number[]).reduce((a, b) => a + b, 0) / values.length
  }
  console.log(
    `mean of ${runs}: services.sh launched java ${fmt(mean((r) => r.launched))}, returned ${fmt(mean((r) => r.services))}, broker CPU ${fmt(mean((r) => r.brokerCpu))}, fresh produce ${fmt(mean((r) => r.fresh))}, ` +
      `gateway sender ${fmt(mean((r) => r.gateway))}${reserver ? `, reserver decided ${fmt(mean((r) => r.decided))}` : ""}`,
  )
  if (reserver) {
    const joins = reserverLines.filter((l) => l.includes("joined consumer group") || l.includes("Crash"))
    console.log(`the reserver's group joins and crashes (${joins.length}):\n${joins.map((l) => `  ${l.slice(0, 300)}`).join("\n")}`)
  }
} finally {
  reserver?.kill("SIGTERM")
  await reserver?.exited
  await gatewaySender.close().catch(() => {})
  const stale = await redis.keys(keys.all)
  if (stale.length > 0) await redis.del(...stale)
  await redis.quit()
  await db?.drop()
  await admin.deleteTopics({ topics: [topic, `${topic}.dlq`] }).catch(() => {})
  await admin.disconnect()
}
process.exit(results.length === runs && results.every((r) => r.servicesOk && r.fresh !== undefined && r.gateway !== undefined && (!reserver || r.decided !== undefined)) ? 0 : 1)
