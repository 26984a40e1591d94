// Helpers for *.int.test.ts files: isolation by unique names on the real local services.
import Redis from "ioredis"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import postgres, { type Sql } from "postgres"
import { loadConfig, type Config } from "../shared/config.ts"
import { migrate } from "../shared/db/migrate.ts"
import { createLogger } from "../shared/log.ts"

/** A name no other test run uses, for topics, groups, databases and users. */
export const uniqueName = (prefix: string): string =>
  `${prefix}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`

/** The configuration of the local test stack, with per-test overrides. */
export const testConfig = (overrides: Record<string, string> = {}): Config =>
  loadConfig({ ...process.env, NODE_ENV: "test", ...overrides })

/** A logger that keeps tests quiet unless TEST_LOG=debug is set. */
export const testLogger = (name = "test") =>
  createLogger(name, (process.env.TEST_LOG as "debug" | undefined) ?? "error")

export type TestDatabase = { sql: Sql; url: string; name: string; drop: () => Promise<void> }

/** Creates a fresh database (migrated unless `migrated` is false) for one test file. */
export async function createTestDatabase(migrated = true): Promise<TestDatabase> {
  const base = testConfig().databaseUrl
  const name = uniqueName("t")
  const admin = postgres(base, { max: 1, onnotice: () => {} })
  await admin.unsafe(`CREATE DATABASE ${name}`)
  await admin.end()
  const url = new URL(base)
  url.pathname = `/${name}`
  const sql = postgres(url.toString(), { max: 10, onnotice: () => {} })
  if (migrated) await migrate(sql)
  return {
    sql,
    url: url.toString(),
    name,
    drop: async () => {
      await sql.end({ timeout: 5 })
      const again = postgres(base, { max: 1, onnotice: () => {} })
      await again.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await again.end()
    },
  }
}

/** Polls `check` until it returns a value that is not undefined, or fails after `ms`. */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, ms = 20_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + ms
  let lastError: unknown
  while (Date.now() < deadline) {
    try {
      const value = await check()
      if (value !== undefined) return value
    } catch (error) {
      lastError = error
    }
    await Bun.sleep(50)
  }
  throw new Error(`timed out after ${ms}ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ""}`)
}

/** A loopback port the kernel just handed out and is free again (a random pick could hit one another connection holds). */
export const freePort = (): number => {
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } })
  const { port } = probe
  probe.stop(true)
  return port
}

/** A redis-server of one test's own, which the test may stop and start again (its data kept on disk). */
export type ScratchRedis = { url: string; start: () => Promise<void>; stop: () => Promise<void>; close: () => Promise<void> }

/**
 * Starts a Redis on a free port with append-only persistence in a temporary folder, so that a
 * stop and start keeps its data. A Redis that does not come up fails loudly with its own output.
 */
export async function startScratchRedis(): Promise<ScratchRedis> {
  const port = freePort()
  const dir = mkdtempSync(join(tmpdir(), "scratch-redis-"))
  const url = `redis://127.0.0.1:${port}`
  let proc: Bun.Subprocess<"ignore", "pipe", "pipe"> | undefined
  const start = async () => {
    proc = Bun.spawn(["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "yes"], {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    })
    const answers = async () => {
      const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
      client.on("error", () => {})
      try {
        await client.connect()
        return (await client.ping()) === "PONG"
      } catch {
        return false
      } finally {
        client.disconnect()
      }
    }
    for (let i = 0; !(await answers()); i++) {
      if (proc.exitCode !== null) throw new Error(`redis-server on :${port} exited: ${await new Response(proc.stdout).text()}`)
      if (i >= 300) throw new Error(`redis-server on :${port} did not answer within 15 s`)
      await Bun.sleep(50)
    }
  }
  const stop = async () => {
    proc?.kill("SIGTERM")
    await proc?.exited
  }
  const close = async () => {
    await stop()
    rmSync(dir, { recursive: true, force: true })
  }
  await start()
  return { url, start, stop, close }
}

/**
 * The environment of a gateway and reserver of a test's own on the local services: its database,
 * data folder and ports, and a Redis prefix, command topic and consumer group no other test uses.
 */
export function isolatedStackEnv(options: { dataDir: string; databaseUrl: string; gatewayPort: number; metricsPort: number }): Record<string, string> {
  const topic = uniqueName("stack")
  return {
    NODE_ENV: "test",
    DATA_DIR: options.dataDir,
    DATABASE_URL: options.databaseUrl,
    REDIS_PREFIX: uniqueName("t"),
    COMMAND_TOPIC: topic,
    DEAD_LETTER_TOPIC: `${topic}.dlq`,
    RESERVER_GROUP_ID: uniqueName("group"),
    COMMAND_PARTITIONS: "2",
    PORT: String(options.gatewayPort),
    METRICS_PORT: String(options.metricsPort),
    LOG_LEVEL: "warn",
  }
}
