// Helpers for *.int.test.ts files that book end to end: a test gateway listening on a real port, with a
// real Kafka producer and a reserver in this process, so bookings get outcomes and notifications. With
// GATEWAY_RUNTIME=deno the gateway is the Deno child of testing/gateway.ts, producing to the same topic.
import { createKafka } from "../shared/kafka.ts"
import { findBestAvailable } from "../shared/seat-finder.ts"
import { eventually, testConfig, testLogger, uniqueName } from "./helpers.ts"
import { createBatchStep } from "../reserver/batch-step.ts"
import { createCommandConsumer } from "../reserver/consume-commands.ts"
import { createHoldExpirer } from "../reserver/expire-holds.ts"
import type { GatewayDeps } from "../gateway/app.ts"
import { createCommandProducer, createKafkaSender } from "../gateway/command-producer.ts"
import { createTestGateway } from "./gateway.ts"

type User = { cookie: string; user: { id: number } }

/** Starts the stack; `overrides` go to createTestGateway (a hub of the test's own, say). */
export async function startBookingStack(overrides: Partial<GatewayDeps> = {}) {
  const log = testLogger()
  const kafka = createKafka(testConfig(), log, uniqueName("live-test"))
  const topic = uniqueName("cmd")
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 4 }, { topic: `${topic}.dlq`, numPartitions: 1 }] })
  await admin.disconnect()
  const producer = createKafkaSender({ brokers: testConfig().kafkaBrokers, clientId: uniqueName("live-test"), topic })
  const gw = await createTestGateway(overrides, () => ({ commands: createCommandProducer(producer.send, topic, 4) }), { commandTopic: topic, commandPartitions: 4 })
  // As reserver/main.ts wires it: the partition owner expires its holds.
  const holds = createHoldExpirer({ sql: gw.sql, kafka, topic, partitions: 4, log, tickMs: 100 })
  await holds.start()
  const reserver = createCommandConsumer({
    kafka,
    topic,
    deadLetterTopic: `${topic}.dlq`,
    groupId: uniqueName("group"),
    concurrency: 2,
    log,
    batch: createBatchStep({ sql: gw.sql, redis: gw.redis, keys: gw.keys, log, findSeats: findBestAvailable }),
    onAssign: (partitions) => holds.assigned(partitions),
    onBatch: ({ partition, result }) => holds.track(partition, result.outcomes),
  })
  await reserver.start()
  const base = gw.listen()
  const seller = await gw.signUp("seller")

  /** Creates an event of `sections` sections of `subsections` subsections, 2 rows × 5 seats each (and the given hold time). */
  const createEvent = async (layout: { rows?: number; cols?: number; sections?: string[]; subsections?: number; holdSeconds?: number } = {}) => {
    const { rows = 2, cols = 5, sections = ["A"], subsections = 2, holdSeconds } = layout
    const res = await gw.call("POST", "/api/event", {
      cookie: seller.cookie,
      body: {
        name: "Live show",
        description: "A show",
        venue_name: "Hall",
        seating_config: { rows, cols, sections: sections.map((name) => ({ name, price: 100, subsections })) },
        ...(holdSeconds === undefined ? {} : { hold_seconds: holdSeconds }),
      },
    })
    if (res.status !== 201) throw new Error(`event not created: ${res.status} ${JSON.stringify(res.body)}`)
    return res.body.id as number
  }

  /** Books seats of subsection `A-1` (or the given one) and answers the 202 body. */
  const book = async (buyer: User, eventId: number, seats: string[] | number, where: { section?: string; subsection?: number } = {}) => {
    const manual = Array.isArray(seats)
    const res = await gw.call("POST", "/api/booking", {
      cookie: buyer.cookie,
      body: {
        event_id: eventId,
        section: where.section ?? "A",
        subsection: where.subsection ?? 1,
        seat_selection_mode: manual ? "manual" : "best_available",
        seat_positions: manual ? seats : [],
        quantity: manual ? seats.length : seats,
      },
    })
    if (res.status !== 202) throw new Error(`booking refused: ${res.status} ${JSON.stringify(res.body)}`)
    return res.body as { id: string; created_at: string }
  }

  /** Waits until the reserver has decided the booking, and answers it. */
  const decided = (buyer: User, id: string) =>
    eventually(async () => {
      const res = await gw.call("GET", `/api/booking/${id}`, { cookie: buyer.cookie })
      return res.body.status !== "processing" ? (res.body as Record<string, any>) : undefined
    }, 20_000, `booking ${id} decided`)

  const stop = async () => {
    await reserver.stop()
    await holds.stop()
    await producer.close()
    await gw.close()
  }

  return { gw, base, seller, createEvent, book, decided, stop }
}

/** The running stack of startBookingStack. */
export type BookingStack = Awaited<ReturnType<typeof startBookingStack>>
