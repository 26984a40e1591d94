import { Elysia, ValidationError as SchemaError, type AnyElysia, type ElysiaAdapter } from "elysia"
import type Redis from "ioredis"
import type { Sql } from "postgres"
import type { Config } from "../shared/config.ts"
import { AppError, errorChain, toAppError, ValidationError } from "../shared/errors.ts"
import type { Logger } from "../shared/log.ts"
import { METRICS_CONTENT_TYPE, type Metrics } from "../shared/metrics.ts"
import type { RedisKeys } from "../shared/redis-keys.ts"
import type { Tracing } from "../shared/tracing.ts"
import { apiDocs } from "./api-docs.ts"
import type { Auth } from "./auth.ts"
import { bookingRoutes } from "./booking-routes.ts"
import type { CommandProducer } from "./command-producer.ts"
import type { EventCache } from "./event-cache.ts"
import { eventRoutes } from "./event-routes.ts"
import type { Readiness } from "./health.ts"
import { liveRoutes } from "./live/live-routes.ts"
import type { RedisFanout } from "./live/redis-fanout.ts"
import { httpMetrics } from "./http-observability.ts"
import { createThrottledWarn } from "./throttled-warn.ts"
import { userRoutes } from "./user-routes.ts"
import { createSseStreams } from "./live/sse-streams.ts"
import { createWaitingRoom } from "./waiting-room/room-routes.ts"
import { jsonResponse as json } from "../shared/json-response.ts"

/** Everything the gateway's routes use, built once by main.ts (or a test). */
export type GatewayDeps = {
  config: Config
  log: Logger
  readiness: () => Promise<Readiness>
  sql: Sql
  redis: Redis
  keys: RedisKeys
  auth: Auth
  events: EventCache
  commands: CommandProducer
  /** The process's one Redis subscriber, feeding the server-sent-event streams and the meta channel. */
  live: RedisFanout
  /** This process's metrics, served at /metrics; other modules add families to it by name. */
  metrics: Metrics
  /** Tracing on: the tracer for manual spans, and the HTTP tracing plugin (createHttpTracing). */
  tracing?: Tracing
  httpTracing?: AnyElysia
}

/** Largest request body the gateway reads. */
export const MAX_BODY_BYTES = 64 * 1024

/** Seconds a client is asked to wait before retrying a 503 (a dependency away). */
export const RETRY_AFTER_SECONDS = 1
const RETRY_AFTER = { "retry-after": String(RETRY_AFTER_SECONDS) }

type SchemaProblem = { path: string; message: string; value?: unknown; schema?: { enum?: unknown; format?: unknown; error?: unknown } }

const describeProblem = ({ message, value, schema }: SchemaProblem): string => {
  if (value === undefined) return "Field required"
  // A schema's own `error` names the problem as the contract does (`Invalid event id`).
  if (typeof schema?.error === "string") return schema.error
  if (Array.isArray(schema?.enum)) return `Expected one of: ${schema.enum.join(", ")}`
  if (schema?.format === "email") return "Not a valid email address"
  return message
}

// One field often fails several checks (a missing string is also "not a string"); the first says it best.
const schemaErrorResponse = (error: SchemaError): Response => {
  const errors = new Map<string, string>()
  for (const problem of error.all as SchemaProblem[]) {
    const field = error.type + problem.path.replaceAll("/", ".")
    if (!errors.has(field)) errors.set(field, describeProblem(problem))
  }
  const [first] = errors
  return json(400, {
    detail: first ? `${first[0]}: ${first[1]}` : "Invalid request",
    errors: [...errors].map(([field, message]) => ({ field, message })),
  })
}

/**
 * Turns any thrown value into the contract's error answer; the only place that does. A retriable failure
 * (a dependency away, classified by toAppError) is a 503 with Retry-After.
 */
export function errorResponse(error: unknown, code: string | number, log: Logger, request?: Request, allowedMethods: readonly string[] = []): Response {
  // Elysia wraps whatever a body parser throws in its own ParseError.
  if (code === "PARSE" && error instanceof Error && error.cause instanceof AppError) error = error.cause
  if (error instanceof SchemaError) return schemaErrorResponse(error)
  const known = toAppError(error)
  if (known?.retriable) return json(503, { detail: known.message }, RETRY_AFTER)
  if (known instanceof ValidationError) return json(400, { detail: known.message, errors: known.errors })
  if (known) return json(known.status, { detail: known.message })
  switch (code) {
    case "NOT_FOUND":
      if (allowedMethods.length > 0) return json(405, { detail: "Method Not Allowed" }, { allow: allowedMethods.join(", ") })
      return json(404, { detail: "Not Found" })
    case "PARSE":
      return json(400, { detail: "Request body is not valid JSON" })
  }
  log.error("unhandled error", { error, method: request?.method, url: request?.url })
  return json(500, { detail: "Internal server error" })
}

const utf8 = new TextDecoder("utf-8", { fatal: true })

const tooLarge = () => new AppError(413, "Request body too large")

// A body sent without Content-Length (chunked) is read up to the limit and refused as soon as it passes
// it; leaving the loop cancels the stream, and Bun discards the rest of the body.
async function readCapped(body: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  let size = 0
  for await (const chunk of body) {
    size += chunk.byteLength
    if (size > MAX_BODY_BYTES) throw tooLarge()
    chunks.push(chunk)
  }
  return Buffer.concat(chunks, size)
}

