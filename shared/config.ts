import { dirname, resolve } from "node:path"
import { fileURLToPath } from "node:url"

/** Everything either process reads from its environment, validated and frozen. */
export type Config = Readonly<{
  env: "development" | "test" | "production"
  host: string
  port: number
  databaseUrl: string
  dbPoolMax: number
  redisUrl: string
  redisPrefix: string
  kafkaBrokers: readonly string[]
  kafkaClientId: string
  kafkaReplicationFactor: number
  commandTopic: string
  commandPartitions: number
  produceLingerMs: number
  deadLetterTopic: string
  reserverGroupId: string
  reserverConcurrency: number
  /** RESERVER_MERGE_LIMIT: partition batches that arrive together are merged into one step up to this many commands. */
  reserverMergeLimit: number
  /** RESERVER_STALL_SECONDS: commands waiting this long with no decision and no batch in flight make the reserver recreate its Kafka consumer. */
  reserverStallSeconds: number
  /** RESERVER_SESSION_TIMEOUT_MS: a reserver that died without leaving the group holds its partitions this long. */
  reserverSessionTimeoutMs: number
  /** SEAT_FINDER: the reserver's best-available seat finder; `native` falls back to `ts` when the addon is not built. */
  seatFinder: "native" | "ts"
  /** HOLD_SECONDS: how long a pending_payment booking holds its seats, for events created without `hold_seconds`. */
  holdSeconds: number
  jwtSecret: string | undefined
  cookieSecure: boolean
  logLevel: LogLevel
  dataDir: string
  seats: string
  metricsPort: number
  tracing: TracingConfig
}>

export type LogLevel = "debug" | "info" | "warn" | "error"

/** A sampler named by OTEL_TRACES_SAMPLER. */
export type SamplerName = (typeof SAMPLERS)[number]

/** Trace export settings, from the standard OTEL_* variables; `tracesUrl` undefined means tracing is off. */
export type TracingConfig = Readonly<{
  tracesUrl: string | undefined
  protocol: "http/protobuf" | "http/json"
  headers: Readonly<Record<string, string>>
  /** OTEL_SERVICE_NAME; each process falls back to its own name. */
  serviceName: string | undefined
  resourceAttributes: Readonly<Record<string, string>>
  sampler: SamplerName
  samplerRatio: number
  propagators: readonly ("tracecontext" | "baggage" | "xray")[]
  /** `xray`: trace ids that start with the epoch second, as AWS X-Ray requires. */
  idFormat: "w3c" | "xray"
  /** Batch span processor: delay between exports, and spans buffered before new ones are dropped. */
  scheduleDelayMs: number
  maxQueueSize: number
}>

const SAMPLERS = [
  "parentbased_always_on",
  "parentbased_always_off",
  "parentbased_traceidratio",
  "always_on",
  "always_off",
  "traceidratio",
] as const

/** A configuration value that cannot be used; the message names the variable. */
export class ConfigError extends Error {
  constructor(readonly variable: string, message: string) {
    super(`Invalid configuration ${variable}: ${message}`)
    this.name = "ConfigError"
  }
}

type Env = Record<string, string | undefined>

const text = (env: Env, name: string, fallback: string): string => {
  const value = env[name]?.trim()
  if (value === undefined || value === "") return fallback
  return value
}

const integer = (env: Env, name: string, fallback: number, min: number, max: number): number => {
  const raw = env[name]?.trim()
  if (raw === undefined || raw === "") return fallback
  if (!/^-?\d+$/.test(raw)) throw new ConfigError(name, `expected an integer, got "${raw}"`)
  const value = Number(raw)
  if (value < min || value > max) throw new ConfigError(name, `expected ${min}..${max}, got ${value}`)
  return value
}

const oneOf = <T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[]): T => {
  const raw = text(env, name, fallback)
  if (!allowed.includes(raw as T)) {
    throw new ConfigError(name, `expected one of ${allowed.join(", ")}, got "${raw}"`)
  }
  return raw as T
}

const bool = (env: Env, name: string, fallback: boolean): boolean => {
  const raw = text(env, name, String(fallback)).toLowerCase()
  if (["1", "true", "yes", "on"].includes(raw)) return true
  if (["0", "false", "no", "off"].includes(raw)) return false
  throw new ConfigError(name, `expected true or false, got "${raw}"`)
}

