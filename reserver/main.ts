import { loadConfig } from "../shared/config.ts"
import { createRedis, createSql } from "../shared/clients.ts"
import { createKafka, ensureTopics, topicLayout } from "../shared/kafka.ts"
import { redisKeys } from "../shared/redis-keys.ts"
import { loadSeatFinder } from "./native-seat-finder.ts"
import { onShutdown } from "../shared/shutdown.ts"
import { createTelemetry } from "../shared/telemetry.ts"
import { createBatchMetrics, watchdogMetrics } from "./batch-metrics.ts"
import { createBatchStep } from "./batch-step.ts"
import { createCommandConsumer } from "./consume-commands.ts"
import { createConsumerWatchdog, type ReserverHealth } from "./consumer-watchdog.ts"
import { createHoldExpirer } from "./expire-holds.ts"
import { groupOffsets } from "./group-offsets.ts"
import { serveMetrics } from "./metrics-server.ts"

const config = loadConfig(process.env)
// Tracing is on only when an OTLP endpoint is configured; otherwise nothing of OpenTelemetry is loaded.
const { tracing, log, metrics } = await createTelemetry(config, "reserver")
const recordBatch = createBatchMetrics(metrics, config.commandTopic)
// Up before Kafka is reached, so /health says why the reserver is not deciding yet.
let health = (): ReserverHealth => ({ healthy: false, reason: "starting: connecting to Kafka", partitions: [] })
const metricsServer = serveMetrics({ host: config.host, port: config.metricsPort, metrics, health: () => health() })
log.info(`metrics on :${metricsServer.port}`, { host: config.host, port: metricsServer.port })

const sql = createSql(config)
const redis = createRedis(config.redisUrl)
redis.on("error", (error) => log.warn("redis connection error", { error: error.message }))
const kafka = createKafka(config, log, `${config.kafkaClientId}-reserver`)
const admin = kafka.admin()
await admin.connect()
const partitions = await ensureTopics(admin, topicLayout(config))

const totals = { batches: 0, commands: 0, reserved: 0, failed: 0, released: 0, expired: 0, deadLettered: 0 }
// The owner of a partition expires its holds, through the partition itself (expire-holds.ts).
const holds = createHoldExpirer({ sql, kafka, topic: config.commandTopic, partitions, log })
const liveHolds = metrics.gauge("reserver_live_holds", "Holds of this member's partitions waiting for payment or their deadline.")
metrics.onCollect(() => liveHolds.set(holds.holds()))
const batch = createBatchStep({ sql, redis, keys: redisKeys(config.redisPrefix), log, findSeats: loadSeatFinder(log, config.seatFinder) })
// A member that crashed for good, or that stops deciding while commands wait, is replaced (consumer-watchdog.ts).
const watchdog = createConsumerWatchdog({
  create: () =>
    createCommandConsumer({
      kafka,
      topic: config.commandTopic,
      deadLetterTopic: config.deadLetterTopic,
      groupId: config.reserverGroupId,
      concurrency: config.reserverConcurrency,
      mergeLimit: config.reserverMergeLimit,
      sessionTimeoutMs: config.reserverSessionTimeoutMs,
      log,
      batch,
      tracing,
      onAssign: (partitions) => {
        watchdog.assigned(partitions)
        holds.assigned(partitions)
      },
      onBatch: (info) => {
        watchdog.progressed(info.partition)
        holds.track(info.partition, info.result.outcomes)
        recordBatch(info)
        const { partition, size, result, deadLettered } = info
        totals.batches++
        totals.commands += size
        totals.reserved += result.reserved
        totals.failed += result.failed
        totals.released += result.released
        totals.expired += result.expired
        totals.deadLettered += deadLettered
        if (log.isDebug) log.debug("batch committed", { partition, size, reserved: result.reserved, failed: result.failed })
      },
    }),
  offsets: () => groupOffsets(admin, config.commandTopic, config.reserverGroupId),
  log,
  stallMs: config.reserverStallSeconds * 1000,
  giveUpMs: 60_000,
  onGiveUp: (error) => {
    log.error("the kafka consumer cannot be recreated; exiting for the supervisor to restart the reserver", { error })
    process.exit(1)
  },
  onRecreate: watchdogMetrics(metrics, () => watchdog),
})
health = () => watchdog.health()

onShutdown(log, async () => {
  await watchdog.stop()
  await holds.stop()
  await Promise.allSettled([admin.disconnect(), sql.end({ timeout: 5 }), redis.quit(), metricsServer.stop(), tracing?.shutdown()])
  log.info("totals", totals)
})
await holds.start()
await watchdog.start()
log.info("reserver running", { topic: config.commandTopic, partitions, concurrency: config.reserverConcurrency })
setInterval(() => {
  if (totals.commands > 0) log.info("progress", totals)
}, 30_000).unref()