// Parses every request body: JSON only, at most MAX_BODY_BYTES, refused by its Content-Length before a
// byte of it is read, or while it is read when it came without one. Routes still declare `parse: "json"`:
// this hook answers first, but that is how the OpenAPI document learns the content type.
async function parseJsonBody({ request, contentType }: { request: Request; contentType: string }) {
  const length = request.headers.get("content-length")
  if (Number(length) > MAX_BODY_BYTES) throw tooLarge()
  // With a Content-Length, HTTP framing holds the body to it, so the one-call read is safe (and the hot path's).
  const bytes: ArrayBuffer | Uint8Array = length !== null || request.body === null ? await request.arrayBuffer() : await readCapped(request.body)
  // null, not undefined: undefined would make Elysia try its own parser on the consumed body.
  if (bytes.byteLength === 0) return null
  if (contentType.split(";", 1)[0]!.trim().toLowerCase() !== "application/json") {
    throw new AppError(415, "Content-Type must be application/json")
  }
  try {
    return JSON.parse(utf8.decode(bytes))
  } catch {
    throw new AppError(400, "Request body is not valid JSON")
  }
}

// Elysia answers NOT_FOUND for a known path under another method; the contract wants 405 there.
// The route table is compiled on first use, when every route is registered.
function createMethodLookup(routes: () => readonly { method: string; path: string }[]) {
  let table: { method: string; pattern: RegExp }[] | undefined
  const compile = (path: string) =>
    new RegExp(`^${path.replace(/[.+?^$(){}|[\]\\]/g, "\\$&").replace(/:[^/]+/g, "[^/]+").replace(/\*/g, ".*")}$`)
  return (pathname: string): string[] => {
    table ??= routes().map(({ method, path }) => ({ method, pattern: compile(path) }))
    return table.filter((route) => route.pattern.test(pathname)).map((route) => route.method)
  }
}

/** How the app is served; without an adapter Elysia picks Bun's (the Node adapter is for profiling under 0x and clinic). */
export type GatewayOptions = { adapter?: ElysiaAdapter }

/** Builds the gateway's HTTP app: routes, one error handler, no I/O of its own. */
export function createGateway(deps: GatewayDeps, options: GatewayOptions = {}) {
  const { log } = deps
  // Bun answers a body over its maxRequestBodySize itself, before any handler runs: an empty 413 for a
  // Content-Length over it, closing the connection while the client still sends (which often sees only a
  // broken pipe), and an error mid-read for a chunked one. So its limit is set past any body and ours is
  // enforced in parseJsonBody; Bun does not buffer what a handler leaves unread, it discards it.
  // Bun resets a connection whose answer takes longer than idleTimeout (default 10 s); creating a
  // million-seat event takes about that long.
  const app = new Elysia({ adapter: options.adapter, serve: { maxRequestBodySize: Number.MAX_SAFE_INTEGER, idleTimeout: 120 } })
  // First, so that its span wraps every other hook; with tracing off it is not registered at all.
  if (deps.httpTracing) app.use(deps.httpTracing)
  const allowedMethods = createMethodLookup(() => app.routes)
  // While a dependency is away every request touching it fails alike: one line a second says so.
  const warnUnavailable = createThrottledWarn(log, "dependency unavailable; answered 503", "requests")
  const roomStreams = createSseStreams()
  deps.live.onClose(() => roomStreams.closeAll())
  const waitingRoom = createWaitingRoom(deps, roomStreams)
  return app
    .use(httpMetrics(deps.metrics, log))
    .onError(({ error, code, request, set }) => {
      const response = errorResponse(error, code, log, request, code === "NOT_FOUND" ? allowedMethods(new URL(request.url).pathname) : [])
      if (response.status === 503) warnUnavailable({ code: toAppError(error)?.code, error: errorChain(error), method: request.method, url: request.url })
      // The request metrics read the status from here once the answer is sent.
      set.status = response.status
      return response
    })
    .onParse(parseJsonBody)
    .use(apiDocs({ title: "Ticketing API", version: "0.1.0" }))
    // Not Elysia's redirect(), which builds Response.redirect("/docs"): Deno refuses a relative URL there.
    .get("/", () => new Response(null, { status: 302, headers: { location: "/docs" } }), { detail: { hide: true } })
    .get(
      "/health",
      async () => {
        const ready = await deps.readiness()
        const healthy = ready.postgres && ready.redis && ready.kafka
        return healthy ? json(200, { status: "healthy" }) : json(503, { status: "unhealthy", dependencies: ready })
      },
      { detail: { summary: "Readiness: 200 when PostgreSQL, Redis and Kafka answer" } },
    )
    .get(
      "/metrics",
      async () => {
        // Probes the dependencies first (cached, at most 1.5 s) so that dependency_up is as of this scrape.
        await deps.readiness()
        return new Response(deps.metrics.text(), { headers: { "content-type": METRICS_CONTENT_TYPE } })
      },
      { detail: { hide: true } },
    )
    .use(userRoutes(deps))
    .use(eventRoutes(deps))
    .use(bookingRoutes({ ...deps, admission: waitingRoom.check }))
    .use(liveRoutes(deps))
    .use(waitingRoom.routes)
}

/** The gateway's Elysia app. */
export type Gateway = ReturnType<typeof createGateway>
