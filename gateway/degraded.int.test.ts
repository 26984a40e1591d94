// With Redis, PostgreSQL or Kafka away, every route answers within seconds: a 503 with Retry-After and a
// JSON detail where it needs the missing dependency, its usual answer where it does not, never a 500.
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import postgres from "postgres"
import { unavailableDependency } from "../shared/errors.ts"
import { createKafka } from "../shared/kafka.ts"
import { eventually, startScratchRedis, testConfig, testLogger, uniqueName, type ScratchRedis } from "../testing/helpers.ts"
import { RETRY_AFTER_SECONDS } from "./app.ts"
import { createCommandProducer, createKafkaSender, type KafkaSender } from "./command-producer.ts"
import { createEventCache } from "./event-cache.ts"
import { createGatewayRedis, createGatewaySql } from "./gateway-clients.ts"
import { createRedisFanout } from "./live/redis-fanout.ts"
import { createTestGateway, type TestResponse } from "../testing/gateway.ts"
import { startTcpProxy, type TcpProxy } from "../testing/tcp-proxy.ts"

// Every answer while a dependency is away comes within this: the Redis command timeout (2 s) or the
// producer's retries (about 1 s to a refused broker), with room for a busy machine.
const BOUND_MS = 5_000

const config = testConfig()
let scratch: ScratchRedis
let pgProxy: TcpProxy
let kafkaUp: KafkaSender
let kafkaDown: KafkaSender
let kafkaAway = false
let gw: Awaited<ReturnType<typeof createTestGateway>>
let seller: { cookie: string }
let buyer: { cookie: string }
let eventId: number

beforeAll(async () => {
  // The gateway reaches Redis at a redis-server of this file's own, PostgreSQL through a proxy this file
  // can cut, and Kafka through a producer it can swap for one aimed at a closed port: the services every
  // other test uses keep running.
  scratch = await startScratchRedis()
  const pg = new URL(config.databaseUrl)
  pgProxy = await startTcpProxy({ host: pg.hostname, port: Number(pg.port) })
  const topic = uniqueName("cmd")
  const admin = createKafka(config, testLogger(), uniqueName("degraded")).admin()
  await admin.connect()
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1 }] })
  await admin.disconnect()
  kafkaUp = createKafkaSender({ brokers: config.kafkaBrokers, clientId: uniqueName("degraded"), topic })
  kafkaDown = createKafkaSender({ brokers: ["127.0.0.1:1"], clientId: uniqueName("degraded"), topic })
  const redis = createGatewayRedis(scratch.url)
  redis.on("error", () => {})
  const subscriber = redis.duplicate({ autoResubscribe: false })
  subscriber.on("error", () => {})
  gw = await createTestGateway({ redis, live: createRedisFanout(subscriber, testLogger("live")) }, (base) => {
    pg.pathname = `/${base.sql.options.database}`
    pg.port = String(pgProxy.port)
    const sql = createGatewaySql(testConfig({ DATABASE_URL: pg.toString() }))
    return {
      sql,
      events: createEventCache({ sql, redis, keys: base.keys }, 0),
      commands: createCommandProducer((batch) => (kafkaAway ? kafkaDown : kafkaUp).send(batch), topic, 1),
    }
  })
  seller = await gw.signUp("seller")
  buyer = await gw.signUp("buyer")
  eventId = await gw.createEvent(seller.cookie)
})
afterAll(async () => {
  await gw.live.close()
  gw.redis.disconnect()
  await gw.sql.end({ timeout: 1 })
  await gw.close()
  await Promise.all([kafkaUp.close(), kafkaDown.close(), scratch.close(), pgProxy.close()])
})

const booking = () => ({ event_id: eventId, section: "A", subsection: 1, seat_selection_mode: "best_available", seat_positions: [], quantity: 1 })
const book = () => gw.call("POST", "/api/booking", { cookie: buyer.cookie, body: booking() })

type Timed = TestResponse & { ms: number }
// A call still unanswered at twice the bound counts as a hang (status 0), so the test goes on to restore
// the dependency instead of waiting for its own timeout.
const timed = async (call: Promise<TestResponse>): Promise<Timed> => {
  const started = performance.now()
  const hang = Bun.sleep(2 * BOUND_MS).then((): TestResponse => ({ status: 0, headers: new Headers(), body: { detail: "no answer" } }))
  const res = await Promise.race([call, hang])
  return { ...res, ms: performance.now() - started }
}

