import { Kafka, logLevel, type Admin, type LogEntry } from "kafkajs"
import { createRequire } from "node:module"
import type { Config } from "./config.ts"
import type { Logger } from "./log.ts"

type RequestQueue = { pending: unknown[]; throttledUntil: number; scheduleCheckPendingRequests(): void }

/**
 * Stops kafkajs 2.2.4 (its last release) from re-arming a timer with a negative delay after every
 * response when nothing is pending or throttled: a 1 ms poll per broker connection for the
 * process's life, and Bun's `TimeoutNegativeWarning: -<now> is a negative number` at start
 * (tulios/kafkajs#1751, #1704; unmerged fixes #1755, #1768). With nothing pending and no throttle
 * there is nothing to check: a later push sends at once or re-arms the timer itself. Returns
 * whether the patch applies, so a kafkajs whose internals moved is noticed by the test.
 */
export function patchKafkajsIdlePoll(): boolean {
  const { prototype } = createRequire(import.meta.url)("kafkajs/src/network/requestQueue/index.js") as { prototype: RequestQueue & { idlePollPatched?: true } }
  if (prototype.idlePollPatched) return true
  const schedule = prototype.scheduleCheckPendingRequests
  if (typeof schedule !== "function" || !schedule.toString().includes("this.throttledUntil - Date.now()")) return false
  prototype.scheduleCheckPendingRequests = function (this: RequestQueue) {
    if (this.pending.length === 0 && this.throttledUntil <= Date.now()) return
    schedule.call(this)
  }
  prototype.idlePollPatched = true
  return true
}
patchKafkajsIdlePoll()

/** Key of a booking command: one subsection, one partition, one ordered stream of decisions. */
export const commandKey = (eventId: number, section: string, subsection: number): string =>
  `${eventId}:${section}-${subsection}`

const levelName: Record<number, "debug" | "info" | "warn" | "error"> = {
  [logLevel.DEBUG]: "debug",
  [logLevel.INFO]: "info",
  [logLevel.WARN]: "warn",
  [logLevel.ERROR]: "error",
  [logLevel.NOTHING]: "debug",
}

/** Builds the kafkajs client, its log lines routed through our JSON logger. */
export function createKafka(config: Config, log: Logger, clientId = config.kafkaClientId): Kafka {
  const kafkaLog = log.child({ component: "kafkajs" })
  return new Kafka({
    clientId,
    brokers: [...config.kafkaBrokers],
    logLevel: logLevel.WARN,
    logCreator: () => (entry: LogEntry) => {
      const { message, ...rest } = entry.log
      // kafkajs logs every error response of the broker (coordinator loading, rebalance
      // in progress) before it retries or rethrows; the retried ones are routine.
      const lvl = entry.namespace === "Connection" && message.startsWith("Response ") ? "debug" : (levelName[entry.level] ?? "info")
      kafkaLog[lvl](message, { namespace: entry.namespace, ...rest })
    },
    // Capped backoff: after a broker restart the clients reconnect within a second or two instead of
    // waiting out kafkajs' growing delays (up to 30 s by default).
    retry: { initialRetryTime: 100, retries: 8, maxRetryTime: 2_000 },
  })
}

export type TopicLayout = { commandTopic: string; commandPartitions: number; deadLetterTopic: string; replicationFactor: number }

/** The topic layout a configuration asks for. */
export const topicLayout = (config: Config): TopicLayout => ({
  commandTopic: config.commandTopic,
  commandPartitions: config.commandPartitions,
  deadLetterTopic: config.deadLetterTopic,
  replicationFactor: config.kafkaReplicationFactor,
})

/**
 * Creates the command and dead-letter topics when missing and returns the command
 * topic's partition count as the broker reports it (an existing topic keeps its count).
 */
export async function ensureTopics(admin: Admin, layout: TopicLayout): Promise<number> {
  const existing = new Set(await admin.listTopics())
  const missing = [
    { topic: layout.commandTopic, numPartitions: layout.commandPartitions },
    { topic: layout.deadLetterTopic, numPartitions: 1 },
  ].filter((t) => !existing.has(t.topic))
  if (missing.length > 0) {
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((t) => ({ ...t, replicationFactor: layout.replicationFactor })),
    })
  }
  const metadata = await admin.fetchTopicMetadata({ topics: [layout.commandTopic] })
  return metadata.topics[0]?.partitions.length ?? layout.commandPartitions
}

const encoder = new TextEncoder()

/** Kafka's murmur2 (the Java client's `Utils.murmur2`), so every client agrees on partitions. */
export function murmur2(data: Uint8Array): number {
  const length = data.length
  const m = 0x5bd1e995
  let h = (0x9747b28c ^ length) | 0
  const whole = length & ~3
  for (let i = 0; i < whole; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24)
    k = Math.imul(k, m)
    k ^= k >>> 24
    k = Math.imul(k, m)
    h = Math.imul(h, m) ^ k
  }
  const tail = length & 3
  if (tail === 3) h ^= data[whole + 2]! << 16
  if (tail >= 2) h ^= data[whole + 1]! << 8
  if (tail >= 1) {
    h ^= data[whole]!
    h = Math.imul(h, m)
  }
  h ^= h >>> 13
  h = Math.imul(h, m)
  h ^= h >>> 15
  return h | 0
}

/** The partition Kafka's default partitioner gives a keyed message. */
export const partitionFor = (key: string, partitions: number): number =>
  (murmur2(encoder.encode(key)) & 0x7fffffff) % partitions
