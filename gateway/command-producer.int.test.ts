import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import type { Admin } from "kafkajs"
import { decodeCommand, type ReserveCommand } from "../shared/commands.ts"
import { commandKey, createKafka, partitionFor } from "../shared/kafka.ts"
import { createLogger } from "../shared/log.ts"
import { freePort, testConfig, testLogger, uniqueName } from "../testing/helpers.ts"
import { reserve } from "../testing/fixtures.ts"
import { createCommandProducer, createKafkaSender } from "./command-producer.ts"

const config = testConfig()
const kafka = createKafka(config, testLogger(), uniqueName("producer-test"))
let admin: Admin

beforeAll(async () => {
  admin = kafka.admin()
  await admin.connect()
})
afterAll(() => admin.disconnect())

const command = (i: number, section: string, subsection: number) => reserve({ event_id: 7, buyer_id: i + 1, section, subsection })

type Received = { key: string; partition: number; value: Buffer; traceparent?: string }

async function readAll(topic: string, count: number): Promise<Received[]> {
  const consumer = kafka.consumer({ groupId: uniqueName("group") })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  const received: Received[] = []
  await new Promise<void>((resolve, reject) => {
    consumer
      .run({
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) {
            received.push({ key: m.key!.toString(), partition: batch.partition, value: m.value!, traceparent: m.headers?.traceparent?.toString() })
          }
          if (received.length >= count) resolve()
        },
      })
      .catch(reject)
  })
  await consumer.disconnect()
  return received
}

describe("the gateway's command producer on the local broker", () => {
  test("commands sent in one turn reach their subsection's murmur2 partition in order, key and value intact", async () => {
    const topic = uniqueName("cmd")
    const partitions = 6
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions }] })
    const sender = createKafkaSender({ brokers: config.kafkaBrokers, clientId: uniqueName("gateway"), topic })
    const producer = createCommandProducer(sender.send, topic, partitions)
    const where: [string, number][] = [["A", 1], ["A", 2], ["B", 1], ["VIP", 10]]
    const commands = Array.from({ length: 40 }, (_, i) => command(i, ...where[i % where.length]!))
    await Promise.all(commands.map((c) => producer.send(c)))
    await sender.close()

    const received = await readAll(topic, commands.length)
    expect(received).toHaveLength(commands.length)
    for (const m of received) {
      const command = decodeCommand(m.value) as ReserveCommand
      expect(m.key).toBe(commandKey(command.event_id, command.section, command.subsection))
      expect(m.partition).toBe(partitionFor(m.key, partitions))
    }
    // One subsection's commands keep the order they were sent in.
    for (const [section, subsection] of where) {
      const ids = received.map((m) => decodeCommand(m.value) as ReserveCommand).filter((c) => c.section === section && c.subsection === subsection)
      expect(ids.map((c) => c.booking_id)).toEqual(commands.filter((c) => c.section === section && c.subsection === subsection).map((c) => c.booking_id))
    }
  })

  test("a command's traceparent travels as a message header", async () => {
    const topic = uniqueName("cmd")
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1 }] })
    const sender = createKafkaSender({ brokers: config.kafkaBrokers, clientId: uniqueName("gateway"), topic })
    const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    await sender.send([{ key: "7:A-1", value: Buffer.from("{}"), partition: 0, headers: { traceparent } }])
    await sender.close()
    const [message] = await readAll(topic, 1)
    expect(message!.traceparent).toBe(traceparent)
  })

  test("with no broker to reach, the send fails after its retries instead of hanging, and says why once", async () => {
    const port = freePort()
    const sender = createKafkaSender({ brokers: [`127.0.0.1:${port}`], clientId: uniqueName("gateway"), topic: "nowhere" })
    const lines: string[] = []
    const log = createLogger("gateway", "warn", {}, (line) => lines.push(line))
    const producer = createCommandProducer(sender.send, "nowhere", 1, { log })
    const started = performance.now()
    // Two produce requests (the second queued after the first left) that fail within moments of each other.
    const first = producer.send(command(1, "A", 1))
    await Bun.sleep(20)
    const settled = await Promise.allSettled([first, producer.send(command(2, "A", 1))])
    expect(settled.map((s) => s.status)).toEqual(["rejected", "rejected"])
    // Two retries 500 ms apart; the bound is generous so a busy machine does not fail it.
    expect(performance.now() - started).toBeLessThan(60_000)
    // One warning for both: the second failure is counted toward the next one, a second or more later.
    expect(lines).toHaveLength(1)
    const warning = JSON.parse(lines[0]!)
    expect(warning).toMatchObject({ level: "warn", msg: "kafka produce failed; bookings answered 503", commands: 1 })
    expect(warning.error).toContain("ECONNREFUSED")
    await Bun.sleep(1_000)
    await expect(producer.send(command(3, "A", 1))).rejects.toThrow()
    expect(lines).toHaveLength(2)
    expect(JSON.parse(lines[1]!)).toMatchObject({ commands: 2 })
    await sender.close()
  }, 90_000)
})
