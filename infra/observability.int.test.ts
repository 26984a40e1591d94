// End to end, as deployed: a gateway and a reserver started from their main.ts with tracing
// on, exporting to the local Jaeger (`npm run tracing:start`, which `npm test` runs first).
// One booking must be one trace in Jaeger, from the gateway's HTTP span to the reserver's
// span for that booking; both /metrics must parse as Prometheus text and count what happened.
// With GATEWAY_RUNTIME=deno the gateway is the same main.ts on Deno (infra/gateway-deno.sh).
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { join } from "node:path"
import { createRedis } from "../shared/clients.ts"
import { parsePrometheusText, type Exposition } from "../testing/prometheus-text.ts"
import { redisKeys } from "../shared/redis-keys.ts"
import { gatewayRuntime } from "../testing/gateway.ts"
import { createTestDatabase, eventually, freePort, testConfig, uniqueName, type TestDatabase } from "../testing/helpers.ts"

const root = join(import.meta.dir, "..")
const jaeger = `http://127.0.0.1:${process.env.JAEGER_QUERY_PORT ?? "16686"}`
const otlp = `http://127.0.0.1:${process.env.OTLP_HTTP_PORT ?? "4318"}`
const gatewayService = uniqueName("gateway")
const reserverService = uniqueName("reserver")
const topic = uniqueName("obs")
const prefix = uniqueName("t")

type Child = { proc: ReturnType<typeof Bun.spawn>; lines: string[] }
type JaegerSpan = { traceID: string; spanID: string; operationName: string; processID: string; references: { refType: string; spanID: string }[]; tags: { key: string; value: unknown }[] }
type JaegerTrace = { traceID: string; spans: JaegerSpan[]; processes: Record<string, { serviceName: string }> }

let db: TestDatabase
let gateway: Child
let reserver: Child
let gatewayUrl: string
let reserverUrl: string

