import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Link, type Span } from "@opentelemetry/api"
import type { Batch, KafkaMessage } from "kafkajs"
import type { Command } from "../shared/commands.ts"
import { kafkaAttributes, type Tracing } from "../shared/tracing.ts"
import type { BatchPhase, BatchPhases } from "./batch-step.ts"
import type { StepShape } from "./coalesce-batches.ts"
import type { BatchResult, BookingOutcome } from "./decide-batch.ts"

// The SDK keeps at most 128 links per span by default; more would only be dropped.
const MAX_LINKS = 128

const PHASE_ATTRIBUTES: Record<BatchPhase, Attributes> = {
  load: { "db.system.name": "redis,postgresql", "db.operation.name": "load seat maps and replays" },
  decide: {},
  "pg-write": { "db.system.name": "postgresql", "db.operation.name": "transaction" },
  "redis-apply": { "db.system.name": "redis", "db.operation.name": "pipeline" },
  publish: { "db.system.name": "redis", "db.operation.name": "publish" },
}

const traceparentOf = (message: KafkaMessage): string | undefined => {
  const value = message.headers?.traceparent
  return value === undefined ? undefined : String(value)
}

const failSpan = (span: Span, error: unknown) => {
  span.recordException(error as Error)
  span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message })
}

// What the booking span reports: the decision for this command, in the vocabulary of the outcome metrics.
const outcomeOf = (command: Command, outcome: BookingOutcome | undefined): string => {
  if (!outcome) return command.type === "release" ? "nothing_to_release" : command.type === "expire" ? "nothing_to_expire" : "unknown"
  if (outcome.status === "pending_payment") return "reserved"
  if (outcome.status === "cancelled") return "released"
  return outcome.status
}

/**
 * The spans of one partition batch: a batch span (its own trace, linked to the producers of
 * its first messages) with a child span per phase of the batch step it ran in, and, once the
 * batch is committed, one span per command in the trace of the request that produced it
 * (parent: the producer span named by the message's `traceparent` header), linked to the
 * batch span. A step that merged several partition batches (coalesce-batches.ts) gives each
 * of them the same phase spans, whose attributes say how many batches and commands it held.
 */
export function traceBatch(tracing: Tracing, topic: string, groupId: string, batch: Batch) {
  const { tracer } = tracing
  const started = Date.now()
  const links: Link[] = []
  for (const message of batch.messages) {
    if (links.length >= MAX_LINKS) break
    const parent = trace.getSpanContext(tracing.parentFrom(traceparentOf(message)) ?? ROOT_CONTEXT)
    if (parent) links.push({ context: parent })
  }
  const span = tracer.startSpan(`process ${topic}`, {
    kind: SpanKind.CONSUMER,
    root: true,
    links,
    attributes: {
      ...kafkaAttributes(topic, batch.partition),
      "messaging.operation.type": "process",
      "messaging.operation.name": "process",
      "messaging.consumer.group.name": groupId,
      "messaging.batch.message_count": batch.messages.length,
      "messaging.kafka.batch.first_offset": Number(batch.firstOffset() ?? -1),
      "messaging.kafka.batch.last_offset": Number(batch.lastOffset()),
      "messaging.kafka.batch.high_watermark": Number(batch.highWatermark),
    },
  })
  const context: Context = trace.setSpan(ROOT_CONTEXT, span)
  const batchLink: Link[] = [{ context: span.spanContext() }]

  const bookingSpan = (name: string, message: KafkaMessage, attributes: Attributes): Span =>
    tracer.startSpan(
      name,
      {
        kind: SpanKind.CONSUMER,
        startTime: started,
        links: batchLink,
        attributes: { ...kafkaAttributes(topic, batch.partition), "messaging.kafka.offset": Number(message.offset), ...attributes },
      },
      tracing.parentFrom(traceparentOf(message)) ?? ROOT_CONTEXT,
    )

  return {
    /** The batch span as the active context, so log lines of the batch carry its trace id. */
    context,
    /** One child span per phase of one attempt of the batch step that this batch ran in. */
    phases(step: StepShape): BatchPhases {
      let current: Span | undefined
      const shape = { "batch.step.batches": step.batches, "batch.step.commands": step.commands }
      return {
        next(phase) {
          current?.end()
          current = tracer.startSpan(`batch ${phase}`, { attributes: { ...PHASE_ATTRIBUTES[phase], ...shape } }, context)
        },
        end(error) {
          if (current && error !== undefined) failSpan(current, error)
          current?.end()
          current = undefined
        },
      }
    },
    /** Ends the batch with a span per command (its decision) and per dead-lettered message. */
    committed(commands: Command[], sources: KafkaMessage[], result: BatchResult, dead: { message: KafkaMessage; reason: string }[]) {
      const outcomes = new Map(result.outcomes.map((o) => [o.booking_id, o]))
      const rejected = new Map(dead.map((d) => [d.message, d.reason]))
      for (const [i, command] of commands.entries()) {
        const message = sources[i]!
        const reason = rejected.get(message)
        const outcome = outcomes.get(command.booking_id)
        const booking = bookingSpan(`booking ${command.type}`, message, {
          "booking.id": command.booking_id,
          "booking.command": command.type,
          "booking.event_id": command.event_id,
          "booking.section": command.section,
          "booking.subsection": command.subsection,
          "booking.outcome": reason ? "dead_lettered" : outcomeOf(command, outcome),
          ...(outcome ? { "booking.status": outcome.status, "booking.replayed": outcome.replayed } : {}),
          ...(outcome?.error_message ? { "booking.error": outcome.error_message } : {}),
        })
        if (reason) booking.setStatus({ code: SpanStatusCode.ERROR, message: reason })
        booking.end()
      }
      // Messages that never decoded have no booking id; their span still lands in the producer's trace.
      const decoded = new Set(sources)
      for (const { message, reason } of dead) {
        if (decoded.has(message)) continue
        const undecoded = bookingSpan("booking dead_letter", message, { "booking.outcome": "dead_lettered", "messaging.kafka.message.key": message.key?.toString() ?? "" })
        undecoded.setStatus({ code: SpanStatusCode.ERROR, message: reason })
        undecoded.end()
      }
      span.setAttributes({ "batch.reserved": result.reserved, "batch.failed": result.failed, "batch.released": result.released, "batch.expired": result.expired, "batch.dead_lettered": dead.length })
      span.end()
    },
    /** Ends the batch span as failed: nothing was committed, the batch will be fetched again. */
    failed(error: unknown) {
      failSpan(span, error)
      span.end()
    },
    /** Ends the batch span of a batch given up uncommitted because the consumer stops or lost the partition. */
    abandoned() {
      span.setAttribute("batch.abandoned", true)
      span.end()
    },
  }
}

/** The spans of one partition batch. */
export type BatchTrace = ReturnType<typeof traceBatch>
