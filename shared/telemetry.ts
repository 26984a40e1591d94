import { diag, DiagLogLevel } from "@opentelemetry/api"
import type { Config } from "./config.ts"
import { createLogger, type Logger } from "./log.ts"
import { addProcessMetrics, createMetrics, type Metrics } from "./metrics.ts"
import { createTracing, type Tracing } from "./tracing.ts"

/**
 * A process's observability, built first in its main.ts: tracing registered as the process's
 * global when an OTLP endpoint is configured, a logger that adds the active span's ids to its
 * lines, and a metrics registry that already has the process metrics.
 */
export async function createTelemetry(config: Config, service: string): Promise<{ tracing: Tracing | undefined; log: Logger; metrics: Metrics }> {
  const tracing = await createTracing(config.tracing, service)
  tracing?.register()
  const log = createLogger(service, config.logLevel, {}, undefined, tracing?.activeIds)
  if (tracing) {
    log.info("tracing on", { endpoint: config.tracing.tracesUrl, service: tracing.serviceName, idFormat: tracing.idFormat })
    // The SDK reports a failed export (collector down, say) only through its diagnostic logger.
    const otel = log.child({ component: "opentelemetry" })
    // Its errors arrive as JSON text of the error object; the message is what a reader needs.
    const readable = (message: string): string => {
      try {
        return (JSON.parse(message) as { message?: string }).message ?? message
      } catch {
        return message
      }
    }
    const line = (level: "warn" | "error") => (message: string, ...args: unknown[]) =>
      otel[level](readable(message), args.length ? { details: args.map(String) } : undefined)
    diag.setLogger({ error: line("error"), warn: line("warn"), info: () => {}, debug: () => {}, verbose: () => {} }, DiagLogLevel.WARN)
  }
  const metrics = createMetrics()
  addProcessMetrics(metrics)
  return { tracing, log, metrics }
}