// Keeps every output line (the pipe must be drained) for the log assertions and for failure messages.
const start = (name: "gateway" | "reserver", env: Record<string, string>): Child => {
  const command = name === "gateway" && gatewayRuntime === "deno" ? ["bash", join(root, "infra/gateway-deno.sh")] : [process.execPath, join(root, name, "main.ts")]
  const proc = Bun.spawn(command, { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" })
  const lines: string[] = []
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder()
    let pending = ""
    for await (const chunk of stream) {
      pending += decoder.decode(chunk, { stream: true })
      const parts = pending.split("\n")
      pending = parts.pop()!
      lines.push(...parts)
    }
  }
  void pump(proc.stdout as ReadableStream<Uint8Array>)
  void pump(proc.stderr as ReadableStream<Uint8Array>)
  return { proc, lines }
}

const healthy = (child: Child, url: string, what: string) =>
  eventually(async () => {
    if (child.proc.exitCode !== null) throw new Error(`${what} exited: ${child.lines.slice(-20).join("\n")}`)
    const res = await fetch(`${url}/health`).catch(() => undefined)
    return res?.status === 200 ? true : undefined
  }, 60_000, `${what} healthy`)

const api = async (method: string, path: string, body?: unknown, cookie?: string) => {
  const res = await fetch(`${gatewayUrl}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...(cookie ? { cookie } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  return { status: res.status, headers: res.headers, body: text && res.headers.get("content-type")?.includes("json") ? JSON.parse(text) : text }
}

const signUpAndLogIn = async (role: "buyer" | "seller") => {
  const email = `${uniqueName(role)}@example.com`
  expect((await api("POST", "/api/user", { email, password: "P@ssw0rd", name: role, role })).status).toBe(201)
  const login = await api("POST", "/api/user/login", { email, password: "P@ssw0rd" })
  expect(login.status).toBe(200)
  return login.headers.get("set-cookie")!.split(";", 1)[0]!
}

const metricsOf = async (url: string): Promise<Exposition> => {
  const res = await fetch(`${url}/metrics`)
  expect(res.status).toBe(200)
  expect(res.headers.get("content-type")).toStartWith("text/plain; version=0.0.4")
  return parsePrometheusText(await res.text())
}

const tagOf = (span: JaegerSpan, key: string) => span.tags.find((t) => t.key === key)?.value

const decided = (id: string, cookie: string) =>
  eventually(async () => {
    const res = await api("GET", `/api/booking/${id}`, undefined, cookie)
    return res.body.status !== "processing" ? (res.body.status as string) : undefined
  }, 30_000, `booking ${id} decided`)

beforeAll(async () => {
  const up = await fetch(`${jaeger}/api/services`).catch(() => undefined)
  if (!up?.ok) throw new Error(`Jaeger does not answer on ${jaeger}; start it with: npm run tracing:start`)
  db = await createTestDatabase()
  const gatewayPort = freePort()
  const metricsPort = freePort()
  gatewayUrl = `http://127.0.0.1:${gatewayPort}`
  reserverUrl = `http://127.0.0.1:${metricsPort}`
  const common = {
    NODE_ENV: "test",
    DATABASE_URL: db.url,
    REDIS_PREFIX: prefix,
    COMMAND_TOPIC: topic,
    COMMAND_PARTITIONS: "2",
    RESERVER_GROUP_ID: uniqueName("group"),
    JWT_SECRET: "an-observability-test-secret-of-32+chars",
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp,
    OTEL_BSP_SCHEDULE_DELAY: "100",
    METRICS_PORT: String(metricsPort),
  }
  gateway = start("gateway", { ...common, PORT: String(gatewayPort), OTEL_SERVICE_NAME: gatewayService, LOG_LEVEL: "debug" })
  await healthy(gateway, gatewayUrl, "gateway") // the gateway creates the topic the reserver subscribes to
  reserver = start("reserver", { ...common, OTEL_SERVICE_NAME: reserverService, LOG_LEVEL: "info" })
  await healthy(reserver, reserverUrl, "reserver")
})

afterAll(async () => {
  for (const child of [gateway, reserver]) child?.proc.kill("SIGTERM")
  await Promise.all([gateway?.proc.exited, reserver?.proc.exited])
  const redis = createRedis(testConfig().redisUrl)
  const stale = await redis.keys(redisKeys(prefix).all)
  if (stale.length) await redis.del(...stale)
  await redis.quit()
  await db?.drop()
})

describe("observability", () => {
  test("one booking is one trace in Jaeger, from the gateway's HTTP span to the reserver's booking span; both /metrics count it", async () => {
    const seller = await signUpAndLogIn("seller")
    const buyer = await signUpAndLogIn("buyer")
    const event = await api("POST", "/api/event", { name: "Traced", description: "d", venue_name: "Hall", seating_config: { rows: 2, cols: 2, sections: [{ name: "A", price: 10, subsections: 1 }] } }, seller)
    expect(event.status).toBe(201)
    const gatewayBefore = await metricsOf(gatewayUrl)
    const reserverBefore = await metricsOf(reserverUrl)
    const accepted = (key: Exposition) => key.value("http_requests_total", { method: "POST", route: "/api/booking", status: "202" }) ?? 0
    const outcome = (key: Exposition, name: string) => key.value("reserver_commands_total", { outcome: name }) ?? 0

    const manual = { event_id: event.body.id, section: "A", subsection: 1, seat_selection_mode: "manual", seat_positions: ["1-1"], quantity: 1 }
    const first = await api("POST", "/api/booking", manual, buyer)
    expect(first.status).toBe(202)
    const id = first.body.id as string
    expect(await decided(id, buyer)).toBe("pending_payment")
    // The same seat again passes the gateway's count check and fails in the reserver; then the first is cancelled.
    const second = await api("POST", "/api/booking", manual, buyer)
    expect(second.status).toBe(202)
    expect(await decided(second.body.id, buyer)).toBe("failed")
    expect((await api("PATCH", `/api/booking/${id}`, undefined, buyer)).status).toBe(200)
    await eventually(async () => ((await api("GET", `/api/booking/${id}`, undefined, buyer)).body.status === "cancelled" ? true : undefined), 30_000, "the cancel")

    // Jaeger: find the booking's trace through the gateway's service, then check it holds both ends.
    const tags = encodeURIComponent(JSON.stringify({ "booking.id": id }))
    const traced = await eventually(async () => {
      const res = await fetch(`${jaeger}/api/traces?service=${gatewayService}&tags=${tags}&lookback=1h&limit=10`)
      const { data } = (await res.json()) as { data: JaegerTrace[] | null }
      for (const t of data ?? []) {
        const full = (await (await fetch(`${jaeger}/api/traces/${t.traceID}`)).json()) as { data: JaegerTrace[] }
        const trace = full.data[0]!
        const service = (s: JaegerSpan) => trace.processes[s.processID]!.serviceName
        const http = trace.spans.find((s) => service(s) === gatewayService && s.operationName === "POST /api/booking")
        const booking = trace.spans.find((s) => service(s) === reserverService && s.operationName === "booking reserve" && tagOf(s, "booking.id") === id)
        if (http && booking) return { trace, http, booking, service }
      }
      return undefined
    }, 30_000, "the booking's trace in Jaeger with the gateway's and the reserver's spans")

    const { trace, http, booking, service } = traced
    expect(booking.traceID).toBe(http.traceID)
    expect(tagOf(http, "http.route")).toBe("/api/booking")
    expect(tagOf(http, "http.response.status_code")).toBe(202)
    // Nothing that would leak a session travels to Jaeger.
    expect(trace.spans.flatMap((s) => s.tags.map((t) => t.key)).filter((k) => /cookie|authorization|body$/.test(k))).toEqual([])
    // The reserver's span is the child of the gateway's producer span for this booking, whose context the Kafka header carried.
    const produce = trace.spans.find((s) => s.spanID === booking.references.find((r) => r.refType === "CHILD_OF")?.spanID)!
    expect(service(produce)).toBe(gatewayService)
    expect(produce.operationName).toBe(`send ${topic}`)
    expect(tagOf(produce, "messaging.system")).toBe("kafka")
    expect(tagOf(produce, "messaging.destination.name")).toBe(topic)
    expect(tagOf(produce, "messaging.kafka.message.key")).toBe(`${event.body.id}:A-1`)
    expect(typeof tagOf(produce, "messaging.kafka.destination.partition")).toBe("number")
    expect(tagOf(booking, "booking.outcome")).toBe("reserved")
    expect(tagOf(booking, "booking.event_id")).toBe(event.body.id)
    expect(tagOf(booking, "booking.section")).toBe("A")
    expect(tagOf(booking, "booking.subsection")).toBe(1)
    expect(trace.spans.some((s) => service(s) === gatewayService && s.operationName === "booking.check")).toBe(true)
    // The batch span is linked from the booking span; its phases are its children.
    const batchSpanId = booking.references.find((r) => r.refType === "FOLLOWS_FROM")?.spanID
    expect(batchSpanId).toBeDefined()
    const batch = await eventually(async () => {
      const res = await fetch(`${jaeger}/api/traces?service=${reserverService}&operation=${encodeURIComponent(`process ${topic}`)}&lookback=1h&limit=50`)
      const { data } = (await res.json()) as { data: JaegerTrace[] | null }
      return data?.find((t) => t.spans.some((s) => s.spanID === batchSpanId))
    }, 30_000, "the batch's trace")
    const phases = batch.spans.filter((s) => s.references.some((r) => r.refType === "CHILD_OF" && r.spanID === batchSpanId)).map((s) => s.operationName)
    expect(phases).toEqual(expect.arrayContaining(["batch load", "batch decide", "batch pg-write", "batch redis-apply", "batch publish"]))

    // Log lines: the gateway's one debug line for the request carries the trace's id.
    const requestLine = gateway.lines.map((l) => (l.startsWith("{") ? JSON.parse(l) : {})).find((l) => l.msg === "request" && l.route === "/api/booking" && l.trace_id === http.traceID)
    expect(requestLine).toMatchObject({ method: "POST", status: 202, span_id: expect.stringMatching(/^[0-9a-f]{16}$/) })

    // Metrics moved: two accepted bookings, one reserved, one failed, one released, a lag gauge per partition.
    const gatewayAfter = await metricsOf(gatewayUrl)
    expect(accepted(gatewayAfter) - accepted(gatewayBefore)).toBe(2)
    expect(gatewayAfter.value("http_requests_total", { method: "PATCH", route: "/api/booking/:id", status: "200" })).toBe(1)
    expect(gatewayAfter.value("http_request_duration_seconds_count", { method: "POST", route: "/api/booking" })).toBeGreaterThanOrEqual(2)
    expect(gatewayAfter.value("kafka_produced_messages_total", { result: "ok" })).toBeGreaterThanOrEqual(3)
    expect(gatewayAfter.value("kafka_produce_duration_seconds_count")).toBeGreaterThanOrEqual(1)
    expect(gatewayAfter.value("sse_streams_open")).toBeDefined()
    expect(gatewayAfter.types.get("http_request_duration_seconds")).toBe("histogram")
    // Raw URLs never become label values.
    expect(gatewayAfter.samples.some((s) => s.labels.route?.includes(id))).toBe(false)
    const reserverAfter = await eventually(async () => {
      const m = await metricsOf(reserverUrl)
      return outcome(m, "released") - outcome(reserverBefore, "released") >= 1 ? m : undefined
    }, 10_000, "the release counted")
    expect(outcome(reserverAfter, "reserved") - outcome(reserverBefore, "reserved")).toBe(1)
    expect(outcome(reserverAfter, "failed") - outcome(reserverBefore, "failed")).toBe(1)
    expect(outcome(reserverAfter, "released") - outcome(reserverBefore, "released")).toBe(1)
    expect(reserverAfter.value("reserver_batch_size_count")).toBeGreaterThanOrEqual(3)
    const lag = reserverAfter.samples.filter((s) => s.name === "kafka_consumer_lag" && s.labels.topic === topic)
    expect(lag.length).toBeGreaterThanOrEqual(1)
    for (const sample of lag) expect(sample.value).toBe(0)
  })

  test("the reserver's metrics port answers only /metrics and /health", async () => {
    expect((await fetch(`${reserverUrl}/nope`)).status).toBe(404)
    expect((await fetch(`${reserverUrl}/metrics`, { method: "POST" })).status).toBe(405)
    expect(await (await fetch(`${reserverUrl}/health`)).json()).toMatchObject({ status: "healthy", partitions: expect.any(Array) })
  })
})
