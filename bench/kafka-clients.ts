// The gateway's produce path with each Kafka client behind it: kafkajs and @platformatic/kafka.
// Booking commands go through createCommandProducer exactly as the gateway sends them (acks=all,
// every command queued in one linger window shares a produce request), from `--clients` loops
// that each wait for their command's acknowledgement before sending the next, as HTTP requests
// do. Reports throughput and CPU per command of this process and of the broker (from /proc,
// when .data/run/kafka.pid names it). Needs the services (`npm run services:start`).
//
// `consume` measures the other side, the reserver's: a topic pre-filled with the commands is read
// by a fresh consumer group of each client, every command decoded as the reserver decodes it and
// offsets committed as it goes (kafkajs: per partition batch, as the reserver does; the other:
// every 1,000 messages, its stream handing out single messages). The clock starts at the first
// message, so the group join is not counted.
//
//   bun bench/kafka-clients.ts [--commands 100000] [--clients 400] [--rounds 2] [--linger 2]
//   bun bench/kafka-clients.ts consume [--commands 200000] [--rounds 2]
import { Consumer } from "@platformatic/kafka"
import { Partitioners } from "kafkajs"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { createCommandProducer, createKafkaSender, type KafkaSender } from "../gateway/command-producer.ts"
import { decodeCommand, encodeCommand } from "../shared/commands.ts"
import { loadConfig } from "../shared/config.ts"
import { commandKey, createKafka, partitionFor } from "../shared/kafka.ts"
import { createLogger } from "../shared/log.ts"
import { uniqueName } from "../testing/helpers.ts"
import { reserve } from "../testing/fixtures.ts"
import { cpuTicks } from "./process-cpu.ts"

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    commands: { type: "string", default: "100000" },
    clients: { type: "string", default: "400" },
    rounds: { type: "string", default: "2" },
    linger: { type: "string", default: "2" },
  },
})
const total = Number(args.commands)
const clients = Number(args.clients)
const partitions = 12

const config = loadConfig(process.env)
const log = createLogger("bench", "warn")
const kafka = createKafka(config, log, "bench-kafka-clients")
const topic = uniqueName("bench.kafka-clients")
const admin = kafka.admin()
await admin.connect()
await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions }] })

function kafkajsSender(): KafkaSender {
  const producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner })
  const connected = producer.connect()
  return {
    send: async (messages) => {
      await connected
      await producer.send({ topic, acks: -1, messages })
    },
    close: () => producer.disconnect(),
  }
}

const senders: Record<string, () => KafkaSender> = {
  kafkajs: kafkajsSender,
  "@platformatic/kafka": () => createKafkaSender({ brokers: config.kafkaBrokers, clientId: "bench-kafka-clients", topic }),
}

const brokerPid = (() => {
  try {
    return Number(readFileSync(join(config.dataDir, "run/kafka.pid"), "utf8").trim())
  } catch {
    return undefined
  }
})()
const brokerTicks = (): number | undefined => {
  try {
    return brokerPid ? cpuTicks(brokerPid) : undefined
  } catch {
    return undefined
  }
}

const command = (i: number) =>
  reserve({ event_id: 1, buyer_id: 1 + (i % 10_000), section: "ABCDEFGHIJ"[i % 10]!, subsection: 1 + (i % 10), quantity: 2 })

type Measured = { seconds: number; cpuMicros: number; brokerTicks?: number }

/** Wall time, this process's CPU and the broker's CPU ticks from `start()` (the first call counts) to `stop()`. */
const timer = () => {
  let t0 = 0
  let cpu0: NodeJS.CpuUsage | undefined
  let broker0: number | undefined
  return {
    start() {
      if (cpu0) return
      t0 = performance.now()
      cpu0 = process.cpuUsage()
      broker0 = brokerTicks()
    },
    stop(): Measured {
      const cpu = process.cpuUsage(cpu0)
      const broker1 = brokerTicks()
      return {
        seconds: (performance.now() - t0) / 1000,
        cpuMicros: cpu.user + cpu.system,
        brokerTicks: broker0 !== undefined && broker1 !== undefined ? broker1 - broker0 : undefined,
      }
    },
  }
}

