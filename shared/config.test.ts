import { describe, expect, test } from "bun:test"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { ConfigError, loadConfig, projectRoot } from "./config.ts"

describe("loadConfig", () => {
  test("defaults describe the local stack", () => {
    const config = loadConfig({})
    expect(config.port).toBe(8200)
    expect(config.databaseUrl).toBe("postgres://postgres@127.0.0.1:25432/ticketing")
    expect(config.redisUrl).toBe("redis://127.0.0.1:26379")
    expect(config.kafkaBrokers).toEqual(["127.0.0.1:29092"])
    expect(config.deadLetterTopic).toBe("ticketing.booking-commands.dlq")
    expect(Object.isFrozen(config)).toBe(true)
  })

  test("the service scripts' default ports (infra/env.sh) are the processes' defaults, outside Linux's ephemeral range", () => {
    const script = readFileSync(join(projectRoot, "infra/env.sh"), "utf8")
    const port = (name: string) => Number(new RegExp(`\\$\\{${name}:=(\\d+)\\}`).exec(script)?.[1])
    const config = loadConfig({})
    expect(new URL(config.databaseUrl).port).toBe(String(port("PG_PORT")))
    expect(new URL(config.redisUrl).port).toBe(String(port("REDIS_PORT")))
    expect(config.kafkaBrokers).toEqual([`127.0.0.1:${port("KAFKA_PORT")}`])
    // A listener cannot bind a port an outgoing connection happens to hold (32768-60999 by default).
    for (const name of ["PG_PORT", "REDIS_PORT", "KAFKA_PORT", "KAFKA_CONTROLLER_PORT", "OTLP_GRPC_PORT", "OTLP_HTTP_PORT", "JAEGER_QUERY_PORT", "JAEGER_QUERY_GRPC_PORT"]) {
      const value = port(name)
      expect({ name, inRange: value >= 1024 && value < 32768 }).toEqual({ name, inRange: true })
    }
    expect(config.port).toBeLessThan(32768)
    expect(config.metricsPort).toBeLessThan(32768)
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
    ["SEAT_FINDER", "c", /SEAT_FINDER: expected one of native, ts/],
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

describe("loadConfig: tracing and metrics", () => {
  test("tracing is off without an OTLP endpoint; the reserver's metrics port defaults to 8201", () => {
    const config = loadConfig({})
    expect(config.tracing.tracesUrl).toBeUndefined()
    expect(config.metricsPort).toBe(8201)
    expect(config.tracing.propagators).toEqual(["tracecontext", "baggage"])
    expect(config.tracing.idFormat).toBe("w3c")
  })

  test("the standard OTEL_* variables", () => {
    const config = loadConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318/",
      OTEL_SERVICE_NAME: "gw-1",
      OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
      OTEL_TRACES_SAMPLER_ARG: "0.25",
      OTEL_EXPORTER_OTLP_HEADERS: "authorization=Bearer%20abc,x-team=t",
      OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=staging",
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    }).tracing
    expect(config.tracesUrl).toBe("http://127.0.0.1:4318/v1/traces")
    expect(config.serviceName).toBe("gw-1")
    expect(config.sampler).toBe("parentbased_traceidratio")
    expect(config.samplerRatio).toBe(0.25)
    expect(config.headers).toEqual({ authorization: "Bearer abc", "x-team": "t" })
    expect(config.resourceAttributes).toEqual({ "deployment.environment": "staging" })
    expect(config.protocol).toBe("http/json")
  })

  test("a traces endpoint is used as given; OTEL_SDK_DISABLED and OTEL_TRACES_EXPORTER=none turn tracing off", () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://a:4318", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://b:4318/custom" }
    expect(loadConfig(endpoint).tracing.tracesUrl).toBe("http://b:4318/custom")
    expect(loadConfig({ ...endpoint, OTEL_SDK_DISABLED: "true" }).tracing.tracesUrl).toBeUndefined()
    expect(loadConfig({ ...endpoint, OTEL_TRACES_EXPORTER: "none" }).tracing.tracesUrl).toBeUndefined()
  })

  test("OTEL_PROPAGATORS=xray selects X-Ray trace ids unless TRACE_ID_FORMAT says otherwise", () => {
    expect(loadConfig({ OTEL_PROPAGATORS: "xray" }).tracing.idFormat).toBe("xray")
    expect(loadConfig({ OTEL_PROPAGATORS: "tracecontext,xray", TRACE_ID_FORMAT: "w3c" }).tracing.idFormat).toBe("w3c")
    expect(loadConfig({ TRACE_ID_FORMAT: "xray" }).tracing).toMatchObject({ idFormat: "xray", propagators: ["tracecontext", "baggage"] })
  })

  test.each([
    ["OTEL_EXPORTER_OTLP_ENDPOINT", "127.0.0.1:4318", /expected a URL/],
    ["OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", /expected http\/protobuf or http\/json/],
    ["OTEL_TRACES_SAMPLER", "sometimes", /expected one of parentbased_always_on/],
    ["OTEL_TRACES_SAMPLER_ARG", "1.5", /expected a number from 0 to 1/],
    ["OTEL_PROPAGATORS", "b3", /expected a list of tracecontext, baggage, xray or none/],
    ["OTEL_TRACES_EXPORTER", "zipkin", /expected otlp or none/],
    ["OTEL_EXPORTER_OTLP_HEADERS", "novalue", /expected key=value/],
    ["TRACE_ID_FORMAT", "uuid", /expected one of w3c, xray/],
    ["METRICS_PORT", "-1", /expected 0..65535/],
  ])("rejects %s=%s with a message naming it", (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`${name}: ${message.source}`))
  })
})
