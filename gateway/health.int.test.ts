import { afterAll, beforeAll, expect, test } from "bun:test"
import type { Admin } from "kafkajs"
import { createRedis, createSql } from "../shared/clients.ts"
import { createKafka } from "../shared/kafka.ts"
import { testConfig, testLogger } from "../shared/testing.ts"
import { createHealthCheck } from "./health.ts"
import { createTestGateway } from "./test-gateway.ts"

// A Redis of this test's own, so stopping it does not disturb the shared one. Its port is one
// the kernel just handed out (a random pick could hit a port another connection holds), and a
// Redis that does not come up fails the test with its own output rather than as "unhealthy".
const freePort = () => {
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } })
  const free = probe.port
  probe.stop(true)
  return free
}
const port = freePort()
const startRedis = async () => {
  const proc = Bun.spawn(["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    stdout: "pipe",
    stderr: "pipe",
  })
  const probe = createRedis(`redis://127.0.0.1:${port}`)
  probe.on("error", () => {})
  try {
    for (let i = 0; i < 300 && probe.status !== "ready"; i++) {
      if (proc.exitCode !== null) throw new Error(`redis-server on :${port} exited: ${await new Response(proc.stdout).text()}`)
      await Bun.sleep(50)
    }
    if (probe.status !== "ready") throw new Error(`redis-server on :${port} did not answer within 15 s`)
  } finally {
    probe.disconnect()
  }
  return proc
}

const config = testConfig()
const log = testLogger()
const sql = createSql(config, 2)
const kafka = createKafka(config, log, "health-test")
let admin: Admin
let redisProc: Awaited<ReturnType<typeof startRedis>>
const redis = () => createRedis(`redis://127.0.0.1:${port}`)
let client: ReturnType<typeof redis>

beforeAll(async () => {
  redisProc = await startRedis()
  client = redis()
  client.on("error", () => {})
  await client.ping()
  admin = kafka.admin()
  await admin.connect()
})
afterAll(async () => {
  client.disconnect()
  redisProc.kill()
  await Promise.all([admin.disconnect(), sql.end(), gateway?.close()])
})

let gateway: Awaited<ReturnType<typeof createTestGateway>>
const health = async () => {
  gateway ??= await createTestGateway({ readiness: createHealthCheck({ sql, redis: client, admin }, 0) })
  const res = await gateway.call("GET", "/health")
  return { status: res.status, body: res.body as Record<string, unknown> }
}

test("/health is 200 with every dependency up, 503 while Redis is stopped, 200 again after", async () => {
  expect(await health()).toEqual({ status: 200, body: { status: "healthy" } })

  redisProc.kill()
  await redisProc.exited
  const down = await health()
  expect(down.status).toBe(503)
  expect(down.body.dependencies).toEqual({ postgres: true, redis: false, kafka: true })

  redisProc = await startRedis()
  let again = await health()
  for (let i = 0; i < 60 && again.status !== 200; i++) {
    await Bun.sleep(100)
    again = await health()
  }
  expect(again).toEqual({ status: 200, body: { status: "healthy" } })
})
