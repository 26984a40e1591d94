import { afterAll, beforeAll, expect, test } from "bun:test"
import type { Admin } from "kafkajs"
import { createRedis, createSql } from "../shared/clients.ts"
import { createKafka } from "../shared/kafka.ts"
import { createMetrics } from "../shared/metrics.ts"
import { startScratchRedis, testConfig, testLogger, type ScratchRedis } from "../testing/helpers.ts"
import { createHealthCheck } from "./health.ts"
import { createTestGateway } from "../testing/gateway.ts"

// A Redis of this test's own, so stopping it does not disturb the shared one.
let scratch: ScratchRedis

const config = testConfig()
const log = testLogger()
const sql = createSql(config, 2)
const kafka = createKafka(config, log, "health-test")
let admin: Admin
let client: ReturnType<typeof createRedis>

beforeAll(async () => {
  scratch = await startScratchRedis()
  client = createRedis(scratch.url)
  client.on("error", () => {})
  await client.ping()
  admin = kafka.admin()
  await admin.connect()
})
afterAll(async () => {
  client.disconnect()
  await scratch.close()
  await Promise.all([admin.disconnect(), sql.end(), gateway?.close()])
})

let gateway: Awaited<ReturnType<typeof createTestGateway>>
const metrics = createMetrics()
const health = async () => {
  gateway ??= await createTestGateway({ readiness: createHealthCheck({ sql, redis: client, admin, metrics }, 0), metrics })
  const res = await gateway.call("GET", "/health")
  return { status: res.status, body: res.body as Record<string, unknown> }
}
const dependencyUp = async () => {
  const text = (await gateway.call("GET", "/metrics")).body as string
  return Object.fromEntries([...text.matchAll(/^dependency_up\{dependency="(\w+)"\} (\d)$/gm)].map(([, name, value]) => [name, Number(value)]))
}

test("/health is 200 with every dependency up, 503 while Redis is stopped, 200 again after", async () => {
  expect(await health()).toEqual({ status: 200, body: { status: "healthy" } })

  await scratch.stop()
  const down = await health()
  expect(down.status).toBe(503)
  expect(down.body.dependencies).toEqual({ postgres: true, redis: false, kafka: true })
  // A scrape probes again, so the alert's series is as of the scrape.
  expect(await dependencyUp()).toEqual({ postgres: 1, redis: 0, kafka: 1 })

  await scratch.start()
  let again = await health()
  for (let i = 0; i < 60 && again.status !== 200; i++) {
    await Bun.sleep(100)
    again = await health()
  }
  expect(again).toEqual({ status: 200, body: { status: "healthy" } })
  expect(await dependencyUp()).toEqual({ postgres: 1, redis: 1, kafka: 1 })
})
