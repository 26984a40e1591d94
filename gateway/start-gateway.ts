import { loadConfig } from "../shared/config.ts"
import { resolveJwtSecret } from "./jwt-secret.ts"
import { createKafka, ensureTopics, topicLayout } from "../shared/kafka.ts"
import { redisKeys } from "../shared/redis-keys.ts"
import { onShutdown } from "../shared/shutdown.ts"
import { createTelemetry } from "../shared/telemetry.ts"
import { createGateway, type GatewayOptions } from "./app.ts"
import { createAuth } from "./auth.ts"
import { createCommandProducer, createKafkaSender } from "./command-producer.ts"
import { createEventCache } from "./event-cache.ts"
import { createGatewayRedis, createGatewaySql } from "./gateway-clients.ts"
import { createHealthCheck } from "./health.ts"
import { createHttpTracing } from "./http-observability.ts"
import { createRedisFanout, liveConnectionName } from "./live/redis-fanout.ts"
import { listen, runtime } from "./runtime.ts"

/** The gateway's composition root: reads `env`, builds the clients, listens and owns shutdown (gateway/main.ts under Bun and Deno, profiles/node/ under Node). */
export async function startGateway(env: Parameters<typeof loadConfig>[0], options: GatewayOptions = {}): Promise<void> {
  const config = loadConfig(env)
  // Tracing is on only when an OTLP endpoint is configured; otherwise nothing of OpenTelemetry is loaded.
  const { tracing, log, metrics } = await createTelemetry(config, "gateway")
  const auth = createAuth({ secret: resolveJwtSecret(config), cookieSecure: config.cookieSecure })

  const sql = createGatewaySql(config)
  const redis = createGatewayRedis(config.redisUrl)
  redis.on("error", (error) => log.warn("redis connection error", { error: error.message }))
  const kafka = createKafka(config, log, `${config.kafkaClientId}-gateway`)
  const admin = kafka.admin()
  await admin.connect()
  const partitions = await ensureTopics(admin, topicLayout(config))
  log.info("kafka topics ready", { topic: config.commandTopic, partitions })

  // Partitions are computed by createCommandProducer with Kafka's murmur2, as the Java client does.
  const producer = createKafkaSender({ brokers: config.kafkaBrokers, clientId: `${config.kafkaClientId}-gateway`, topic: config.commandTopic })
  const keys = redisKeys(config.redisPrefix)
  const events = createEventCache({ sql, redis, keys })
  // One subscriber connection per process, shared by every stream and the meta channel (see live/redis-fanout.ts).
  const subscriber = redis.duplicate({ autoResubscribe: false, connectionName: liveConnectionName(String(process.pid)) })
  subscriber.on("error", (error) => log.warn("redis subscriber error", { error: error.message }))
  const live = createRedisFanout(subscriber, log)
  // An event whose status changed is dropped from the cache.
  await live.subscribe(keys.metaChannel, (eventId) => events.invalidate(Number(eventId)))

  const app = createGateway(
    {
      config,
      log,
      readiness: createHealthCheck({ sql, redis, admin, metrics }),
      sql,
      redis,
      keys,
      auth,
      events,
      commands: createCommandProducer(producer.send, config.commandTopic, partitions, { metrics, tracing, log, lingerMs: config.produceLingerMs }),
      metrics,
      tracing,
      httpTracing: tracing && (await createHttpTracing(tracing)),
      live,
    },
    options,
  )
  const server = listen(app, { hostname: config.host, port: config.port })
  log.info(`gateway listening on :${server.port}`, { host: config.host, port: server.port, runtime })

  onShutdown(log, async () => {
    // Ends the open event streams first: the server waits for every open answer before it stops.
    await live.close()
    await server.stop()
    await producer.close()
    await Promise.allSettled([admin.disconnect(), sql.end({ timeout: 5 }), redis.quit(), tracing?.shutdown()])
  })
}