// The contract's degraded answer, given at once or within the bound.
const expectUnavailable = (res: Timed, detail = "Service temporarily unavailable, please retry") => {
  expect({ status: res.status, detail: res.body.detail, retryAfter: res.headers.get("retry-after") }).toEqual({
    status: 503,
    detail,
    retryAfter: String(RETRY_AFTER_SECONDS),
  })
  expect(res.ms).toBeLessThan(BOUND_MS)
}

describe("Redis stopped (a real redis-server, stopped mid-test and started again)", () => {
  test("what needs Redis answers 503 with Retry-After within seconds, the rest answers as usual, then bookings resume", async () => {
    const accepted = await book()
    expect(accepted.status).toBe(202)
    const id = accepted.body.id as string
    const withRoom = await gw.call("POST", "/api/event", {
      cookie: seller.cookie,
      body: { name: "Queue", description: "A queue", venue_name: "Hall", seating_config: { rows: 1, cols: 1, sections: [{ name: "A", price: 1, subsections: 1 }] }, waiting_room: { admit_per_second: 1 } },
    })
    expect(withRoom.status).toBe(201)
    const room = `/api/event/${withRoom.body.id}/waiting_room`
    expect((await gw.call("POST", `${room}/join`, { cookie: buyer.cookie })).status).toBe(200)

    await scratch.stop()
    try {
      expectUnavailable(await timed(book()))
      expectUnavailable(await timed(gw.call("GET", `/api/booking/${id}`, { cookie: buyer.cookie })))
      expectUnavailable(await timed(gw.call("GET", `/api/booking/${crypto.randomUUID()}`, { cookie: buyer.cookie })))
      expectUnavailable(await timed(gw.call("PATCH", `/api/booking/${id}`, { cookie: buyer.cookie })))
      expectUnavailable(await timed(gw.call("GET", `/api/event/${eventId}/sse`)))
      expectUnavailable(await timed(gw.call("GET", `/api/booking/event/${eventId}/sse`, { cookie: buyer.cookie })))
      expectUnavailable(await timed(gw.call("POST", `${room}/join`, { cookie: buyer.cookie })))
      expectUnavailable(await timed(gw.call("GET", room, { cookie: buyer.cookie })))
      expectUnavailable(await timed(gw.call("GET", `${room}/sse`, { cookie: buyer.cookie })))
      const event = { name: "Show", description: "A show", venue_name: "Hall", seating_config: { rows: 1, cols: 1, sections: [{ name: "A", price: 1, subsections: 1 }] } }
      expectUnavailable(await timed(gw.call("POST", "/api/event", { cookie: seller.cookie, body: event })))
      // PostgreSQL alone serves these.
      expect((await gw.call("GET", `/api/event/${eventId}`)).status).toBe(200)
      expect((await gw.call("GET", "/api/booking/my_booking", { cookie: buyer.cookie })).status).toBe(200)
      expect((await gw.call("POST", "/api/user/login", { body: { email: "nobody@example.com", password: "P@ssw0rd" } })).status).toBe(400)
    } finally {
      await scratch.start()
    }
    let again = await book()
    for (let i = 0; i < 50 && again.status !== 202; i++) {
      await Bun.sleep(100)
      again = await book()
    }
    expect(again.status).toBe(202)
  }, 60_000)
})

describe("Redis that stops answering (its process stopped with SIGSTOP, connections left open)", () => {
  test("a request waits at most the command timeout, then 503 with Retry-After; bookings resume once it continues", async () => {
    expect((await book()).status).toBe(202)
    const pid = Number(/process_id:(\d+)/.exec(await gw.redis.info("server"))![1])
    process.kill(pid, "SIGSTOP")
    try {
      expectUnavailable(await timed(book()))
      expectUnavailable(await timed(gw.call("GET", `/api/booking/${crypto.randomUUID()}`, { cookie: buyer.cookie })))
    } finally {
      process.kill(pid, "SIGCONT")
    }
    expect((await book()).status).toBe(202)
  }, 60_000)
})

