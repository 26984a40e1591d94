// OpenTelemetry for both processes: one tracer provider exporting OTLP over HTTP, set up
// only when an endpoint is configured. With tracing off, createTracing returns undefined
// and no SDK module is even loaded, so callers pay one `if (tracing)` per use.
import { context, propagation, ROOT_CONTEXT, SpanStatusCode, trace, type Attributes, type Context, type Span, type SpanOptions, type Tracer } from "@opentelemetry/api"
import type { ReadableSpan, SpanExporter, SpanProcessor } from "@opentelemetry/sdk-trace-base"
import type { SamplerName, TracingConfig } from "./config.ts"

/** A process's tracing: its tracer, the Kafka header codec and log correlation. */
export type Tracing = {
  tracer: Tracer
  serviceName: string
  idFormat: TracingConfig["idFormat"]
  /** Makes this provider, an AsyncLocalStorage context manager and the configured propagators the process's globals. */
  register(): void
  /** The W3C `traceparent` of a span, the Kafka header that carries a booking's trace. */
  traceparent(span: Span): string
  /** The remote parent a `traceparent` header names, or undefined when it is absent or malformed. */
  parentFrom(traceparent: string | undefined): Context | undefined
  /** Runs `fn` in a new active span that ends when it settles, recording a thrown error. */
  inSpan<T>(name: string, options: SpanOptions, fn: (span: Span) => Promise<T>): Promise<T>
  /** The active span's ids as log fields, or undefined outside any span. */
  activeIds(): Record<string, string> | undefined
  /** Exports what is buffered and stops. */
  shutdown(): Promise<void>
}

// Trace attributes leave the process, so what would leak a session or a password is dropped:
// the Elysia plugin records every request header, the cookies and the request/response bodies.
const KEPT_HEADERS = new Set(["content-type", "content-length", "accept", "idempotency-key"])
const isSensitive = (key: string): boolean => {
  if (key === "http.request.body" || key === "http.response.body" || key === "http.request.cookie") return true
  const header = key.startsWith("http.request.header.") ? key.slice(20) : key.startsWith("http.response.header.") ? key.slice(21) : undefined
  return header !== undefined && !KEPT_HEADERS.has(header)
}

/** A span processor that removes sensitive attributes before any exporter sees the span. */
export const redactingProcessor: SpanProcessor = {
  onStart() {},
  onEnd(span: ReadableSpan) {
    const attributes = span.attributes as Record<string, unknown>
    for (const key in attributes) if (isSensitive(key)) delete attributes[key]
  },
  forceFlush: async () => {},
  shutdown: async () => {},
}

/** `1-<8 hex epoch>-<24 hex>`: the form X-Ray (and CloudWatch log correlation) shows a trace id in. */
export const xrayTraceId = (traceId: string): string => `1-${traceId.slice(0, 8)}-${traceId.slice(8)}`

async function createSampler(name: SamplerName, ratio: number) {
  const { AlwaysOffSampler, AlwaysOnSampler, ParentBasedSampler, TraceIdRatioBasedSampler } = await import("@opentelemetry/sdk-trace-base")
  const root = name.endsWith("always_off") ? new AlwaysOffSampler() : name.endsWith("traceidratio") ? new TraceIdRatioBasedSampler(ratio) : new AlwaysOnSampler()
  return name.startsWith("parentbased_") ? new ParentBasedSampler({ root }) : root
}

async function createExporter(config: TracingConfig): Promise<SpanExporter> {
  const options = { url: config.tracesUrl, headers: { ...config.headers }, timeoutMillis: 10_000 }
  if (config.protocol === "http/json") return new (await import("@opentelemetry/exporter-trace-otlp-http")).OTLPTraceExporter(options)
  return new (await import("@opentelemetry/exporter-trace-otlp-proto")).OTLPTraceExporter(options)
}

/**
 * Builds the tracer provider the configuration asks for, or returns undefined when no OTLP
 * endpoint is set. `exporter` replaces the OTLP one (tests); spans then export immediately.
 */
