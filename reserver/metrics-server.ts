import type { Server } from "bun"
import { METRICS_CONTENT_TYPE, type Metrics } from "../shared/metrics.ts"

/** What the reserver's /health reports. */
export type ReserverHealth = { running: boolean; partitions: readonly number[] }

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } })

/**
 * The reserver's only HTTP surface: GET /metrics (Prometheus text) and GET /health
 * (200 while the consumer runs, 503 otherwise), on its own port.
 */
export function serveMetrics(options: { host: string; port: number; metrics: Metrics; health: () => ReserverHealth }): Server<undefined> {
  return Bun.serve({
    hostname: options.host,
    port: options.port,
    fetch(request) {
      const { pathname } = new URL(request.url)
      if (request.method !== "GET") return json(405, { detail: "Method Not Allowed" })
      if (pathname === "/metrics") return new Response(options.metrics.text(), { headers: { "content-type": METRICS_CONTENT_TYPE } })
      if (pathname === "/health") {
        const health = options.health()
        return json(health.running ? 200 : 503, { status: health.running ? "healthy" : "unhealthy", partitions: health.partitions })
      }
      return json(404, { detail: "Not Found" })
    },
  })
}
