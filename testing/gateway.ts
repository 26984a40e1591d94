// Helpers for the gateway's *.int.test.ts files: a gateway over a fresh database and its own Redis prefix.
import { createMetrics } from "../shared/metrics.ts"
import { redisKeys } from "../shared/redis-keys.ts"
import { createTestDatabase, testConfig, testLogger, uniqueName } from "./helpers.ts"
import { createGateway, type GatewayDeps } from "../gateway/app.ts"
import { COOKIE_NAME, createAuth, type AuthUser, type Role } from "../gateway/auth.ts"
import { createEventCache } from "../gateway/event-cache.ts"
import { createGatewayRedis } from "../gateway/gateway-clients.ts"
import { createRedisFanout } from "../gateway/live/redis-fanout.ts"
import { resetData } from "../gateway/seed.ts"

/** A decoded answer of the test gateway. */
export type TestResponse = { status: number; headers: Headers; body: any }

type CallOptions = { body?: unknown; cookie?: string; headers?: Record<string, string> }

/**
 * Creates a gateway on a fresh database and a unique Redis prefix; `overrides` replace single dependencies,
 * `extend` adds ones built from the others (a cache over the same Redis, say).
 */
export async function createTestGateway(overrides: Partial<GatewayDeps> = {}, extend: (base: GatewayDeps) => Partial<GatewayDeps> = () => ({})) {
  const db = await createTestDatabase()
  const config = testConfig({ REDIS_PREFIX: uniqueName("t") })
  const redis = createGatewayRedis(config.redisUrl)
  const base: GatewayDeps = {
    config,
    log: testLogger("gateway"),
    readiness: async () => ({ postgres: true, redis: true, kafka: true }),
    sql: db.sql,
    redis,
    keys: redisKeys(config.redisPrefix),
    auth: createAuth({ secret: "a-test-secret-of-at-least-32-chars", cookieSecure: false }),
    events: createEventCache({ sql: db.sql, redis, keys: redisKeys(config.redisPrefix) }, 0),
    // Tests that book pass a real producer through `extend`; the others never produce.
    commands: { send: () => Promise.reject(new Error("this test gateway has no Kafka producer")) },
    metrics: createMetrics(),
    live: overrides.live ?? createRedisFanout(redis.duplicate({ autoResubscribe: false }), testLogger("live")),
    ...overrides,
  }
  const deps: GatewayDeps = { ...base, ...extend(base) }
  const app = createGateway(deps)

  /** Sends one request through app.handle; a non-string body is sent as JSON. */
  const call = async (method: string, path: string, { body, cookie, headers = {} }: CallOptions = {}): Promise<TestResponse> => {
    const init: RequestInit = { method, headers: { ...headers } }
    if (body !== undefined) {
      init.body = typeof body === "string" ? body : JSON.stringify(body)
      ;(init.headers as Record<string, string>)["content-type"] ??= "application/json"
    }
    if (cookie !== undefined) (init.headers as Record<string, string>).cookie = cookie
    const res = await app.handle(new Request(`http://localhost${path}`, init))
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

  const close = async () => {
    await deps.live.close()
    await resetData({ sql: db.sql, redis, keys: deps.keys })
    redis.disconnect()
    await db.drop()
  }

  return { ...deps, db, app, call, signUp, createEvent, close }
}
