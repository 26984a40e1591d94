import type { Config } from "../shared/config.ts"
import { createRedis, createSql, withTimeout } from "../shared/clients.ts"
import { AppError, UNAVAILABLE_DETAIL } from "../shared/errors.ts"

/** Longest wait on one Redis command before the request it serves is answered 503. */
export const REDIS_COMMAND_TIMEOUT_MS = 2_000

/** Longest wait for a PostgreSQL connection attempt that the server accepted but does not answer. */
export const PG_CONNECT_TIMEOUT_SECONDS = 3

/**
 * The gateway's Redis client: every command is answered or fails within REDIS_COMMAND_TIMEOUT_MS, so a
 * request never waits on a Redis that stopped answering (one timer per command; see createRedis).
 */
export const createGatewayRedis = (url: string) => createRedis(url, { commandTimeoutMs: REDIS_COMMAND_TIMEOUT_MS })

/** The gateway's PostgreSQL pool, whose connection attempts give up within PG_CONNECT_TIMEOUT_SECONDS. */
export const createGatewaySql = (config: Config) => createSql(config, config.dbPoolMax, PG_CONNECT_TIMEOUT_SECONDS)

/** Longest a read route waits on its stores before answering 503 (a PostgreSQL query has no timeout of its own). */
export const READ_DEADLINE_MS = 3_000

/** `promise`, or a retriable 503 once `ms` have passed without it settling. */
export const withDeadline = <T>(promise: Promise<T>, ms: number): Promise<T> =>
  withTimeout(promise, ms, () => new AppError(503, UNAVAILABLE_DETAIL, { code: "UNAVAILABLE", retriable: true }))
