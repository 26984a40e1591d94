import { afterAll, expect, test } from "bun:test"
import { createRedis } from "./clients.ts"
import { testConfig } from "../testing/helpers.ts"

const redis = createRedis(testConfig().redisUrl)
afterAll(() => redis.quit())

test("redis answers with append-only persistence on", async () => {
  expect(await redis.ping()).toBe("PONG")
  const [, appendonly] = (await redis.config("GET", "appendonly")) as string[]
  expect(appendonly).toBe("yes")
  const [, fsync] = (await redis.config("GET", "appendfsync")) as string[]
  expect(["everysec", "always"]).toContain(fsync!)
})
