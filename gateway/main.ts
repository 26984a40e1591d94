import { Partitioners } from "kafkajs"
import { loadConfig } from "../shared/config.ts"
import { createRedis, createSql } from "../shared/clients.ts"
import { resolveJwtSecret } from "../shared/dev-secret.ts"
import { createKafka, ensureTopics, topicLayout } from "../shared/kafka.ts"
import { createLogger } from "../shared/log.ts"
import { redisKeys } from "../shared/redis-keys.ts"
import { onShutdown } from "../shared/shutdown.ts"
import { createGateway } from "./app.ts"
import { createAuth } from "./auth.ts"
import { createCommandProducer } from "./command-producer.ts"
import { createEventCache } from "./event-cache.ts"
import { createHealthCheck } from "./health.ts"

const config = loadConfig(process.env)
const log = createLogger("gateway", config.logLevel)
const auth = createAuth({ secret: resolveJwtSecret(config), cookieSecure: config.cookieSecure })

const sql = createSql(config)
const redis = createRedis(config.redisUrl)
redis.on("error", (error) => log.warn("redis connection error", { error: error.message }))
const kafka = createKafka(config, log, `${config.kafkaClientId}-gateway`)
const admin = kafka.admin()
await admin.connect()
const partitions = await ensureTopics(admin, topicLayout(config))
log.info("kafka topics ready", { topic: config.commandTopic, partitions })

// Partitions are computed by createCommandProducer with Kafka's murmur2, as the Java client does.
const producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner })
await producer.connect()
const keys = redisKeys(config.redisPrefix)
const events = createEventCache({ sql, redis, keys })
// One subscriber connection per process: an event whose status changed is dropped from the cache.
const subscriber = redis.duplicate()
subscriber.on("error", (error) => log.warn("redis subscriber error", { error: error.message }))
subscriber.on("message", (_channel, eventId) => events.invalidate(Number(eventId)))
await subscriber.subscribe(keys.metaChannel)

const app = createGateway({
  config,
  log,
  readiness: createHealthCheck({ sql, redis, admin }),
  sql,
  redis,
  keys,
  auth,
  events,
  commands: createCommandProducer(producer, config.commandTopic, partitions),
})
app.listen({ hostname: config.host, port: config.port })
log.info(`gateway listening on :${config.port}`, { host: config.host, port: config.port })

onShutdown(log, async () => {
  await app.stop()
  await producer.disconnect()
  await Promise.allSettled([admin.disconnect(), sql.end({ timeout: 5 }), redis.quit(), subscriber.quit()])
})
