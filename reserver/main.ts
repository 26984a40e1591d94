import { loadConfig } from "../shared/config.ts"
import { createRedis, createSql } from "../shared/clients.ts"
import { createKafka, ensureTopics, topicLayout } from "../shared/kafka.ts"
import { redisKeys } from "../shared/redis-keys.ts"
import { loadSeatFinder } from "../shared/native-seat-finder.ts"
import { onShutdown } from "../shared/shutdown.ts"
import { createTelemetry } from "../shared/telemetry.ts"
import { createBatchMetrics } from "./batch-metrics.ts"
import { createCommandConsumer } from "./consume-commands.ts"
import { serveMetrics } from "./metrics-server.ts"

const config = loadConfig(process.env)
// Tracing is on only when an OTLP endpoint is configured; otherwise nothing of OpenTelemetry is loaded.
const { tracing, log, metrics } = await createTelemetry(config, "reserver")
const recordBatch = createBatchMetrics(metrics, config.commandTopic)
const health = { running: false, partitions: [] as readonly number[] }
const metricsServer = serveMetrics({ host: config.host, port: config.metricsPort, metrics, health: () => health })
log.info(`metrics on :${metricsServer.port}`, { host: config.host, port: metricsServer.port })

const sql = createSql(config)
const redis = createRedis(config.redisUrl)
redis.on("error", (error) => log.warn("redis connection error", { error: error.message }))
const kafka = createKafka(config, log, `${config.kafkaClientId}-reserver`)
const admin = kafka.admin()
await admin.connect()
const partitions = await ensureTopics(admin, topicLayout(config))
await admin.disconnect()

const totals = { batches: 0, commands: 0, reserved: 0, failed: 0, released: 0, deadLettered: 0 }
const reserver = createCommandConsumer({
  kafka,
  topic: config.commandTopic,
  deadLetterTopic: config.deadLetterTopic,
  groupId: config.reserverGroupId,
  concurrency: config.reserverConcurrency,
  mergeLimit: config.reserverMergeLimit,
  log,
  batch: { sql, redis, keys: redisKeys(config.redisPrefix), log, findSeats: loadSeatFinder(log, config.seatFinder), grids: new Map(), verified: new Set() },
  tracing,
  onAssign: (partitions) => {
    health.partitions = partitions
  },
  onBatch: (info) => {
    recordBatch(info)
    const { partition, size, result, deadLettered } = info
    totals.batches++
    totals.commands += size
    totals.reserved += result.reserved
    totals.failed += result.failed
    totals.released += result.released
    totals.deadLettered += deadLettered
    if (log.isDebug) log.debug("batch committed", { partition, size, reserved: result.reserved, failed: result.failed })
  },
})
reserver.consumer.on(reserver.consumer.events.CRASH, ({ payload }) => {
  if (!payload.restart) health.running = false
})
onShutdown(log, async () => {
  health.running = false
  await reserver.stop()
  await Promise.allSettled([sql.end({ timeout: 5 }), redis.quit(), metricsServer.stop(), tracing?.shutdown()])
  log.info("totals", totals)
})
await reserver.start()
health.running = true
log.info("reserver running", { topic: config.commandTopic, partitions, concurrency: config.reserverConcurrency })
setInterval(() => {
  if (totals.commands > 0) log.info("progress", totals)
}, 30_000).unref()
