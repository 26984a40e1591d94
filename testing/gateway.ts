// Helpers for the gateway's *.int.test.ts files: a gateway over a fresh database and its own Redis prefix.
// It runs in this process on Bun, or, with GATEWAY_RUNTIME=deno, as a `deno run` child process
// (infra/gateway-deno.sh) on the same services, which the same tests then reach over HTTP.
import { test } from "bun:test"
import { join } from "node:path"
import { createMetrics } from "../shared/metrics.ts"
import { redisKeys } from "../shared/redis-keys.ts"
import { startGatewayProcess } from "./gateway-process.ts"
import { createTestDatabase, testConfig, testLogger, uniqueName, type TestDatabase } from "./helpers.ts"
import { parsePrometheusText } from "./prometheus-text.ts"
import { createGateway, type GatewayDeps } from "../gateway/app.ts"
import { COOKIE_NAME, createAuth, type AuthUser, type Role } from "../gateway/auth.ts"
import { createEventCache } from "../gateway/event-cache.ts"
import { createGatewayRedis } from "../gateway/gateway-clients.ts"
import { createRedisFanout, liveConnectionName } from "../gateway/live/redis-fanout.ts"
import { resetData } from "../gateway/seed.ts"

/** Where the gateway under test runs: in this process (Bun), or in a Deno child process. */
export const gatewayRuntime: "bun" | "deno" = process.env.GATEWAY_RUNTIME === "deno" ? "deno" : "bun"

/**
 * `test` for what only an in-process gateway can show (a dependency replaced by a broken one, a logger
 * the test reads); skipped, and so counted as skipped, when the gateway runs on Deno.
 */
export const inProcessTest = gatewayRuntime === "bun" ? test : test.skip

/** A decoded answer of the test gateway. */
export type TestResponse = { status: number; headers: Headers; body: any }

type CallOptions = { body?: unknown; cookie?: string; headers?: Record<string, string> }

/** What the Deno child needs beyond the defaults: the topic its bookings go to (a booking stack's). */
export type TestGatewayOptions = { commandTopic?: string; commandPartitions?: number }

const TEST_SECRET = "a-test-secret-of-at-least-32-chars"

/**
 * Creates a gateway on a fresh database and a unique Redis prefix; `overrides` replace single dependencies,
 * `extend` adds ones built from the others (a cache over the same Redis, say). Both need the gateway in this
 * process: under GATEWAY_RUNTIME=deno only `extend`'s `commands` is allowed, and `options` says where they go.
 */
export async function createTestGateway(
  overrides: Partial<GatewayDeps> = {},
  extend: (base: GatewayDeps) => Partial<GatewayDeps> = () => ({}),
  options: TestGatewayOptions = {},
) {
  const db = await createTestDatabase()
  const config = testConfig({ REDIS_PREFIX: uniqueName("t") })
  const redis = createGatewayRedis(config.redisUrl)
  const liveName = liveConnectionName(uniqueName("test"))
  const base: GatewayDeps = {
    config,
    log: testLogger("gateway"),
    readiness: async () => ({ postgres: true, redis: true, kafka: true }),
    sql: db.sql,
    redis,
    keys: redisKeys(config.redisPrefix),
    auth: createAuth({ secret: TEST_SECRET, cookieSecure: false }),
    events: createEventCache({ sql: db.sql, redis, keys: redisKeys(config.redisPrefix) }, 0),
    // Tests that book pass a real producer through `extend`; the others never produce.
    commands: { send: () => Promise.reject(new Error("this test gateway has no Kafka producer")) },
    metrics: createMetrics(),
    live: overrides.live ?? createRedisFanout(redis.duplicate({ autoResubscribe: false, connectionName: liveName }), testLogger("live")),
    ...overrides,
  }
  const deps: GatewayDeps = { ...base, ...extend(base) }
  const served = gatewayRuntime === "deno" ? await startDenoGateway(db, deps, overrides, options) : serveInProcess(deps, overrides.live ? undefined : liveName)

  /** Sends one request to the gateway; a non-string body is sent as JSON. */
  const call = async (method: string, path: string, { body, cookie, headers = {} }: CallOptions = {}): Promise<TestResponse> => {
    const init: RequestInit = { method, headers: { ...headers } }
    if (body !== undefined) {
      init.body = typeof body === "string" ? body : JSON.stringify(body)
      ;(init.headers as Record<string, string>)["content-type"] ??= "application/json"
    }
    if (cookie !== undefined) (init.headers as Record<string, string>).cookie = cookie
    const res = await served.handle(path, init)
    const text = await res.text()
    const json = res.headers.get("content-type")?.startsWith("application/json") && text !== ""
    return { status: res.status, headers: res.headers, body: json ? JSON.parse(text) : text }
  }

  /** Signs up a user through the API and returns it with a session cookie for it. */
  const signUp = async (role: Role, fields: { email?: string; name?: string } = {}): Promise<{ user: AuthUser; cookie: string }> => {
    const email = fields.email ?? `${uniqueName(role)}@example.com`
    const res = await call("POST", "/api/user", { body: { email, password: "P@ssw0rd", name: fields.name ?? role, role } })
    if (res.status !== 201) throw new Error(`sign-up failed: ${res.status} ${JSON.stringify(res.body)}`)
    return { user: res.body, cookie: `${COOKIE_NAME}=${deps.auth.issue(res.body)}` }
  }

  /** Creates an event through the API (one section "A" of 2 × 5 seats unless told) and returns its id. */
  const createEvent = async (cookie: string, seating_config: object = { rows: 2, cols: 5, sections: [{ name: "A", price: 100, subsections: 1 }] }): Promise<number> => {
    const res = await call("POST", "/api/event", { cookie, body: { name: "Show", description: "A show", venue_name: "Hall", seating_config } })
    if (res.status !== 201) throw new Error(`event creation failed: ${res.status} ${JSON.stringify(res.body)}`)
    return res.body.id
  }

  /** Stops the server (ending its open streams), then drops the test's data. */
  const close = async () => {
    await served.stop()
    await resetData({ sql: db.sql, redis, keys: deps.keys })
    redis.disconnect()
    await db.drop()
  }

  return {
    ...deps,
    db,
    call,
    signUp,
    createEvent,
    /** Makes the gateway listen on a loopback port (the Deno child already does) and answers its base URL. */
    listen: served.listen,
    /** The gateway's live-update subscriptions: Redis channels it subscribes to, and local listeners on them. */
    liveStats: served.liveStats,
    /** The Redis client id of the gateway's live-update subscriber, for a test that has Redis drop it. */
    liveConnectionId: () => connectionIdByName(deps, served.liveConnectionName),
    close,
  }
}

