import Redis from "ioredis"
import postgres from "postgres"
import type { Config } from "./config.ts"

/**
 * The PostgreSQL pool both processes use; prepared statements on, notices off. `connectTimeoutSeconds`
 * bounds a connection attempt to a server that accepts it and then does not answer (one that refuses it
 * fails at once); postgres.js has no bound on a query sent to a server that stopped answering.
 */
export const createSql = (config: Config, max = config.dbPoolMax, connectTimeoutSeconds = 10) =>
  postgres(config.databaseUrl, { max, prepare: true, onnotice: () => {}, idle_timeout: 60, connect_timeout: connectTimeoutSeconds })

/**
 * A Redis client that fails commands fast while disconnected instead of queueing them forever: the
 * commands queued meanwhile fail at every third failed reconnect (maxRetriesPerRequest 2), up to about
 * 6 s once the reconnect delay reaches 2 s. `commandTimeoutMs` bounds every command by itself, which
 * nothing else does for a Redis that accepts connections but does not answer (a stopped process), nor
 * for the commands in flight when a connection drops and the next one connects but never becomes
 * ready: ioredis keeps those for that connection (redis/ioredis#2197).
 */
export const createRedis = (url: string, { commandTimeoutMs }: { commandTimeoutMs?: number } = {}) =>
  new Redis(url, {
    lazyConnect: false,
    maxRetriesPerRequest: 2,
    enableAutoPipelining: true,
    retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
    commandTimeout: commandTimeoutMs,
  })

/**
 * Resolves the promise or rejects after `ms`, so a dead dependency cannot hang a caller: with
 * "<what> timed out after <ms>ms", or with the error `what` builds.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string | (() => Error)): Promise<T> {
  let timer: Timer
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(typeof what === "string" ? new Error(`${what} timed out after ${ms}ms`) : what()), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
