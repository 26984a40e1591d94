import { describe, expect, test } from "bun:test"
import { context, propagation, trace } from "@opentelemetry/api"
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base"
import { loadConfig } from "./config.ts"
import { createLogger } from "./log.ts"
import { createTracing, xrayTraceId } from "./tracing.ts"

const tracingFor = async (env: Record<string, string> = {}) => {
  const exporter = new InMemorySpanExporter()
  const tracing = await createTracing(loadConfig(env).tracing, "test-service", exporter)
  if (!tracing) throw new Error("tracing should be on with an exporter")
  return { tracing, exporter }
}

describe("tracing", () => {
  test("is off, with nothing loaded, when no OTLP endpoint is configured", async () => {
    expect(await createTracing(loadConfig({}).tracing, "gateway")).toBeUndefined()
    expect(await createTracing(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318", OTEL_SDK_DISABLED: "true" }).tracing, "gateway")).toBeUndefined()
  })

  test("W3C ids by default; the Kafka traceparent round-trips to the same trace", async () => {
    const { tracing } = await tracingFor()
    const span = tracing.tracer.startSpan("send")
    const header = tracing.traceparent(span)
    expect(header).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
    const parent = tracing.parentFrom(header)!
    expect(trace.getSpanContext(parent)).toMatchObject({ traceId: span.spanContext().traceId, spanId: span.spanContext().spanId, isRemote: true })
    const child = tracing.tracer.startSpan("process", {}, parent)
    expect(child.spanContext().traceId).toBe(span.spanContext().traceId)
    expect(tracing.parentFrom(undefined)).toBeUndefined()
    expect(tracing.parentFrom("00-zz-1-01")).toBeUndefined()
    await tracing.shutdown()
  })

  test("TRACE_ID_FORMAT=xray yields X-Ray ids: the first 8 hex digits are the epoch second", async () => {
    const { tracing, exporter } = await tracingFor({ TRACE_ID_FORMAT: "xray" })
    const before = Math.floor(Date.now() / 1000)
    for (let i = 0; i < 5; i++) tracing.tracer.startSpan(`s${i}`).end()
    const after = Math.floor(Date.now() / 1000)
    const ids = exporter.getFinishedSpans().map((s) => s.spanContext().traceId)
    expect(new Set(ids).size).toBe(5)
    for (const id of ids) {
      expect(id).toMatch(/^[0-9a-f]{32}$/)
      const seconds = parseInt(id.slice(0, 8), 16)
      expect(seconds).toBeGreaterThanOrEqual(before)
      expect(seconds).toBeLessThanOrEqual(after)
    }
    expect(xrayTraceId(ids[0]!)).toMatch(/^1-[0-9a-f]{8}-[0-9a-f]{24}$/)
    await tracing.shutdown()
  })

  test("W3C ids are random, not time-based", async () => {
    const { tracing, exporter } = await tracingFor()
    for (let i = 0; i < 20; i++) tracing.tracer.startSpan(`s${i}`).end()
    const now = Math.floor(Date.now() / 1000)
    const timeLike = exporter.getFinishedSpans().filter((s) => Math.abs(parseInt(s.spanContext().traceId.slice(0, 8), 16) - now) < 3600)
    expect(timeLike.length).toBeLessThan(2)
    await tracing.shutdown()
  })

  test("OTEL_PROPAGATORS=xray: registered, HTTP context goes out as X-Amzn-Trace-Id", async () => {
    const { tracing } = await tracingFor({ OTEL_PROPAGATORS: "xray" })
    tracing.register()
    try {
      const headers: Record<string, string> = {}
      await tracing.inSpan("request", {}, async (span) => {
        propagation.inject(context.active(), headers)
        const { traceId, spanId } = span.spanContext()
        expect(headers["x-amzn-trace-id"]).toBe(`Root=${xrayTraceId(traceId)};Parent=${spanId};Sampled=1`)
        expect(headers.traceparent).toBeUndefined()
      })
    } finally {
      await tracing.shutdown()
    }
  })

  test("log lines inside a span carry its trace_id and span_id; X-Ray format adds xray_trace_id", async () => {
    const { tracing } = await tracingFor({ TRACE_ID_FORMAT: "xray" })
    tracing.register()
    const lines: string[] = []
    const log = createLogger("t", "info", {}, (line) => lines.push(line) > 0, tracing.activeIds).child({ component: "c" })
    try {
      log.info("outside")
      let ids: { traceId: string; spanId: string } | undefined
      await tracing.inSpan("work", {}, async (span) => {
        await Bun.sleep(1)
        ids = span.spanContext()
        log.info("inside")
      })
      const [outside, inside] = lines.map((l) => JSON.parse(l))
      expect(outside.trace_id).toBeUndefined()
      expect(inside).toMatchObject({ msg: "inside", component: "c", trace_id: ids!.traceId, span_id: ids!.spanId, xray_trace_id: xrayTraceId(ids!.traceId) })
    } finally {
      await tracing.shutdown()
    }
  })

  test("headers, cookies and bodies never leave the process", async () => {
    const { tracing, exporter } = await tracingFor()
    const span = tracing.tracer.startSpan("POST /api/user/login")
    span.setAttributes({
      "http.request.header.cookie": "fastapiusersauth=jwt",
      "http.request.header.authorization": "Bearer jwt",
      "http.request.header.content-type": "application/json",
      "http.request.cookie": "{}",
      "http.request.body": '{"password":"secret"}',
      "http.response.body": "{}",
      "http.response.header.set-cookie": "fastapiusersauth=jwt",
      "http.route": "/api/user/login",
    })
    span.end()
    const [exported] = exporter.getFinishedSpans()
    expect(Object.keys(exported!.attributes).sort()).toEqual(["http.request.header.content-type", "http.route"])
    await tracing.shutdown()
  })
})
