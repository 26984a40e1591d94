import Redis from "ioredis"
import postgres from "postgres"
import type { Config } from "./config.ts"

/** The PostgreSQL pool both processes use; prepared statements on, notices off. */
export const createSql = (config: Config, max = config.dbPoolMax) =>
  postgres(config.databaseUrl, { max, prepare: true, onnotice: () => {}, idle_timeout: 60, connect_timeout: 10 })

/** A Redis client that fails commands fast while disconnected instead of queueing them forever. */
export const createRedis = (url: string) =>
  new Redis(url, {
    lazyConnect: false,
    maxRetriesPerRequest: 2,
    enableAutoPipelining: true,
    retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
  })

/** Resolves the promise or rejects after `ms`, so a dead dependency cannot hang a caller. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: Timer
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms}ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
