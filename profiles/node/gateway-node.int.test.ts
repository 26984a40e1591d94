// The gateway's Node bundle, as the Node profilers run it, against the real services: it must
// start, sign users in and accept a booking into Kafka under the machine's Node.
import { afterAll, beforeAll, expect, test } from "bun:test"
import { join } from "node:path"
import { redisKeys } from "../../shared/redis-keys.ts"
import { createRedis } from "../../shared/clients.ts"
import { startGatewayProcess, type GatewayProcess } from "../../testing/gateway-process.ts"
import { createTestDatabase, testConfig, uniqueName, type TestDatabase } from "../../testing/helpers.ts"
import { resetData } from "../../gateway/seed.ts"
import { buildNodeBundle } from "./bundle.ts"

const root = join(import.meta.dir, "../..")
let db: TestDatabase
let gateway: GatewayProcess | undefined
let base = ""
const prefix = uniqueName("node")

beforeAll(async () => {
  db = await createTestDatabase()
  const bundle = await buildNodeBundle(join(root, "profiles/out/node-build-test"))
  gateway = await startGatewayProcess(
    ["node", bundle],
    { databaseUrl: db.url, redisPrefix: prefix, commandTopic: uniqueName("cmd"), jwtSecret: "a-test-secret-of-at-least-32-characters" },
    root,
  )
  base = gateway.url
}, 60_000)

afterAll(async () => {
  await gateway?.stop()
  const redis = createRedis(testConfig().redisUrl)
  await resetData({ sql: db.sql, redis, keys: redisKeys(prefix) })
  redis.disconnect()
  await db.drop()
})

async function call(method: string, path: string, body: unknown, cookie?: string) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { "content-type": "application/json", ...(cookie ? { cookie } : {}) },
    body: JSON.stringify(body),
  })
  return { status: res.status, body: (await res.json()) as Record<string, any>, cookie: res.headers.get("set-cookie")?.split(";")[0] }
}

async function signedIn(role: "seller" | "buyer"): Promise<string> {
  const email = `${uniqueName(role)}@example.com`
  expect((await call("POST", "/api/user", { email, password: "P@ssw0rd", name: role, role })).status).toBe(201)
  const login = await call("POST", "/api/user/login", { email, password: "P@ssw0rd" })
  expect(login.status).toBe(200)
  return login.cookie!
}

test("under Node, the gateway bundle signs users in and answers a booking 202 once Kafka has it", async () => {
  const seller = await signedIn("seller")
  const event = await call(
    "POST",
    "/api/event",
    { name: "Node show", description: "A show", venue_name: "Hall", seating_config: { rows: 2, cols: 5, sections: [{ name: "A", price: 100, subsections: 1 }] } },
    seller,
  )
  expect(event.status).toBe(201)
  const buyer = await signedIn("buyer")
  const booking = await call(
    "POST",
    "/api/booking",
    { event_id: event.body.id, section: "A", subsection: 1, seat_selection_mode: "best_available", seat_positions: [], quantity: 2 },
    buyer,
  )
  expect({ status: booking.status, output: gateway!.output() }).toEqual({ status: 202, output: expect.any(String) })
  expect(booking.body).toMatchObject({ status: "processing", quantity: 2 })
}, 60_000)

test("under Node, /docs and the reference UI's assets are served by the bundle", async () => {
  const docs = await fetch(`${base}/docs`)
  expect(docs.status).toBe(200)
  expect(await docs.text()).toContain('src="/docs/assets/swagger-ui-bundle.js"')
  const script = await fetch(`${base}/docs/assets/swagger-ui-bundle.js`)
  expect({ status: script.status, type: script.headers.get("content-type") }).toEqual({ status: 200, type: "text/javascript; charset=utf-8" })
  expect((await script.text()).length).toBeGreaterThan(100_000)
})