const report = (name: string, count: number, m: Measured, extra: string) => {
  const perCommand = (micros: number) => `${(micros / count).toFixed(1)} µs`
  const broker = m.brokerTicks === undefined ? "n/a" : perCommand(m.brokerTicks * 10_000)
  console.log(
    `${name.padEnd(20)} ${String(Math.round(count / m.seconds)).padStart(7)} commands/s  client CPU ${perCommand(m.cpuMicros)}/command  broker CPU ${broker}/command  ${extra}`,
  )
}

async function run(name: string) {
  const sender = senders[name]!()
  let requests = 0
  const producer = createCommandProducer(
    (messages) => {
      requests++
      return sender.send(messages)
    },
    topic,
    partitions,
    { lingerMs: Number(args.linger) },
  )
  await producer.send(command(0)) // connection and metadata before the clock starts
  requests = 0
  let next = 0
  const clock = timer()
  clock.start()
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < total) await producer.send(command(next++))
    }),
  )
  const measured = clock.stop()
  await sender.close()
  report(name, total, measured, `${(total / requests).toFixed(0)} commands/request`)
}

/** Reads `count` commands of the topic with a fresh group, measured from the first message to the last. */
type Reader = (count: number) => Promise<Measured>

const readers: Record<string, Reader> = {
  kafkajs: async (count) => {
    const consumer = kafka.consumer({ groupId: uniqueName("bench-kafkajs") })
    await consumer.connect()
    await consumer.subscribe({ topic, fromBeginning: true })
    const clock = timer()
    let seen = 0
    const result = await new Promise<Measured>((resolve, reject) => {
      consumer
        .run({
          autoCommit: false,
          partitionsConsumedConcurrently: 4,
          eachBatch: async ({ batch }) => {
            clock.start()
            for (const message of batch.messages) decodeCommand(message.value)
            await consumer.commitOffsets([{ topic, partition: batch.partition, offset: String(Number(batch.lastOffset()) + 1) }])
            seen += batch.messages.length
            if (seen >= count) resolve(clock.stop())
          },
        })
        .catch(reject)
    })
    await consumer.disconnect()
    return result
  },
  "@platformatic/kafka": async (count) => {
    const consumer = new Consumer({ groupId: uniqueName("bench-platformatic"), clientId: "bench-kafka-clients", bootstrapBrokers: [...config.kafkaBrokers] })
    const stream = await consumer.consume({ topics: [topic], mode: "committed", fallbackMode: "earliest", autocommit: false, maxWaitTime: 100 })
    const clock = timer()
    let seen = 0
    const last = new Map<number, { offset: bigint; leaderEpoch: number }>()
    const commit = () =>
      consumer.commit({ offsets: [...last].map(([partition, at]) => ({ topic, partition, offset: at.offset + 1n, leaderEpoch: at.leaderEpoch })) })
    const result = await new Promise<Measured>((resolve, reject) => {
      stream.on("error", reject)
      stream.on("data", (message) => {
        clock.start()
        decodeCommand(message.value)
        last.set(message.partition, { offset: message.offset, leaderEpoch: message.leaderEpoch })
        if (++seen % 1_000 === 0 || seen >= count) {
          commit().then(() => {
            if (seen >= count) resolve(clock.stop())
          }, reject)
        }
      })
    })
    await stream.close()
    await consumer.close()
    return result
  },
}

if (positionals[0] === "consume") {
  const count = args.commands === "100000" ? 200_000 : total
  console.log(`${count} commands pre-filled in ${partitions} partitions, read by a fresh group of each client`)
  const sender = createKafkaSender({ brokers: config.kafkaBrokers, clientId: "bench-kafka-clients", topic })
  for (let i = 0; i < count; i += 5_000) {
    await sender.send(
      Array.from({ length: Math.min(5_000, count - i) }, (_, j) => {
        const c = command(i + j)
        const key = commandKey(c.event_id, c.section, c.subsection)
        return { key, value: encodeCommand(c), partition: partitionFor(key, partitions) }
      }),
    )
  }
  await sender.close()
  for (let round = 1; round <= Number(args.rounds); round++) {
    for (const [name, read] of Object.entries(readers)) report(name, count, await read(count), "")
  }
} else {
  console.log(`${total} commands from ${clients} clients, linger ${args.linger} ms, ${partitions} partitions, acks=all`)
  for (let round = 1; round <= Number(args.rounds); round++) {
    for (const name of Object.keys(senders)) await run(name)
  }
}
await admin.deleteTopics({ topics: [topic] })
await admin.disconnect()
