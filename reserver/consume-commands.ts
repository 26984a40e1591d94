import { context } from "@opentelemetry/api"
import { Partitioners, type Consumer, type EachBatchPayload, type Kafka, type KafkaMessage, type Producer } from "kafkajs"
import { decodeCommand, type Command } from "../shared/commands.ts"
import type { Logger } from "../shared/log.ts"
import type { Tracing } from "../shared/tracing.ts"
import type { BatchStep } from "./batch-step.ts"
import { traceBatch, type BatchTrace } from "./batch-tracing.ts"
import { createBatchCoalescer } from "./coalesce-batches.ts"
import type { BatchResult } from "./decide-batch.ts"

export type ConsumerOptions = {
  kafka: Kafka
  topic: string
  deadLetterTopic: string
  groupId: string
  concurrency: number
  /** Most commands one batch step merges from partition batches that arrive together (coalesce-batches.ts); no limit when unset. */
  mergeLimit?: number
  log: Logger
  /** The batch step (batch-step.ts); one step can serve the consumers that replace each other. */
  batch: BatchStep
  /** A member that stops heartbeating is dropped from the group after this long (the broker bounds it: group.min.session.timeout.ms). */
  sessionTimeoutMs?: number
  /** Called with this member's partitions whenever the group (re)assigns them. */
  onAssign?: (partitions: number[]) => void
  /** Tracing on: spans per batch, per phase and per command (batch-tracing.ts). */
  tracing?: Tracing
  /**
   * Called after each batch is committed (metrics, tests), with the partition's lag behind its
   * high watermark after this batch and the batch's time from fetch to commit.
   */
  onBatch?: (info: { partition: number; size: number; result: BatchResult; deadLettered: number; lag: number; seconds: number }) => void
}

type DeadLetter = { message: KafkaMessage; reason: string }

// PostgreSQL data and integrity errors fail the same way every time; anything else
// (connection lost, Redis down, timeouts) may pass on a retry.
const isDeterministic = (error: unknown) => /^2[23]/.test(String((error as { code?: unknown }).code ?? ""))

const backoff = (attempt: number) => Math.min(100 * 2 ** attempt, 5_000)

const DEAD_LETTER_CHUNK = 500

const HEARTBEAT_MS = 1_000

/**
 * The reserver's consumer-group member: per partition batch it decodes the commands,
 * applies them (retrying transient failures without committing), dead-letters what
 * cannot be processed, and only then commits the batch's offsets.
 */