const url = (env: Env, name: string, fallback: string, protocols: readonly string[]): string => {
  const raw = text(env, name, fallback)
  let parsed: URL
  try {
    parsed = new URL(raw)
  } catch {
    throw new ConfigError(name, `expected a URL, got "${raw}"`)
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `expected a ${protocols.join(" or ")} URL, got "${raw}"`)
  }
  return raw
}

const brokers = (env: Env, name: string, fallback: string): string[] => {
  const list = text(env, name, fallback).split(",").map((b) => b.trim()).filter(Boolean)
  for (const broker of list) {
    if (!/^[^\s:]+:\d{1,5}$/.test(broker)) {
      throw new ConfigError(name, `expected host:port[,host:port...], got "${broker}"`)
    }
  }
  if (list.length === 0) throw new ConfigError(name, "expected at least one broker")
  return list
}

const topicName = (env: Env, name: string, fallback: string): string => {
  const raw = text(env, name, fallback)
  if (!/^[a-zA-Z0-9._-]{1,249}$/.test(raw)) throw new ConfigError(name, `not a valid Kafka topic name: "${raw}"`)
  return raw
}

const redisPrefix = (env: Env): string => {
  const raw = text(env, "REDIS_PREFIX", "tk")
  if (!/^[a-zA-Z0-9_-]{1,32}$/.test(raw)) throw new ConfigError("REDIS_PREFIX", `expected 1-32 letters, digits, _ or -, got "${raw}"`)
  return raw
}

const fraction = (env: Env, name: string, fallback: number): number => {
  const raw = env[name]?.trim()
  if (raw === undefined || raw === "") return fallback
  const value = Number(raw)
  if (!/^\d*\.?\d+$/.test(raw) || value > 1) throw new ConfigError(name, `expected a number from 0 to 1, got "${raw}"`)
  return value
}

// "k1=v1,k2=v2" with percent-encoded values, as OTEL_EXPORTER_OTLP_HEADERS and OTEL_RESOURCE_ATTRIBUTES are written.
const keyValues = (env: Env, name: string): Record<string, string> => {
  const pairs: Record<string, string> = {}
  for (const item of text(env, name, "").split(",")) {
    if (item.trim() === "") continue
    const eq = item.indexOf("=")
    if (eq <= 0) throw new ConfigError(name, `expected key=value[,key=value...], got "${item.trim()}"`)
    try {
      pairs[item.slice(0, eq).trim()] = decodeURIComponent(item.slice(eq + 1).trim())
    } catch {
      throw new ConfigError(name, `value of "${item.slice(0, eq).trim()}" is not valid percent-encoding`)
    }
  }
  return pairs
}

// The OTLP/HTTP traces URL: the signal-specific variable as given, or the base endpoint plus v1/traces.
const tracesUrl = (env: Env): string | undefined => {
  if (bool(env, "OTEL_SDK_DISABLED", false)) return undefined
  const exporter = text(env, "OTEL_TRACES_EXPORTER", "otlp")
  if (exporter === "none") return undefined
  if (exporter !== "otlp") throw new ConfigError("OTEL_TRACES_EXPORTER", `expected otlp or none, got "${exporter}"`)
  if (text(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "") !== "") {
    return url(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "", ["http:", "https:"])
  }
  if (text(env, "OTEL_EXPORTER_OTLP_ENDPOINT", "") === "") return undefined
  const base = url(env, "OTEL_EXPORTER_OTLP_ENDPOINT", "", ["http:", "https:"])
  return `${base.replace(/\/+$/, "")}/v1/traces`
}

