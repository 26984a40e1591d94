import type { Admin } from "kafkajs"
import type Redis from "ioredis"
import type { Sql } from "postgres"
import { withTimeout } from "../shared/clients.ts"
import type { Metrics } from "../shared/metrics.ts"

export type Readiness = { postgres: boolean; redis: boolean; kafka: boolean }

/**
 * Probes each dependency with a short timeout; results are cached briefly so a busy prober costs
 * little. With `metrics`, each probe also sets `dependency_up{dependency}` (1 or 0), the series the
 * "dependency unreachable" alert reads.
 */
export function createHealthCheck(deps: { sql: Sql; redis: Redis; admin: Admin; metrics?: Metrics }, cacheMs = 500) {
  let cached: { at: number; value: Promise<Readiness> } | undefined
  const up = deps.metrics?.gauge("dependency_up", "1 when the gateway's last readiness probe of the dependency answered within 1.5 s, else 0.", ["dependency"])
  const gauges = up && { postgres: up.labels("postgres"), redis: up.labels("redis"), kafka: up.labels("kafka") }
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
    if (gauges) {
      gauges.postgres.set(postgres ? 1 : 0)
      gauges.redis.set(redis ? 1 : 0)
      gauges.kafka.set(kafka ? 1 : 0)
    }
    return { postgres, redis, kafka }
  }
  return (): Promise<Readiness> => {
    const now = Date.now()
    if (!cached || now - cached.at > cacheMs) cached = { at: now, value: check() }
    return cached.value
  }
}
