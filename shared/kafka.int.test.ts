import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { Partitioners, type Admin } from "kafkajs"
import { createKafka, ensureTopics, partitionFor } from "./kafka.ts"
import { testConfig, testLogger, uniqueName } from "../testing/helpers.ts"

const config = testConfig()
const kafka = createKafka(config, testLogger(), uniqueName("kafka-test"))
let admin: Admin

beforeAll(async () => {
  admin = kafka.admin()
  await admin.connect()
})
afterAll(() => admin.disconnect())

describe("Kafka on the local broker", () => {
  test("ensureTopics creates the command and dead-letter topics once", async () => {
    const layout = {
      commandTopic: uniqueName("cmd"),
      commandPartitions: 6,
      deadLetterTopic: uniqueName("dlq"),
      replicationFactor: 1,
    }
    expect(await ensureTopics(admin, layout)).toBe(6)
    // Second run finds them; an existing topic keeps its partition count.
    expect(await ensureTopics(admin, { ...layout, commandPartitions: 3 })).toBe(6)
    const topics = await admin.listTopics()
    expect(topics).toContain(layout.commandTopic)
    expect(topics).toContain(layout.deadLetterTopic)
  })

  test("keyed messages round-trip through a consumer group on murmur2 partitions, in order", async () => {
    const topic = uniqueName("roundtrip")
    const partitions = 8
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions }] })

    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false })
    await producer.connect()
    const keys = ["1:A-1", "1:A-2", "1:B-1", "42:VIP-10", "7:C-3"]
    const sent: { key: string; value: string }[] = []
    for (let i = 0; i < 40; i++) {
      const key = keys[i % keys.length]!
      sent.push({ key, value: `${key}#${i}` })
    }
    const acks = await producer.send({ topic, acks: -1, messages: sent })
    await producer.disconnect()
    expect(acks.every((a) => a.errorCode === 0)).toBe(true)

    const groupId = uniqueName("group")
    const consumer = kafka.consumer({ groupId })
    await consumer.connect()
    await consumer.subscribe({ topic, fromBeginning: true })
    const received: { key: string; value: string; partition: number }[] = []
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            for (const m of batch.messages) {
              received.push({ key: m.key!.toString(), value: m.value!.toString(), partition: batch.partition })
            }
            await consumer.commitOffsets([
              { topic, partition: batch.partition, offset: String(Number(batch.lastOffset()) + 1) },
            ])
            if (received.length >= sent.length) resolve()
          },
        })
        .catch(reject)
    })
    await consumer.disconnect()

    expect(received.length).toBe(sent.length)
    for (const r of received) expect(r.partition).toBe(partitionFor(r.key, partitions))
    for (const key of keys) {
      expect(received.filter((r) => r.key === key).map((r) => r.value)).toEqual(
        sent.filter((s) => s.key === key).map((s) => s.value),
      )
    }
    // The group's committed offsets cover every message.
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] })
    const committed = offsets!.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0)
    expect(committed).toBe(sent.length)
  })
})

test("a kafkajs client prints no TimeoutNegativeWarning and stops polling once idle (patchKafkajsIdlePoll)", async () => {
  // A process of its own: Bun prints the warning once per process, and the first one would be this file's.
  const script = `
    import { createKafka, patchKafkajsIdlePoll } from "./shared/kafka.ts"
    import { testConfig, testLogger } from "./testing/helpers.ts"
    const admin = createKafka(testConfig(), testLogger()).admin()
    await admin.connect()
    await admin.describeCluster()
    const before = process.cpuUsage()
    await Bun.sleep(1000)
    const idle = process.cpuUsage(before)
    await admin.disconnect()
    console.log(JSON.stringify({ patched: patchKafkajsIdlePoll(), idleCpuMs: (idle.user + idle.system) / 1000 }))
  `
  const proc = Bun.spawn([process.execPath, "-e", script], { cwd: `${import.meta.dir}/..`, env: process.env, stdout: "pipe", stderr: "pipe" })
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
  expect(stderr).not.toContain("TimeoutNegativeWarning")
  const result = JSON.parse(stdout.trim().split("\n").at(-1)!)
  expect(result.patched).toBe(true)
  // Unpatched, the 1 ms timer of each connection costs tens of milliseconds of CPU a second.
  expect(result.idleCpuMs).toBeLessThan(20)
})
