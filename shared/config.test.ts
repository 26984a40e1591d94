import { describe, expect, test } from "bun:test"
import { ConfigError, loadConfig } from "./config.ts"

describe("loadConfig", () => {
  test("defaults describe the local stack", () => {
    const config = loadConfig({})
    expect(config.port).toBe(8200)
    expect(config.databaseUrl).toBe("postgres://postgres@127.0.0.1:55432/ticketing")
    expect(config.redisUrl).toBe("redis://127.0.0.1:56379")
    expect(config.kafkaBrokers).toEqual(["127.0.0.1:59092"])
    expect(config.deadLetterTopic).toBe("ticketing.booking-commands.dlq")
    expect(Object.isFrozen(config)).toBe(true)
  })

  test.each([
    ["PORT", "eighty", /PORT: expected an integer/],
    ["PORT", "70000", /PORT: expected 0..65535/],
    ["DATABASE_URL", "mysql://x", /DATABASE_URL: expected a postgres: or postgresql: URL/],
    ["REDIS_URL", "not a url", /REDIS_URL: expected a URL/],
    ["KAFKA_BROKERS", "localhost", /KAFKA_BROKERS: expected host:port/],
    ["COMMAND_PARTITIONS", "0", /COMMAND_PARTITIONS: expected 1..10000/],
    ["COOKIE_SECURE", "maybe", /COOKIE_SECURE: expected true or false/],
    ["LOG_LEVEL", "loud", /LOG_LEVEL: expected one of debug, info, warn, error/],
    ["COMMAND_TOPIC", "bad topic!", /COMMAND_TOPIC: not a valid Kafka topic name/],
    ["JWT_SECRET", "short", /JWT_SECRET: must be at least 32 characters/],
  ])("rejects %s=%s with a message naming it", (name, value, message) => {
    let caught: unknown
    try {
      loadConfig({ [name]: value })
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(ConfigError)
    expect((caught as ConfigError).variable).toBe(name)
    expect((caught as Error).message).toMatch(message)
  })

  test("production requires a JWT secret", () => {
    expect(() => loadConfig({ NODE_ENV: "production" })).toThrow(/JWT_SECRET: is required/)
  })
})
