// Helpers for *.int.test.ts files: isolation by unique names on the real local services.
import postgres, { type Sql } from "postgres"
import { loadConfig, type Config } from "./config.ts"
import { migrate } from "./db/migrate.ts"
import { createLogger } from "./log.ts"

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
