import { createHash } from "node:crypto"
import { readdir } from "node:fs/promises"
import { join } from "node:path"
import type { Sql } from "postgres"

/** Folder of the versioned SQL migrations, applied in file-name order. */
export const migrationsDir = join(import.meta.dir, "migrations")

// Any constant works; it keeps two processes from migrating one database at once.
const MIGRATION_LOCK = 7_426_913

export type Migration = { version: string; name: string; sql: string; checksum: string }

/** Reads the migration files (`NNNN_name.sql`) in version order. */
export async function readMigrations(dir = migrationsDir): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f)).sort()
  return Promise.all(
    files.map(async (file) => {
      const sql = await Bun.file(join(dir, file)).text()
      return {
        version: file.slice(0, 4),
        name: file.slice(5, -4),
        sql,
        checksum: createHash("sha256").update(sql).digest("hex"),
      }
    }),
  )
}

/**
 * Applies the migrations not yet recorded in `schema_migrations`, all in one
 * transaction under an advisory lock, and returns the versions it applied (empty
 * when up to date).
 * A recorded migration whose file changed is an error, not a silent skip.
 */
export async function migrate(sql: Sql, dir = migrationsDir): Promise<string[]> {
  const migrations = await readMigrations(dir)
  return sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`
    await tx`
      CREATE TABLE IF NOT EXISTS schema_migrations (
        version    text PRIMARY KEY,
        name       text NOT NULL,
        checksum   text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`
    const applied = new Map<string, string>()
    for (const row of await tx<{ version: string; checksum: string }[]>`SELECT version, checksum FROM schema_migrations`) {
      applied.set(row.version, row.checksum)
    }
    const ran: string[] = []
    for (const m of migrations) {
      const checksum = applied.get(m.version)
      if (checksum !== undefined) {
        if (checksum !== m.checksum) {
          throw new Error(`migration ${m.version}_${m.name} changed after it was applied; add a new migration instead`)
        }
        continue
      }
      await tx.unsafe(m.sql)
      await tx`INSERT INTO schema_migrations (version, name, checksum) VALUES (${m.version}, ${m.name}, ${m.checksum})`
      ran.push(m.version)
    }
    return ran
  })
}
