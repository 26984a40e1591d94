import { afterAll, describe, expect, test } from "bun:test"
import Redis, { type RedisOptions } from "ioredis"
import postgres from "postgres"
import { Producer } from "@platformatic/kafka"
import { AppError, toAppError, unavailableDependency, unavailableError, UNAVAILABLE_DETAIL, ValidationError } from "./errors.ts"
import { freePort } from "../testing/helpers.ts"

// Real failures of the real clients, from a port nothing listens on and from a server that accepts
// connections and never answers (a stopped process looks so); no service needs to run.
const closedPort = freePort()
const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } })
afterAll(() => silent.stop(true))

const failureOf = async (run: () => Promise<unknown>): Promise<unknown> => {
  try {
    await run()
  } catch (error) {
    return error
  }
  throw new Error("expected a failure")
}

const redisTo = (port: number, options: RedisOptions = {}) => {
  const client = new Redis(port, "127.0.0.1", { maxRetriesPerRequest: 2, retryStrategy: () => 10, ...options })
  client.on("error", () => {})
  return client
}

const postgresError = (code: string) => new (postgres.PostgresError as unknown as new (fields: object) => Error)({ message: `sqlstate ${code}`, code })

describe("unavailableDependency", () => {
  test("ioredis: queued commands flushed after the reconnects, a command timing out, a closed client", async () => {
    const refused = redisTo(closedPort)
    const silentRedis = redisTo(silent.port, { commandTimeout: 200, enableReadyCheck: false })
    const closed = redisTo(closedPort, { lazyConnect: true })
    closed.disconnect()
    try {
      const errors = await Promise.all([failureOf(() => refused.get("k")), failureOf(() => silentRedis.get("k")), failureOf(() => closed.get("k"))])
      expect(errors.map((e) => (e as Error).message.slice(0, 25))).toEqual(["Reached the max retries p", "Command timed out", "Connection is closed."])
      expect(errors.map(unavailableDependency)).toEqual(["REDIS_UNAVAILABLE", "REDIS_UNAVAILABLE", "REDIS_UNAVAILABLE"])
    } finally {
      refused.disconnect()
      silentRedis.disconnect()
    }
  })

  test("ioredis: a reply saying Redis is loading is a dependency away, a wrong-type reply is not", () => {
    const reply = (message: string) => Object.assign(new Error(message), { name: "ReplyError" })
    expect(unavailableDependency(reply("LOADING Redis is loading the dataset in memory"))).toBe("REDIS_UNAVAILABLE")
    expect(unavailableDependency(reply("WRONGTYPE Operation against a key holding the wrong kind of value"))).toBeUndefined()
  })

  test("postgres.js: a refused connection and a connection attempt that times out", async () => {
    const refused = postgres(`postgres://postgres@127.0.0.1:${closedPort}/x`, { max: 1, onnotice: () => {} })
    const unanswered = postgres(`postgres://postgres@127.0.0.1:${silent.port}/x`, { max: 1, connect_timeout: 0.2, onnotice: () => {} })
    try {
      const errors = await Promise.all([failureOf(() => refused`SELECT 1`), failureOf(() => unanswered`SELECT 1`)])
      expect(errors.map((e) => (e as { code: string }).code)).toEqual(["ECONNREFUSED", "CONNECT_TIMEOUT"])
      expect(errors.map(unavailableDependency)).toEqual(["POSTGRES_UNAVAILABLE", "POSTGRES_UNAVAILABLE"])
    } finally {
      await Promise.all([refused.end({ timeout: 0 }), unanswered.end({ timeout: 0 })])
    }
  })

  test("PostgreSQL errors: connection (08), resources (53) and shutdown or start-up (57P01-57P03) only", () => {
    for (const code of ["08006", "08001", "53300", "53100", "57P01", "57P02", "57P03"]) {
      expect([code, unavailableDependency(postgresError(code))]).toEqual([code, "POSTGRES_UNAVAILABLE"])
    }
    for (const code of ["22003", "23505", "40P01", "57014", "57P04", "3D000", "42P01"]) {
      expect([code, unavailableDependency(postgresError(code))]).toEqual([code, undefined])
    }
  })

  test("@platformatic/kafka: a produce to a broker that cannot be reached", async () => {
    const producer = new Producer({ clientId: "errors-test", bootstrapBrokers: [`127.0.0.1:${closedPort}`], retries: 1, retryDelay: 10 })
    try {
      const error = await failureOf(() => producer.send({ messages: [{ topic: "nowhere", key: Buffer.from("k"), value: Buffer.from("{}") }] }))
      expect((error as { code: string }).code).toStartWith("PLT_KFK_")
      expect(unavailableDependency(error)).toBe("KAFKA_UNAVAILABLE")
    } finally {
      await producer.close()
    }
  })

  test("anything else is not a dependency away", () => {
    for (const error of [new Error("boom"), new TypeError("x is undefined"), Object.assign(new Error("bad option"), { code: "PLT_KFK_USER" }), "a string", null, undefined, 42]) {
      expect(unavailableDependency(error)).toBeUndefined()
    }
  })
})

describe("toAppError", () => {
  test("keeps an AppError, maps a dependency away to a retriable 503, leaves the rest unclassified", () => {
    const notFound = new AppError(404, "Booking not found")
    expect(toAppError(notFound)).toBe(notFound)
    expect(notFound).toMatchObject({ code: "NOT_FOUND", retriable: false })
    expect(new ValidationError([{ field: "body.x", message: "bad" }])).toMatchObject({ status: 400, code: "VALIDATION", retriable: false })

    const cause = postgresError("57P01")
    const mapped = toAppError(cause)
    expect(mapped).toMatchObject({ status: 503, message: UNAVAILABLE_DETAIL, code: "POSTGRES_UNAVAILABLE", retriable: true })
    expect(mapped?.cause).toBe(cause)

    expect(toAppError(postgresError("22003"))).toBeUndefined()
    expect(toAppError(new Error("boom"))).toBeUndefined()
  })

  test("unavailableError names the dependency when its cause shows it, and is retriable either way", () => {
    expect(unavailableError("Booking service temporarily unavailable, please retry", postgresError("08006"))).toMatchObject({
      status: 503,
      code: "POSTGRES_UNAVAILABLE",
      retriable: true,
    })
    expect(unavailableError("x", new Error("boom"))).toMatchObject({ status: 503, code: "UNAVAILABLE", retriable: true })
  })
})
