import type { Server } from "bun"
import { METRICS_CONTENT_TYPE, type Metrics } from "../shared/metrics.ts"
import type { ReserverHealth } from "./consumer-watchdog.ts"
import { jsonResponse as json } from "../shared/json-response.ts"

/**
 * The reserver's only HTTP surface: GET /metrics (Prometheus text) and GET /health
 * (200 while the consumer runs and decides, 503 with the reason otherwise), on its own port.
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
        const { healthy, reason, partitions } = options.health()
        return json(healthy ? 200 : 503, healthy ? { status: "healthy", partitions } : { status: "unhealthy", reason, partitions })
      }
      return json(404, { detail: "Not Found" })
    },
  })
}
