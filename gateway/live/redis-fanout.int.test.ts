import { afterAll, beforeAll, expect, test } from "bun:test"
import type Redis from "ioredis"
import { createRedis } from "../../shared/clients.ts"
import { createLogger } from "../../shared/log.ts"
import { eventually, testConfig, testLogger, uniqueName } from "../../testing/helpers.ts"
import { createRedisFanout, type RedisFanout } from "./redis-fanout.ts"

let redis: Redis
let subscriber: Redis
let live: RedisFanout
let subscriberId: number
const logged: string[] = []

beforeAll(async () => {
  redis = createRedis(testConfig().redisUrl)
  subscriber = redis.duplicate({ autoResubscribe: false })
  // Asked before the first SUBSCRIBE: a connection in subscriber mode answers nothing else.
  subscriberId = (await subscriber.client("ID")) as number
  live = createRedisFanout(subscriber, createLogger("live", "warn", {}, (line) => void logged.push(line)))
})
afterAll(async () => {
  await live.close()
  redis.disconnect()
})

// How many connections Redis has subscribed to the channel.
const subscribers = async (channel: string) => ((await redis.pubsub("NUMSUB", channel)) as [string, number])[1]

const collect = () => {
  const got: string[] = []
  return { got, listener: (message: string) => void got.push(message) }
}

test("a connection made with autoResubscribe on is refused", () => {
  const other = redis.duplicate({ lazyConnect: true })
  expect(() => createRedisFanout(other, testLogger("live"))).toThrow("autoResubscribe: false")
  other.disconnect()
})

test("one Redis subscription per channel, shared by its listeners, dropped with the last", async () => {
  const channel = uniqueName("ch")
  const a = collect()
  const b = collect()
  const before = live.stats()
  const offA = await live.subscribe(channel, a.listener)
  const offB = await live.subscribe(channel, b.listener)
  expect(live.stats()).toEqual({ channels: before.channels + 1, listeners: before.listeners + 2 })
  expect(await subscribers(channel)).toBe(1)

  await redis.publish(channel, "one")
  await eventually(() => (a.got.length === 1 && b.got.length === 1 ? true : undefined), 5_000, "both listeners")
  offA()
  offA() // a second call changes nothing
  await redis.publish(channel, "two")
  await eventually(() => (b.got.length === 2 ? true : undefined), 5_000, "the remaining listener")
  expect(a.got).toEqual(["one"])
  expect(await subscribers(channel)).toBe(1)

  offB()
  expect(live.stats()).toEqual(before)
  await eventually(async () => ((await subscribers(channel)) === 0 ? true : undefined), 5_000, "UNSUBSCRIBE")
})

test("the same function subscribed twice is two listeners", async () => {
  const channel = uniqueName("ch")
  const { got, listener } = collect()
  const off1 = await live.subscribe(channel, listener)
  const off2 = await live.subscribe(channel, listener)
  await redis.publish(channel, "x")
  await eventually(() => (got.length === 2 ? true : undefined), 5_000, "two deliveries")
  off1()
  off2()
})

test("a listener that throws does not stop the others", async () => {
  const channel = uniqueName("ch")
  const { got, listener } = collect()
  const offBad = await live.subscribe(channel, () => {
    throw new Error("boom")
  })
  const off = await live.subscribe(channel, listener)
  await redis.publish(channel, "still here")
  await eventually(() => (got.length === 1 ? true : undefined), 5_000, "delivery")
  expect(logged.some((line) => line.includes("live-update listener failed") && line.includes("boom"))).toBe(true)
  offBad()
  off()
})

test("after a dropped connection every channel is subscribed again, then resynced is signalled", async () => {
  const channels = [uniqueName("ch"), uniqueName("ch")]
  const listeners = channels.map(() => collect())
  const offs = await Promise.all(channels.map((channel, i) => live.subscribe(channel, listeners[i]!.listener)))
  let resynced = 0
  const offResync = live.onResync(() => resynced++)

  // Redis closes the subscriber's connection, as a restart or a network cut would.
  expect(await redis.client("KILL", "ID", String(subscriberId))).toBe(1)

  await eventually(() => (resynced > 0 ? true : undefined), 10_000, "resynced")
  for (const channel of channels) expect(await subscribers(channel)).toBe(1)
  await Promise.all(channels.map((channel) => redis.publish(channel, "after")))
  await eventually(() => (listeners.every((l) => l.got.includes("after")) ? true : undefined), 5_000, "messages after the reconnect")
  // A channel subscribed after the reconnect works as before.
  const late = collect()
  const offLate = await live.subscribe(uniqueName("ch"), late.listener)
  offLate()
  for (const off of offs) off()
  offResync()
  expect(live.stats()).toEqual({ channels: 0, listeners: 0 })
})
