// Two real gateway processes on one Redis and one database: one queue, one order and one admission
// rate between them (not one each), tokens of one honoured by the other, and a restarted gateway
// finds every place where it was.
import { afterAll, beforeAll, expect, test } from "bun:test"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createTestDatabase, eventually, freePort, isolatedStackEnv, type TestDatabase } from "../../testing/helpers.ts"
import { COOKIE_NAME, createAuth } from "../auth.ts"

const main = join(import.meta.dir, "..", "main.ts")
const dataDir = mkdtempSync(join(tmpdir(), "two-gateways-int-"))
const secret = "a-test-secret-of-at-least-32-chars-long"
const auth = createAuth({ secret, cookieSecure: false })
let db: TestDatabase
let env: Record<string, string>

type Gateway = { url: string; proc: Bun.Subprocess<"ignore", "ignore", "pipe">; port: number }
const running: Gateway[] = []

const startGateway = async (port = freePort()): Promise<Gateway> => {
  const proc = Bun.spawn([process.execPath, main], { env: { ...process.env, ...env, PORT: String(port), JWT_SECRET: secret }, stdin: "ignore", stdout: "ignore", stderr: "pipe" })
  const gateway = { url: `http://127.0.0.1:${port}`, proc, port }
  running.push(gateway)
  await eventually(async () => ((await fetch(`${gateway.url}/health`, { signal: AbortSignal.timeout(2_000) })).status === 200 ? true : undefined), 60_000, `gateway on :${port} healthy`)
  return gateway
}

const stopGateway = async (gateway: Gateway) => {
  gateway.proc.kill("SIGTERM")
  await gateway.proc.exited
  running.splice(running.indexOf(gateway), 1)
}

beforeAll(async () => {
  db = await createTestDatabase()
  env = isolatedStackEnv({ dataDir, databaseUrl: db.url, gatewayPort: 0, metricsPort: freePort() })
})
afterAll(async () => {
  for (const gateway of [...running]) await stopGateway(gateway)
  await db.drop()
  rmSync(dataDir, { recursive: true, force: true })
})

const send = async (url: string, method: string, cookie?: string, body?: unknown) => {
  const res = await fetch(url, {
    method,
    headers: { ...(cookie ? { cookie } : {}), ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: res.status, body: (await res.json()) as any, setCookie: res.headers.get("set-cookie") }
}

const signUp = async (gateway: Gateway, role: "buyer" | "seller", n: number) => {
  const res = await send(`${gateway.url}/api/user`, "POST", undefined, { email: `${role}${n}-${crypto.randomUUID()}@t.com`, password: "P@ssw0rd", name: `${role} ${n}`, role })
  expect(res.status).toBe(201)
  return { id: res.body.id as number, cookie: `${COOKIE_NAME}=${auth.issue(res.body)}` }
}

test("two gateways: one order, the combined rate, each other's tokens, and places kept through a restart", async () => {
  const a = await startGateway()
  let b = await startGateway()
  const seller = await signUp(a, "seller", 0)
  const buyers = await Promise.all(Array.from({ length: 20 }, (_, i) => signUp(i % 2 ? b : a, "buyer", i)))
  const rate = 5
  const created = await send(`${a.url}/api/event`, "POST", seller.cookie, {
    name: "Shared sale",
    description: "Two doors, one queue",
    venue_name: "Hall",
    seating_config: { rows: 2, cols: 5, sections: [{ name: "A", price: 100, subsections: 1 }] },
    waiting_room: { admit_per_second: rate, admission_seconds: 600 },
  })
  expect(created.status).toBe(201)
  const eventId = created.body.id as number
  const room = (g: Gateway) => `${g.url}/api/event/${eventId}/waiting_room`

  const started = Date.now()
  const joins = await Promise.all(buyers.map((buyer, i) => send(`${room(i % 2 ? b : a)}/join`, "POST", buyer.cookie)))
  expect(joins.map((j) => j.status)).toEqual(buyers.map(() => 200))
  expect(joins.map((j) => j.body.position).sort((x, y) => x - y)).toEqual(buyers.map((_, i) => i + 1))

  // Everyone admitted, read through either door; at the combined rate it cannot take less than (n - 1) / rate.
  await eventually(async () => {
    const stats = (await send(`${room(Math.random() < 0.5 ? a : b)}/stats`, "GET")).body
    return stats.admitted === buyers.length ? stats : undefined
  }, 60_000, "everyone admitted")
  expect(Date.now() - started).toBeGreaterThanOrEqual(((buyers.length - 1) / rate) * 1000 - 50)

  // Both gateways answer the same place and the same admission for every buyer.
  const viaA = await Promise.all(buyers.map((buyer) => send(room(a), "GET", buyer.cookie)))
  const viaB = await Promise.all(buyers.map((buyer) => send(room(b), "GET", buyer.cookie)))
  expect(viaB.map((r) => r.body)).toEqual(viaA.map((r) => r.body))
  const byPosition = viaA.map((r) => r.body).sort((x, y) => x.position - y.position)
  for (let i = 1; i < byPosition.length; i++) {
    expect(Date.parse(byPosition[i].admitted_until) - Date.parse(byPosition[i - 1].admitted_until)).toBeGreaterThanOrEqual(1000 / rate - 1)
  }

  // A token from one gateway is good at the other.
  const first = buyers[joins.findIndex((j) => j.body.position === 1)]!
  const token = viaA[buyers.indexOf(first)]!.setCookie!.split(";")[0]
  const booking = { event_id: eventId, section: "A", subsection: 1, seat_selection_mode: "best_available", seat_positions: [], quantity: 1 }
  expect((await send(`${b.url}/api/booking`, "POST", `${first.cookie}; ${token}`, booking)).status).toBe(202)

  // A restarted gateway has lost nobody's place.
  await stopGateway(b)
  b = await startGateway(b.port)
  const afterRestart = await Promise.all(buyers.map((buyer) => send(room(b), "GET", buyer.cookie)))
  expect(afterRestart.map((r) => r.body.position)).toEqual(viaA.map((r) => r.body.position))
  expect(afterRestart.map((r) => r.body.admitted_until)).toEqual(viaA.map((r) => r.body.admitted_until))
  const rejoin = await send(`${room(b)}/join`, "POST", buyers[3]!.cookie)
  expect(rejoin.body.position).toBe(viaA[3]!.body.position)
}, 120_000)
