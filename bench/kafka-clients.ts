// The gateway's produce path with each Kafka client behind it: kafkajs and @platformatic/kafka.
// Booking commands go through createCommandProducer exactly as the gateway sends them (acks=all,
// every command queued in one linger window shares a produce request), from `--clients` loops
// that each wait for their command's acknowledgement before sending the next, as HTTP requests
// do. Reports throughput and CPU per command of this process and of the broker (from /proc,
// when .data/run/kafka.pid names it). Needs the services (`npm run services:start`).
//
//   bun bench/kafka-clients.ts [--commands 100000] [--clients 400] [--rounds 2] [--linger 2]
import { Partitioners } from "kafkajs"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { createCommandProducer, createKafkaSender, type KafkaSender } from "../gateway/command-producer.ts"
import type { ReserveCommand } from "../shared/commands.ts"
import { loadConfig, projectRoot } from "../shared/config.ts"
import { createKafka } from "../shared/kafka.ts"
import { createLogger } from "../shared/log.ts"
import { uniqueName } from "../shared/testing.ts"
import { cpuTicks } from "./process-cpu.ts"

const { values: args } = parseArgs({
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
    return Number(readFileSync(join(process.env.DATA_DIR ?? join(projectRoot, ".data"), "run/kafka.pid"), "utf8").trim())
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

const command = (i: number): ReserveCommand => ({
  type: "reserve",
  booking_id: crypto.randomUUID(),
  buyer_id: 1 + (i % 10_000),
  event_id: 1,
  section: "ABCDEFGHIJ"[i % 10]!,
  subsection: 1 + (i % 10),
  quantity: 2,
  mode: "best_available",
  seats: [],
  price: 3000,
  created_at: new Date().toISOString(),
})

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
  const ticks0 = brokerTicks()
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < total) await producer.send(command(next++))
    }),
  )
  const seconds = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  const ticks1 = brokerTicks()
  await sender.close()
  const perCommand = (us: number) => (us / total).toFixed(1)
  const broker = ticks0 !== undefined && ticks1 !== undefined ? `${perCommand(((ticks1 - ticks0) / 100) * 1e6)} µs` : "n/a"
  console.log(
    `${name.padEnd(20)} ${String(Math.round(total / seconds)).padStart(7)} commands/s  ` +
      `client CPU ${perCommand(cpu.user + cpu.system)} µs/command  broker CPU ${broker}/command  ${(total / requests).toFixed(0)} commands/request`,
  )
}

console.log(`${total} commands from ${clients} clients, linger ${args.linger} ms, ${partitions} partitions, acks=all`)
for (let round = 1; round <= Number(args.rounds); round++) {
  for (const name of Object.keys(senders)) await run(name)
}
await admin.deleteTopics({ topics: [topic] })
await admin.disconnect()
