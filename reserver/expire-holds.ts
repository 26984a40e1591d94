// The partition owner's side of holds that expire: it keeps the deadlines of its partitions' live
// holds (hold-deadlines.ts), and when one falls due it produces an `expire` command under the
// subsection's key. The command is decided by the batch step in the partition's order, after every
// reserve and release before it, so no timer races a decision and no lock is needed; PostgreSQL's
// guards (expire only unpaid and past the deadline, pay only before it) settle the race with a payment.
import { Partitioners, type Kafka, type Producer } from "kafkajs"
import type { Sql } from "postgres"
import { encodeCommand, type ExpireCommand } from "../shared/commands.ts"
import { commandKey, partitionFor } from "../shared/kafka.ts"
import type { Logger } from "../shared/log.ts"
import type { BookingOutcome } from "./decide-batch.ts"
import { createHoldDeadlines, type Hold } from "./hold-deadlines.ts"

export type HoldExpirerOptions = {
  sql: Sql
  kafka: Kafka
  topic: string
  /** The command topic's partition count, which maps a subsection to its partition. */
  partitions: number
  log: Logger
  /** How often due holds are looked for. */
  tickMs?: number
  /** Called with the number of expire commands produced. */
  onProduced?: (count: number) => void
}

// Keeps each produce request well under the broker's message.max.bytes.
const PRODUCE_CHUNK = 2_000
// A hold PostgreSQL's clock does not yet see as due (clocks apart) is looked at again this much later.
const RECHECK_MS = 200

/** Expires the holds of this member's partitions as they fall due; see the file comment. */
export function createHoldExpirer(options: HoldExpirerOptions) {
  const { sql, topic, partitions, log } = options
  let owned: ReadonlySet<number> = new Set()
  const deadlines = createHoldDeadlines(() => owned)
  // Every message names its partition; the partitioner is named only so that kafkajs does not warn at start.
  const producer: Producer = options.kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner })
  let rebuildWanted = false
  let ticking = false
  let timer: ReturnType<typeof setInterval> | undefined

  const partitionOf = (eventId: number, section: string, subsection: number) => partitionFor(commandKey(eventId, section, subsection), partitions)

  // Loads the live holds of the owned partitions' subsections (bookings_holds_idx): after each
  // assignment, so holds decided by another member, or whose deadline passed while no reserver ran, are known.
  const rebuild = async () => {
    const mine = owned
    if (mine.size === 0) return
    const subsections = (
      await sql<{ event_id: string; section: string; subsection: number }[]>`
        SELECT s.event_id, s.section, s.subsection FROM subsection_stats s JOIN events e ON e.id = s.event_id
        WHERE e.status IN ('available', 'sold_out')`
    ).filter((s) => mine.has(partitionOf(Number(s.event_id), s.section, s.subsection)))
    if (subsections.length === 0) return
    const holds = await sql<{ id: string; buyer_id: string; event_id: string; section: string; subsection: number; expires_at: Date }[]>`
      SELECT b.id, b.buyer_id, b.event_id, b.section, b.subsection, b.expires_at
      FROM bookings b
      JOIN unnest(${subsections.map((s) => s.event_id)}::bigint[], ${subsections.map((s) => s.section)}::text[],
                  ${subsections.map((s) => s.subsection)}::int[]) AS v(event_id, section, subsection)
        ON b.event_id = v.event_id AND b.section = v.section AND b.subsection = v.subsection
      WHERE b.status = 'pending_payment' AND b.expires_at IS NOT NULL`
    for (const h of holds) {
      const eventId = Number(h.event_id)
      deadlines.add({
        bookingId: h.id,
        buyerId: Number(h.buyer_id),
        eventId,
        section: h.section,
        subsection: h.subsection,
        partition: partitionOf(eventId, h.section, h.subsection),
        dueAt: h.expires_at.getTime(),
      })
    }
    log.info("hold deadlines loaded", { partitions: [...mine], holds: holds.length })
  }

  // Produces an expire command for each due hold PostgreSQL still has unpaid and past its deadline.
  const expireDue = async (due: Hold[]) => {
    const rows = await sql<{ id: string; due: boolean }[]>`
      SELECT id, expires_at <= now() AS due FROM bookings WHERE id = ANY(${due.map((h) => h.bookingId)}::uuid[]) AND status = 'pending_payment'`
    const live = new Map(rows.map((r) => [r.id, r.due]))
    const ready: Hold[] = []
    for (const hold of due) {
      const isDue = live.get(hold.bookingId)
      if (isDue === true) ready.push(hold)
      else if (isDue === false) deadlines.add({ ...hold, dueAt: Date.now() + RECHECK_MS })
    }
    const chunks: Hold[][] = []
    for (let i = 0; i < ready.length; i += PRODUCE_CHUNK) chunks.push(ready.slice(i, i + PRODUCE_CHUNK))
    // Chunks go out at once: the order of expiries among themselves does not matter, only their
    // place among a subsection's reserves and releases, which the partition gives them.
    await Promise.all(
      chunks.map(async (chunk) => {
        await producer.send({
          topic,
          acks: -1,
          messages: chunk.map((h) => {
            const command: ExpireCommand = { type: "expire", booking_id: h.bookingId, buyer_id: h.buyerId, event_id: h.eventId, section: h.section, subsection: h.subsection }
            return { key: commandKey(h.eventId, h.section, h.subsection), partition: h.partition, value: encodeCommand(command) }
          }),
        })
        options.onProduced?.(chunk.length)
      }),
    )
  }

  const tick = async () => {
    if (ticking) return
    ticking = true
    let due: Hold[] = []
    try {
      if (rebuildWanted) {
        rebuildWanted = false
        await rebuild().catch((error: unknown) => {
          rebuildWanted = true
          throw error
        })
      }
      due = deadlines.popDue(Date.now())
      if (due.length > 0) await expireDue(due)
    } catch (error) {
      // Tried again at the next tick; an expire produced twice is decided once.
      for (const hold of due) deadlines.add(hold)
      log.warn("expiring holds failed; retrying", { holds: due.length, error })
    } finally {
      ticking = false
    }
  }

  return {
    /** This member's partitions changed: forget the others' holds and load the new set's. */
    assigned(list: number[]) {
      owned = new Set(list)
      deadlines.keepPartitions(owned)
      rebuildWanted = true
      void tick()
    },
    /** Indexes the holds a committed batch of `partition` decided. */
    track(partition: number, outcomes: BookingOutcome[]) {
      for (const o of outcomes) {
        if (o.status !== "pending_payment" || !o.expires_at) continue
        deadlines.add({ bookingId: o.booking_id, buyerId: o.buyer_id, eventId: o.event_id, section: o.section, subsection: o.subsection, partition, dueAt: Date.parse(o.expires_at) })
      }
    },
    /** Live holds indexed. */
    holds: () => deadlines.size(),
    async start() {
      await producer.connect()
      timer = setInterval(() => void tick(), options.tickMs ?? 250)
    },
    async stop() {
      if (timer) clearInterval(timer)
      await producer.disconnect()
    },
  }
}

/** The hold expirer of one reserver. */
export type HoldExpirer = ReturnType<typeof createHoldExpirer>