export async function createTracing(config: TracingConfig, defaultServiceName: string, exporter?: SpanExporter): Promise<Tracing | undefined> {
  if (!config.tracesUrl && !exporter) return undefined
  const [sdk, core, resources, asyncHooks, xray] = await Promise.all([
    import("@opentelemetry/sdk-trace-base"),
    import("@opentelemetry/core"),
    import("@opentelemetry/resources"),
    import("@opentelemetry/context-async-hooks"),
    import("@opentelemetry/propagator-aws-xray"),
  ])
  const serviceName = config.serviceName ?? defaultServiceName
  const spanProcessor = exporter
    ? new sdk.SimpleSpanProcessor(exporter)
    : new sdk.BatchSpanProcessor(await createExporter(config), {
        // Passed explicitly so the SDK does not read OTEL_BSP_* from the environment behind loadConfig.
        scheduledDelayMillis: config.scheduleDelayMs,
        maxQueueSize: config.maxQueueSize,
        maxExportBatchSize: Math.min(512, config.maxQueueSize),
        exportTimeoutMillis: 30_000,
      })
  const provider = new sdk.BasicTracerProvider({
    resource: resources.resourceFromAttributes({ ...config.resourceAttributes, "service.name": serviceName }),
    sampler: await createSampler(config.sampler, config.samplerRatio),
    idGenerator: config.idFormat === "xray" ? new (await import("@opentelemetry/id-generator-aws-xray")).AWSXRayIdGenerator() : undefined,
    spanProcessors: [redactingProcessor, spanProcessor],
  })
  const tracer = provider.getTracer("ticketing")
  // The Kafka header is always W3C traceparent, whatever the HTTP propagators: both ends are ours,
  // and an X-Ray trace id is a valid W3C one.
  const w3c = new core.W3CTraceContextPropagator()
  const getter = { get: (carrier: Record<string, string>, key: string) => carrier[key], keys: (carrier: Record<string, string>) => Object.keys(carrier) }
  let registered = false

  return {
    tracer,
    serviceName,
    idFormat: config.idFormat,
    register() {
      if (registered) return
      context.setGlobalContextManager(new asyncHooks.AsyncLocalStorageContextManager().enable())
      trace.setGlobalTracerProvider(provider)
      const propagators = config.propagators.map((name) =>
        name === "xray" ? new xray.AWSXRayPropagator() : name === "baggage" ? new core.W3CBaggagePropagator() : new core.W3CTraceContextPropagator(),
      )
      propagation.setGlobalPropagator(new core.CompositePropagator({ propagators }))
      registered = true
    },
    traceparent(span) {
      const { traceId, spanId, traceFlags } = span.spanContext()
      return `00-${traceId}-${spanId}-${traceFlags & 1 ? "01" : "00"}`
    },
    parentFrom(traceparent) {
      if (!traceparent) return undefined
      const extracted = w3c.extract(ROOT_CONTEXT, { traceparent }, getter)
      return trace.getSpanContext(extracted) ? extracted : undefined
    },
    async inSpan(name, options, fn) {
      return tracer.startActiveSpan(name, options, async (span) => {
        try {
          return await fn(span)
        } catch (error) {
          span.recordException(error as Error)
          span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message })
          throw error
        } finally {
          span.end()
        }
      })
    },
    activeIds() {
      const span = trace.getActiveSpan()
      if (!span) return undefined
      const { traceId, spanId } = span.spanContext()
      const ids: Record<string, string> = { trace_id: traceId, span_id: spanId }
      if (config.idFormat === "xray") ids.xray_trace_id = xrayTraceId(traceId)
      return ids
    },
    async shutdown() {
      await provider.shutdown()
      if (registered) {
        trace.disable()
        context.disable()
        propagation.disable()
      }
    },
  }
}

/** Attributes every Kafka span of the command topic shares (OpenTelemetry messaging conventions). */
export const kafkaAttributes = (topic: string, partition: number): Attributes => ({
  "messaging.system": "kafka",
  "messaging.destination.name": topic,
  "messaging.destination.partition.id": String(partition),
  "messaging.kafka.destination.partition": partition,
})
