import type { Producer } from "kafkajs"
import { encodeCommand, type Command } from "../shared/commands.ts"
import { commandKey, partitionFor } from "../shared/kafka.ts"

type Pending = { key: string; value: Buffer; partition: number; resolve: () => void; reject: (error: unknown) => void }

/**
 * Produces booking commands with acks=all, coalescing every command queued in one
 * event-loop turn into a single produce request: one broker round trip serves many
 * HTTP requests. Each caller's promise settles when the broker has its message.
 */
export function createCommandProducer(producer: Producer, topic: string, partitions: number, maxBatch = 5_000) {
  let queue: Pending[] = []
  let scheduled = false

  const flush = () => {
    scheduled = false
    while (queue.length > 0) {
      const batch = queue.length > maxBatch ? queue.splice(0, maxBatch) : queue
      if (batch === queue) queue = []
      producer
        .send({
          topic,
          acks: -1,
          // The partition is computed here (murmur2, as every Kafka client does) from a count
          // fetched once at start-up, so no per-message metadata lookup is needed.
          messages: batch.map((p) => ({ key: p.key, value: p.value, partition: p.partition })),
        })
        .then(
          () => {
            for (const p of batch) p.resolve()
          },
          (error) => {
            for (const p of batch) p.reject(error)
          },
        )
    }
  }

  return {
    /** Resolves once the command is durably in Kafka. */
    send(command: Command): Promise<void> {
      const key = commandKey(command.event_id, command.section, command.subsection)
      return new Promise<void>((resolve, reject) => {
        queue.push({ key, value: encodeCommand(command), partition: partitionFor(key, partitions), resolve, reject })
        if (!scheduled) {
          scheduled = true
          setImmediate(flush)
        }
      })
    },
  }
}

export type CommandProducer = ReturnType<typeof createCommandProducer>
