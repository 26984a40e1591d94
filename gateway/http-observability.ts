import { Elysia, StatusMap, type AnyElysia } from "elysia"
import type { Logger } from "../shared/log.ts"
import { LATENCY_BUCKETS, type Metrics } from "../shared/metrics.ts"
import type { Tracing } from "../shared/tracing.ts"

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])

// Status codes as label strings, made once: a request's metrics then allocate nothing.
const STATUS_LABELS = Array.from({ length: 600 }, (_, code) => String(code))

const statusOf = (set: { status?: number | string }, response: unknown): number => {
  if (response instanceof Response) return response.status
  const status = set.status ?? 200
  return typeof status === "number" ? status : (StatusMap[status as keyof typeof StatusMap] ?? 200)
}

type Timed = { startedAt?: number }

/** The gauge of server-sent-event streams open in this process: inc() when a stream opens, dec() when it closes. */
export const sseStreamsOpen = (metrics: Metrics) => metrics.gauge("sse_streams_open", "Server-sent-event streams open in this process.")

/**
 * Request metrics per route pattern (never the raw URL, which would make a series per
 * booking id): a count by method, route and status, and a latency histogram. With
 * LOG_LEVEL=debug, one log line per request; nothing per request at info.
 */
export function httpMetrics(metrics: Metrics, log: Logger) {
  const requests = metrics.counter("http_requests_total", "HTTP requests answered, by method, route pattern and status.", ["method", "route", "status"])
  const seconds = metrics.histogram("http_request_duration_seconds", "HTTP request latency from arrival to answer, by method and route pattern.", LATENCY_BUCKETS, ["method", "route"])
  sseStreamsOpen(metrics)
  return new Elysia({ name: "http-metrics" })
    .onRequest((ctx) => {
      ;(ctx as Timed).startedAt = performance.now()
    })
    .onAfterResponse({ as: "global" }, (ctx) => {
      const elapsed = (performance.now() - ((ctx as Timed).startedAt ?? performance.now())) / 1000
      const method = METHODS.has(ctx.request.method) ? ctx.request.method : "OTHER"
      const route = ctx.route || "unmatched"
      const status = statusOf(ctx.set, (ctx as { responseValue?: unknown }).responseValue)
      requests.labels(method, route, STATUS_LABELS[status] ?? String(status)).inc()
      seconds.labels(method, route).observe(elapsed)
      if (log.isDebug) log.debug("request", { method, route, path: ctx.path, status, ms: Math.round(elapsed * 1e6) / 1e3 })
    })
}

/** Whether a request gets an HTTP span: not scrapes, health checks or SSE streams. */
export function isTraced(url: string): boolean {
  const path = url.slice(url.indexOf("/", 8)).split("?", 1)[0]!
  return path !== "/metrics" && path !== "/health" && !path.endsWith("/sse")
}

/**
 * The `@elysiajs/opentelemetry` plugin over this process's registered tracer provider:
 * one SERVER span per request, named by method and route pattern, continuing the caller's
 * trace. Loaded only when tracing is on; scrapes, health checks and SSE streams are not
 * traced (a stream's span would stay open, with its attributes in memory, as long as the
 * client listens; the memory it costs is in BENCHMARK.md).
 */
export async function createHttpTracing(tracing: Tracing): Promise<AnyElysia> {
  const { opentelemetry } = await import("@elysiajs/opentelemetry")
  return opentelemetry({
    serviceName: tracing.serviceName,
    checkIfShouldTrace: (request) => isTraced(request.url),
  })
}
