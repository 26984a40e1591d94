import { loadConfig } from "../shared/config.ts"
import { createRedis, createSql } from "../shared/clients.ts"
import { resolveJwtSecret } from "../shared/dev-secret.ts"
import { createKafka, ensureTopics, topicLayout } from "../shared/kafka.ts"
import { createLogger } from "../shared/log.ts"
import { onShutdown } from "../shared/shutdown.ts"
import { createGateway } from "./app.ts"
import { createHealthCheck } from "./health.ts"

const config = loadConfig(process.env)
const log = createLogger("gateway", config.logLevel)
const jwtSecret = resolveJwtSecret(config)

const sql = createSql(config)
const redis = createRedis(config.redisUrl)
redis.on("error", (error) => log.warn("redis connection error", { error: error.message }))
const kafka = createKafka(config, log, `${config.kafkaClientId}-gateway`)
const admin = kafka.admin()
await admin.connect()
const partitions = await ensureTopics(admin, topicLayout(config))
log.info("kafka topics ready", { topic: config.commandTopic, partitions })

const app = createGateway({ config, log, readiness: createHealthCheck({ sql, redis, admin }) })
app.listen({ hostname: config.host, port: config.port })
log.info(`gateway listening on :${config.port}`, { host: config.host, port: config.port })
void jwtSecret

onShutdown(log, async () => {
  await app.stop()
  await Promise.allSettled([admin.disconnect(), sql.end({ timeout: 5 }), redis.quit()])
})