export function createCommandConsumer(options: ConsumerOptions) {
  const { kafka, topic, log } = options
  const consumer: Consumer = kafka.consumer({
    groupId: options.groupId,
    allowAutoTopicCreation: false,
    // A member that died without leaving is noticed after sessionTimeout; batches heartbeat while they run.
    sessionTimeout: options.sessionTimeoutMs ?? 10_000,
    heartbeatInterval: HEARTBEAT_MS,
    // The broker answers a fetch as soon as a command arrives (minBytes 1), so the wait bounds only
    // an idle member's fetch rate: at 100 ms, ten empty fetches a second were most of an idle
    // reserver's CPU (profiles/README.md). One second keeps a heartbeat (sent after each fetch) per
    // HEARTBEAT_MS, well inside the session timeout, and notices a rebalance within a second.
    maxWaitTimeInMs: 1_000,
  })
  const producer: Producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner })
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    // New ownership: seat maps are checked against PostgreSQL again on first touch.
    options.batch.forgetOwnership()
    const partitions = payload.memberAssignment[topic] ?? []
    log.info("joined consumer group", { group: options.groupId, member: payload.memberId, partitions })
    options.onAssign?.(partitions)
  })

  const coalesced = createBatchCoalescer(options.batch.apply, options.mergeLimit)

  const applyWithRetry = async (payload: EachBatchPayload, commands: Command[], dead: DeadLetter[], messages: KafkaMessage[], traced?: BatchTrace) => {
    for (let attempt = 0; ; attempt++) {
      if (!payload.isRunning() || payload.isStale()) return undefined
      try {
        return await coalesced(commands, traced?.phases)
      } catch (error) {
        if (isDeterministic(error) && attempt >= 2 && commands.length > 0) return applyOneByOne(commands, dead, messages, traced)
        log.warn("batch failed; retrying without committing", { partition: payload.batch.partition, attempt, error })
        await payload.heartbeat().catch(() => {})
        await Bun.sleep(backoff(attempt))
      }
    }
  }

  // Isolates the command a deterministic error belongs to, so one bad command cannot block its partition.
  const applyOneByOne = async (commands: Command[], dead: DeadLetter[], messages: KafkaMessage[], traced?: BatchTrace): Promise<BatchResult> => {
    const total: BatchResult = { outcomes: [], rejected: [], reserved: 0, failed: 0, released: 0, expired: 0 }
    const phases = traced && (() => traced.phases({ batches: 1, commands: 1 }))
    for (const [i, command] of commands.entries()) {
      try {
        const r = await options.batch.apply([command], phases)
        total.outcomes.push(...r.outcomes)
        total.rejected.push(...r.rejected)
        total.reserved += r.reserved
        total.failed += r.failed
        total.released += r.released
        total.expired += r.expired
      } catch (error) {
        if (!isDeterministic(error)) throw error
        dead.push({ message: messages[i]!, reason: `command failed: ${(error as Error).message}` })
      }
    }
    return total
  }

  // Returns false when the batch was given up uncommitted (stopping, or the partition moved).
  const processBatch = async (payload: EachBatchPayload, traced?: BatchTrace): Promise<boolean> => {
    const { batch } = payload
    const started = performance.now()
    const commands: Command[] = []
    const sources: KafkaMessage[] = []
    const dead: DeadLetter[] = []
    for (const message of batch.messages) {
      try {
        commands.push(decodeCommand(message.value))
        sources.push(message)
      } catch (error) {
        dead.push({ message, reason: (error as Error).message })
      }
    }
    const result = await applyWithRetry(payload, commands, dead, sources, traced)
    if (!result) return false
    for (const r of result.rejected) dead.push({ message: sources[commands.indexOf(r.command)]!, reason: r.reason })
    // Chunks keep each produce request under the broker's message.max.bytes (1 MB by default):
    // a batch can dead-letter thousands of commands at once, e.g. a backlog older than a reset.
    for (let i = 0; i < dead.length; i += DEAD_LETTER_CHUNK) {
      await producer.send({
        topic: options.deadLetterTopic,
        acks: -1,
        messages: dead.slice(i, i + DEAD_LETTER_CHUNK).map(({ message, reason }) => ({
          key: message.key,
          value: message.value,
          headers: {
            ...message.headers,
            "x-error": reason,
            "x-original-topic": topic,
            "x-original-partition": String(batch.partition),
            "x-original-offset": message.offset,
          },
        })),
      })
    }
    if (dead.length > 0) {
      log.warn("dead-lettered messages", { partition: batch.partition, count: dead.length, reasons: [...new Set(dead.map((d) => d.reason))].slice(0, 5) })
    }
    // resolveOffset moves this member's fetch position; commitOffsets makes it the group's.
    payload.resolveOffset(batch.lastOffset())
    await consumer.commitOffsets([{ topic, partition: batch.partition, offset: (BigInt(batch.lastOffset()) + 1n).toString() }])
    traced?.committed(commands, sources, result, dead)
    options.onBatch?.({
      partition: batch.partition,
      size: batch.messages.length,
      result,
      deadLettered: dead.length,
      lag: Number(batch.offsetLag()),
      seconds: (performance.now() - started) / 1000,
    })
    return true
  }

  let inFlight = 0
  const eachBatch = async (payload: EachBatchPayload) => {
    if (payload.batch.messages.length === 0) return
    inFlight++
    // kafkajs heartbeats only between batches; a long step (a first touch of a large event, a
    // slow transaction) would otherwise outlive a short session timeout and lose its partitions.
    const heartbeat = setInterval(() => void payload.heartbeat().catch(() => {}), HEARTBEAT_MS)
    try {
      await traceAndProcess(payload)
    } finally {
      clearInterval(heartbeat)
      inFlight--
    }
  }

  const traceAndProcess = async (payload: EachBatchPayload) => {
    if (!options.tracing) {
      await processBatch(payload)
      return
    }
    const traced = traceBatch(options.tracing, topic, options.groupId, payload.batch)
    try {
      // Active for the batch, so its log lines carry the batch's trace id.
      if (!(await context.with(traced.context, () => processBatch(payload, traced)))) traced.abandoned()
    } catch (error) {
      traced.failed(error)
      throw error
    }
  }

  return {
    consumer,
    /** Partition batches being applied right now. */
    inFlight: () => inFlight,
    /** Calls `listener` when the client stops consuming; `restart` false means it will not try again by itself. */
    onCrash(listener: (error: Error, restart: boolean) => void) {
      consumer.on(consumer.events.CRASH, ({ payload }) => listener(payload.error, payload.restart))
    },
    /** Joins the group and starts consuming; resolves once running. */
    async start() {
      await producer.connect()
      await consumer.connect()
      await consumer.subscribe({ topic, fromBeginning: true })
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: options.concurrency,
        eachBatch,
      })
    },
    /** Leaves the group after the batches in flight finish. */
    async stop() {
      await consumer.disconnect()
      await producer.disconnect()
    },
  }
}
