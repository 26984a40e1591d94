import { loadConfig } from "../shared/config.ts"
import { createKafka, ensureTopics, topicLayout } from "../shared/kafka.ts"
import { createLogger } from "../shared/log.ts"
import { onShutdown } from "../shared/shutdown.ts"

const config = loadConfig(process.env)
const log = createLogger("reserver", config.logLevel)

const kafka = createKafka(config, log, `${config.kafkaClientId}-reserver`)
const admin = kafka.admin()
await admin.connect()
const partitions = await ensureTopics(admin, topicLayout(config))
await admin.disconnect()

// A member that died without leaving is noticed after sessionTimeout; 10s hands its
// partitions over sooner than kafkajs' 30s default.
const consumer = kafka.consumer({
  groupId: config.reserverGroupId,
  allowAutoTopicCreation: false,
  sessionTimeout: 10_000,
  heartbeatInterval: 1_000,
})
onShutdown(log, () => consumer.disconnect())
consumer.on(consumer.events.GROUP_JOIN, ({ payload }) =>
  log.info("joined consumer group", {
    group: config.reserverGroupId,
    member: payload.memberId,
    partitions: payload.memberAssignment[config.commandTopic] ?? [],
  }),
)
await consumer.connect()
await consumer.subscribe({ topic: config.commandTopic })
await consumer.run({
  autoCommit: false,
  eachBatchAutoResolve: false,
  // The batch step (decide seats, write PostgreSQL and Redis, then commit) lands with the booking pipeline.
  eachBatch: async () => {},
})
log.info("reserver running", { topic: config.commandTopic, partitions })