describe("PostgreSQL unreachable (every connection cut and new ones refused, as a crash looks)", () => {
  test("reads and writes that need it answer 503 with Retry-After at once; bookings, which need Redis and Kafka, go on", async () => {
    expect((await gw.call("GET", `/api/event/${eventId}`)).status).toBe(200)
    const accepted = await book()
    expect(accepted.status).toBe(202)

    await pgProxy.cut()
    try {
      expectUnavailable(await timed(gw.call("GET", "/api/event")))
      expectUnavailable(await timed(gw.call("GET", `/api/event/${eventId}`)))
      expectUnavailable(await timed(gw.call("GET", `/api/event/${eventId}/sections/A/subsection/1/seats`)))
      expectUnavailable(await timed(gw.call("GET", `/api/booking/${accepted.body.id}`, { cookie: buyer.cookie })))
      expectUnavailable(await timed(gw.call("GET", "/api/booking/my_booking", { cookie: buyer.cookie })))
      expectUnavailable(await timed(gw.call("POST", "/api/user/login", { body: { email: "nobody@example.com", password: "P@ssw0rd" } })))
      expectUnavailable(await timed(gw.call("GET", `/api/event/${eventId}/sse`)))
      // The event's layout is in Redis, and the reserver writes PostgreSQL later.
      expect((await book()).status).toBe(202)
    } finally {
      await pgProxy.restore()
    }
    expect((await gw.call("GET", `/api/event/${eventId}`)).status).toBe(200)
  }, 60_000)

  test("a PostgreSQL that stops answering (connections open, nothing comes back): booking reads answer 503 within the read deadline", async () => {
    const accepted = await book()
    expect(accepted.status).toBe(202)
    // A connection of the pool exists and is idle before the stall, as under load.
    expect((await gw.call("GET", `/api/booking/${accepted.body.id}`, { cookie: buyer.cookie })).status).toBe(200)
    pgProxy.stall(true)
    try {
      expectUnavailable(await timed(gw.call("GET", `/api/booking/${accepted.body.id}`, { cookie: buyer.cookie })))
      expectUnavailable(await timed(gw.call("GET", "/api/booking/my_booking", { cookie: buyer.cookie })))
    } finally {
      pgProxy.stall(false)
    }
    await eventually(async () => ((await gw.call("GET", `/api/booking/${accepted.body.id}`, { cookie: buyer.cookie })).status === 200 ? true : undefined), 20_000, "reads answering again")
  }, 60_000)

  test("a query the server ends (pg_terminate_backend, as at shutdown) is classified as PostgreSQL being away", async () => {
    const sql = postgres(config.databaseUrl, { max: 1, onnotice: () => {}, connection: { application_name: uniqueName("victim") } })
    const admin = postgres(config.databaseUrl, { max: 1, onnotice: () => {} })
    try {
      const [backend] = await sql<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`
      const sleeping = sql`SELECT pg_sleep(10)`.catch((error: unknown) => error)
      await Bun.sleep(200)
      await admin`SELECT pg_terminate_backend(${backend!.pid})`
      const error = await sleeping
      // The server's FATAL 57P01 reaches the query unless the closed socket is noticed first.
      expect(["57P01", "CONNECTION_CLOSED"]).toContain(String((error as { code?: string }).code))
      expect(unavailableDependency(error)).toBe("POSTGRES_UNAVAILABLE")
    } finally {
      await Promise.all([sql.end({ timeout: 1 }), admin.end()])
    }
  })
})

describe("Kafka unreachable", () => {
  test("a booking, and the cancel of a processing one, answer 503 with Retry-After once the producer gives up", async () => {
    const accepted = await book()
    expect(accepted.status).toBe(202)
    kafkaAway = true
    try {
      expectUnavailable(await timed(book()), "Booking service temporarily unavailable, please retry")
      expectUnavailable(await timed(gw.call("PATCH", `/api/booking/${accepted.body.id}`, { cookie: buyer.cookie })))
    } finally {
      kafkaAway = false
    }
    expect((await book()).status).toBe(202)
  }, 60_000)
})
