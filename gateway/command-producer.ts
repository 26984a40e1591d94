import { context, SpanKind, SpanStatusCode, type Span } from "@opentelemetry/api"
import { Producer, stringSerializer } from "@platformatic/kafka"
import { encodeCommand, type Command } from "../shared/commands.ts"
import { errorChain } from "../shared/errors.ts"
import { commandKey, partitionFor } from "../shared/kafka.ts"
import type { Logger } from "../shared/log.ts"
import { LATENCY_BUCKETS, SIZE_BUCKETS, type Metrics } from "../shared/metrics.ts"
import { kafkaAttributes, type Tracing } from "../shared/tracing.ts"
import { createThrottledWarn } from "./throttled-warn.ts"

/** One command as it goes to the broker: the partition is computed here, not by the client. */
export type OutgoingCommand = {
  key: string
  value: Buffer
  partition: number
  /** Tracing on: the producer span's context. */
  headers?: { traceparent: string }
}

/** Sends one batch of commands with acks=all; resolves once the broker has every one of them. */
export type SendBatch = (messages: OutgoingCommand[]) => Promise<void>

export type KafkaSender = { send: SendBatch; close(): Promise<void> }

/**
 * The Kafka client behind the command producer: @platformatic/kafka, because it spends less CPU
 * per command than kafkajs (`npm run bench:kafka-clients`; figures in BENCHMARK.md and
 * profiles/README.md). kafkajs still serves the admin calls and the reserver's consumer group.
 *
 * A failed produce request is retried (a short broker restart is ridden out), then the batch's
 * callers get the error and answer 503; the reserver treats a command delivered twice by a retry
 * as the same booking.
 *
 * The timeouts bound how long a booking waits on a broker that accepts connections but does not
 * answer (a stopped JVM): the client's own defaults (30 s a request, each attempt of the metadata
 * and API-version lookups retried inside the produce's attempts) let a request wait for minutes, and
 * these give up within seconds. A request given up on may still be appended once the broker
 * resumes, so a 503 after a timeout does not prove the command was not queued.
 */
export function createKafkaSender(options: { brokers: readonly string[]; clientId: string; topic: string }): KafkaSender {
  const producer = new Producer({
    clientId: options.clientId,
    bootstrapBrokers: [...options.brokers],
    acks: -1,
    autocreateTopics: false,
    // The broker's wait for acks=all stays under the client's wait for the answer.
    timeout: 1_000,
    requestTimeout: 1_500,
    connectTimeout: 1_000,
    retries: 2,
    retryDelay: 500,
    serializers: { key: stringSerializer, headerKey: stringSerializer, headerValue: stringSerializer },
  })
  const { topic } = options
  return {
    async send(messages) {
      await producer.send({
        messages: messages.map((m) => ({ topic, key: m.key, value: m.value, partition: m.partition, headers: m.headers })),
      })
    },
    close: () => producer.close(),
  }
}

type Pending = OutgoingCommand & {
  resolve: () => void
  reject: (error: unknown) => void
  /** Tracing on: this command's producer span (its context is the `traceparent` header). */
  span?: Span
}

/** Commands per produce request at most, and where the producer reports its metrics and spans. */
export type CommandProducerOptions = { maxBatch?: number; lingerMs?: number; metrics?: Metrics; tracing?: Tracing; log?: Logger }

/**
 * Produces booking commands with acks=all, coalescing every command queued in one
 * event-loop turn into a single produce request: one broker round trip serves many
 * HTTP requests. Each caller's promise settles when the broker has its message.
 *
 * With tracing, each command still gets its own producer span, child of its HTTP request,
 * from the moment it is queued to the broker's acknowledgement of the shared request (so it
 * includes the wait for the batch); the span's context travels in the message's `traceparent`
 * header and `messaging.batch.message_count` says how many commands shared the request.
 */
export function createCommandProducer(sendBatch: SendBatch, topic: string, partitions: number, options: CommandProducerOptions = {}) {
  const { maxBatch = 5_000, lingerMs = 0, metrics, tracing, log } = options
  let queue: Pending[] = []
  let scheduled = false
  const produceSeconds = metrics?.histogram("kafka_produce_duration_seconds", "Time from sending a produce request to the broker's acks=all answer.", LATENCY_BUCKETS)
  const batchSize = metrics?.histogram("kafka_produce_batch_messages", "Commands per produce request.", SIZE_BUCKETS)
  const produced = metrics?.counter("kafka_produced_messages_total", "Commands the broker acknowledged, by outcome.", ["result"])
  const acked = produced?.labels("ok")
  const failed = produced?.labels("error")
  // While the broker is away every batch fails: one warning a second, with the count since the last.
  const warn = createThrottledWarn(log, "kafka produce failed; bookings answered 503", "commands")
  const warnFailed = (error: unknown, commands: number) => warn({ error: errorChain(error) }, commands)

  const settle = (batch: Pending[], error?: unknown) => {
    for (const p of batch) {
      if (p.span) {
        p.span.setAttribute("messaging.batch.message_count", batch.length)
        if (error) {
          p.span.recordException(error as Error)
          p.span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message })
        }
        p.span.end()
      }
      if (error) p.reject(error)
      else p.resolve()
    }
  }

  const flush = () => {
    scheduled = false
    while (queue.length > 0) {
      const batch = queue.length > maxBatch ? queue.splice(0, maxBatch) : queue
      if (batch === queue) queue = []
      const started = performance.now()
      batchSize?.observe(batch.length)
      // The partition is computed in send() (murmur2, as every Kafka client does) from a count
      // fetched once at start-up, so no per-message metadata lookup is needed.
      sendBatch(batch)
        .then(
          () => {
            produceSeconds?.observe((performance.now() - started) / 1000)
            acked?.inc(batch.length)
            settle(batch)
          },
          (error) => {
            produceSeconds?.observe((performance.now() - started) / 1000)
            failed?.inc(batch.length)
            warnFailed(error, batch.length)
            settle(batch, error)
          },
        )
    }
  }

  const startSpan = (key: string, partition: number, command: Command): Span =>
    tracing!.tracer.startSpan(
      `send ${topic}`,
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          ...kafkaAttributes(topic, partition),
          "messaging.operation.type": "send",
          "messaging.operation.name": "send",
          "messaging.kafka.message.key": key,
          "booking.id": command.booking_id,
          "booking.command": command.type,
        },
      },
      context.active(),
    )

  return {
    /** Resolves once the command is durably in Kafka. */
    send(command: Command): Promise<void> {
      const key = commandKey(command.event_id, command.section, command.subsection)
      const partition = partitionFor(key, partitions)
      const span = tracing ? startSpan(key, partition, command) : undefined
      const headers = span ? { traceparent: tracing!.traceparent(span) } : undefined
      return new Promise<void>((resolve, reject) => {
        queue.push({ key, value: encodeCommand(command), partition, resolve, reject, span, headers })
        if (queue.length >= maxBatch) flush()
        else if (!scheduled) {
          scheduled = true
          // A linger of a few ms gathers several event-loop turns into one produce request:
          // fewer, larger requests cost the broker and this process less CPU per command.
          if (lingerMs > 0) setTimeout(flush, lingerMs)
          else setImmediate(flush)
        }
      })
    },
  }
}

export type CommandProducer = ReturnType<typeof createCommandProducer>
