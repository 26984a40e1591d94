import type { Admin } from "kafkajs"
import type Redis from "ioredis"
import type { Sql } from "postgres"
import { withTimeout } from "../shared/clients.ts"

export type Readiness = { postgres: boolean; redis: boolean; kafka: boolean }

/** Probes each dependency with a short timeout; results are cached briefly so a busy prober costs little. */
export function createHealthCheck(deps: { sql: Sql; redis: Redis; admin: Admin }, cacheMs = 500) {
  let cached: { at: number; value: Promise<Readiness> } | undefined
  const probe = (p: Promise<unknown>, what: string) =>
    withTimeout(p, 1500, what).then(
      () => true,
      () => false,
    )
  const check = async (): Promise<Readiness> => {
    const [postgres, redis, kafka] = await Promise.all([
      probe(deps.sql`SELECT 1`, "postgres"),
      probe(deps.redis.ping(), "redis"),
      probe(deps.admin.describeCluster(), "kafka"),
    ])
    return { postgres, redis, kafka }
  }
  return (): Promise<Readiness> => {
    const now = Date.now()
    if (!cached || now - cached.at > cacheMs) cached = { at: now, value: check() }
    return cached.value
  }
}
