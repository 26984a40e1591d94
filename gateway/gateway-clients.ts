import type { Config } from "../shared/config.ts"
import { createRedis, createSql } from "../shared/clients.ts"

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