/** A test gateway as createTestGateway answers it. */
export type TestGateway = Awaited<ReturnType<typeof createTestGateway>>

type Served = {
  handle(path: string, init: RequestInit): Promise<Response>
  listen(): string
  liveStats(): Promise<{ channels: number; listeners: number }>
  liveConnectionName: string | undefined
  stop(): Promise<void>
}

function serveInProcess(deps: GatewayDeps, liveName: string | undefined): Served {
  const app = createGateway(deps)
  return {
    handle: (path, init) => app.handle(new Request(`http://localhost${path}`, init)),
    listen() {
      if (!app.server) app.listen({ hostname: "127.0.0.1", port: 0 })
      return `http://127.0.0.1:${app.server!.port}`
    },
    liveStats: async () => deps.live.stats(),
    liveConnectionName: liveName,
    async stop() {
      await deps.live.close()
      if (app.server) await app.stop(true)
    },
  }
}

async function connectionIdByName(deps: GatewayDeps, name: string | undefined): Promise<number> {
  const list = (await deps.redis.call("CLIENT", "LIST", "TYPE", "pubsub")) as string
  const line = name === undefined ? undefined : list.split("\n").find((entry) => entry.includes(` name=${name} `))
  const id = line && /^id=(\d+)/.exec(line)?.[1]
  if (!id) throw new Error(`no live-update subscriber named ${name ?? "(the test replaced it)"} in CLIENT LIST`)
  return Number(id)
}

const root = join(import.meta.dir, "..")

/** Starts gateway/main.ts on Deno with the test's database, Redis prefix and secret, and waits for /health. */
async function startDenoGateway(db: TestDatabase, deps: GatewayDeps, overrides: Partial<GatewayDeps>, options: TestGatewayOptions): Promise<Served> {
  const replaced = Object.keys(overrides)
  if (replaced.length > 0) throw new Error(`a gateway on Deno cannot take replaced dependencies (${replaced.join(", ")}); use inProcessTest`)
  // The in-process subscriber the base made is not the child's; close it so that it holds no connection.
  await deps.live.close()
  const topic = options.commandTopic ?? uniqueName("cmd")
  const child = await startGatewayProcess(
    ["bash", join(root, "infra/gateway-deno.sh")],
    {
      databaseUrl: db.url,
      redisPrefix: deps.config.redisPrefix,
      commandTopic: topic,
      jwtSecret: TEST_SECRET,
      extra: { COMMAND_PARTITIONS: String(options.commandPartitions ?? 2) },
    },
    root,
  )
  const { url } = child
  return {
    handle: (path, init) => fetch(`${url}${path}`, { ...init, redirect: "manual" }),
    listen: () => url,
    async liveStats() {
      const metrics = parsePrometheusText(await (await fetch(`${url}/metrics`)).text())
      // Less the meta channel's one subscription, which start-gateway.ts makes and the in-process gateway does not.
      return { channels: (metrics.value("live_updates_channels") ?? 0) - 1, listeners: (metrics.value("live_updates_listeners") ?? 0) - 1 }
    },
    liveConnectionName: liveConnectionName(String(child.pid)),
    stop: child.stop,
  }
}