const tracingConfig = (env: Env): TracingConfig => {
  const protocol = text(env, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", text(env, "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"))
  if (protocol !== "http/protobuf" && protocol !== "http/json") {
    const variable = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL?.trim() ? "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL" : "OTEL_EXPORTER_OTLP_PROTOCOL"
    throw new ConfigError(variable, `expected http/protobuf or http/json (gRPC is not bundled), got "${protocol}"`)
  }
  const propagators = text(env, "OTEL_PROPAGATORS", "tracecontext,baggage").split(",").map((p) => p.trim()).filter(Boolean)
  for (const p of propagators) {
    if (!["tracecontext", "baggage", "xray", "none"].includes(p)) {
      throw new ConfigError("OTEL_PROPAGATORS", `expected a list of tracecontext, baggage, xray or none, got "${p}"`)
    }
  }
  const chosen = propagators.filter((p) => p !== "none") as ("tracecontext" | "baggage" | "xray")[]
  const headers = { ...keyValues(env, "OTEL_EXPORTER_OTLP_HEADERS"), ...keyValues(env, "OTEL_EXPORTER_OTLP_TRACES_HEADERS") }
  return Object.freeze({
    tracesUrl: tracesUrl(env),
    protocol,
    headers: Object.freeze(headers),
    serviceName: text(env, "OTEL_SERVICE_NAME", "") || undefined,
    resourceAttributes: Object.freeze(keyValues(env, "OTEL_RESOURCE_ATTRIBUTES")),
    sampler: oneOf(env, "OTEL_TRACES_SAMPLER", "parentbased_always_on", SAMPLERS),
    samplerRatio: fraction(env, "OTEL_TRACES_SAMPLER_ARG", 1),
    propagators: Object.freeze(chosen),
    idFormat: oneOf(env, "TRACE_ID_FORMAT", chosen.includes("xray") ? "xray" : "w3c", ["w3c", "xray"] as const),
    scheduleDelayMs: integer(env, "OTEL_BSP_SCHEDULE_DELAY", 5_000, 1, 600_000),
    maxQueueSize: integer(env, "OTEL_BSP_MAX_QUEUE_SIZE", 2_048, 1, 1_000_000),
  })
}

/** Project root (one level above shared/), used for default data paths. */
// import.meta.url, not Bun's import.meta.dir, so that the gateway also loads under Node (profiles/node/).
export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..")

/** Reads and validates the environment once; throws ConfigError naming the bad variable. */
export function loadConfig(env: Env): Config {
  const nodeEnv = oneOf(env, "NODE_ENV", "development", ["development", "test", "production"] as const)
  const jwtSecret = env.JWT_SECRET?.trim() || undefined
  if (jwtSecret !== undefined && jwtSecret.length < 32) {
    throw new ConfigError("JWT_SECRET", "must be at least 32 characters")
  }
  if (nodeEnv === "production" && jwtSecret === undefined) {
    throw new ConfigError("JWT_SECRET", "is required when NODE_ENV=production")
  }
  const commandTopic = topicName(env, "COMMAND_TOPIC", "ticketing.booking-commands")
  return Object.freeze({
    env: nodeEnv,
    host: text(env, "HOST", "127.0.0.1"),
    port: integer(env, "PORT", 8200, 0, 65535),
    databaseUrl: url(env, "DATABASE_URL", "postgres://postgres@127.0.0.1:25432/ticketing", ["postgres:", "postgresql:"]),
    dbPoolMax: integer(env, "DB_POOL_MAX", 20, 1, 500),
    redisUrl: url(env, "REDIS_URL", "redis://127.0.0.1:26379", ["redis:", "rediss:"]),
    redisPrefix: redisPrefix(env),
    kafkaBrokers: Object.freeze(brokers(env, "KAFKA_BROKERS", "127.0.0.1:29092")),
    kafkaClientId: text(env, "KAFKA_CLIENT_ID", "ticketing"),
    kafkaReplicationFactor: integer(env, "KAFKA_REPLICATION_FACTOR", 1, 1, 16),
    commandTopic,
    commandPartitions: integer(env, "COMMAND_PARTITIONS", 12, 1, 10_000),
    produceLingerMs: integer(env, "PRODUCE_LINGER_MS", 2, 0, 1_000),
    deadLetterTopic: topicName(env, "DEAD_LETTER_TOPIC", `${commandTopic}.dlq`),
    reserverGroupId: text(env, "RESERVER_GROUP_ID", "ticketing-reserver"),
    reserverConcurrency: integer(env, "RESERVER_CONCURRENCY", 4, 1, 64),
    reserverMergeLimit: integer(env, "RESERVER_MERGE_LIMIT", 2_000, 1, 1_000_000),
    reserverStallSeconds: integer(env, "RESERVER_STALL_SECONDS", 15, 2, 3600),
    reserverSessionTimeoutMs: integer(env, "RESERVER_SESSION_TIMEOUT_MS", 6_000, 1_000, 300_000),
    seatFinder: oneOf(env, "SEAT_FINDER", "native", ["native", "ts"] as const),
    holdSeconds: integer(env, "HOLD_SECONDS", 900, 1, 86_400),
    jwtSecret,
    cookieSecure: bool(env, "COOKIE_SECURE", false),
    logLevel: oneOf(env, "LOG_LEVEL", "info", ["debug", "info", "warn", "error"] as const),
    dataDir: resolve(text(env, "DATA_DIR", resolve(projectRoot, ".data"))),
    seats: text(env, "SEATS", "500"),
    metricsPort: integer(env, "METRICS_PORT", 8201, 0, 65535),
    tracing: tracingConfig(env),
  })
}
