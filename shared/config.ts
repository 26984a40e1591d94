import { resolve } from "node:path"

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
  deadLetterTopic: string
  reserverGroupId: string
  reserverConcurrency: number
  jwtSecret: string | undefined
  cookieSecure: boolean
  logLevel: LogLevel
  dataDir: string
  seats: string
}>

export type LogLevel = "debug" | "info" | "warn" | "error"

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

/** Project root (one level above shared/), used for default data paths. */
export const projectRoot = resolve(import.meta.dir, "..")

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
    databaseUrl: url(env, "DATABASE_URL", "postgres://postgres@127.0.0.1:55432/ticketing", ["postgres:", "postgresql:"]),
    dbPoolMax: integer(env, "DB_POOL_MAX", 20, 1, 500),
    redisUrl: url(env, "REDIS_URL", "redis://127.0.0.1:56379", ["redis:", "rediss:"]),
    redisPrefix: redisPrefix(env),
    kafkaBrokers: Object.freeze(brokers(env, "KAFKA_BROKERS", "127.0.0.1:59092")),
    kafkaClientId: text(env, "KAFKA_CLIENT_ID", "ticketing"),
    kafkaReplicationFactor: integer(env, "KAFKA_REPLICATION_FACTOR", 1, 1, 16),
    commandTopic,
    commandPartitions: integer(env, "COMMAND_PARTITIONS", 12, 1, 10_000),
    deadLetterTopic: topicName(env, "DEAD_LETTER_TOPIC", `${commandTopic}.dlq`),
    reserverGroupId: text(env, "RESERVER_GROUP_ID", "ticketing-reserver"),
    reserverConcurrency: integer(env, "RESERVER_CONCURRENCY", 4, 1, 64),
    jwtSecret,
    cookieSecure: bool(env, "COOKIE_SECURE", false),
    logLevel: oneOf(env, "LOG_LEVEL", "info", ["debug", "info", "warn", "error"] as const),
    dataDir: resolve(text(env, "DATA_DIR", resolve(projectRoot, ".data"))),
    seats: text(env, "SEATS", "500"),
  })
}
