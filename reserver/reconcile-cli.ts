// npm run reconcile -- <event id>... | --all: rebuilds events' Redis seat maps and free-seat
// counters from PostgreSQL, the source of truth (after a Redis restored from an old snapshot,
// say). Safe beside a running reserver: a decision made on a map this overwrites is checked
// by the guarded ticket update, and a rejected one makes the reserver reload that subsection.
import { createRedis, createSql } from "../shared/clients.ts"
import { loadConfig } from "../shared/config.ts"
import { redisKeys } from "../shared/redis-keys.ts"
import { reconcileEvent } from "./seat-state.ts"

const args = process.argv.slice(2)
const all = args.length === 1 && args[0] === "--all"
const ids = all ? [] : args.map(Number)
if (args.length === 0 || (!all && ids.some((id) => !Number.isSafeInteger(id) || id < 1))) {
  console.error("usage: bun reserver/reconcile-cli.ts <event id>... | --all")
  process.exit(2)
}
const config = loadConfig(process.env)
const say = (line: string) => console.log(`[reconcile] ${line}`)
const sql = createSql(config, 2)
const redis = createRedis(config.redisUrl)
const deps = { sql, redis, keys: redisKeys(config.redisPrefix) }
try {
  const events = all
    ? (await sql<{ id: string }[]>`SELECT id FROM events WHERE status IN ('available', 'sold_out') ORDER BY id`).map((e) => Number(e.id))
    : ids
  if (events.length === 0) say("no available or sold-out events")
  for (const id of events) {
    const started = performance.now()
    const subsections = await reconcileEvent(deps, id)
    if (subsections === 0) {
      console.error(`[reconcile] event ${id} has no seats in PostgreSQL`)
      process.exitCode = 1
      continue
    }
    say(`event ${id}: ${subsections} subsections rebuilt from PostgreSQL in ${Math.round(performance.now() - started)} ms`)
  }
} catch (error) {
  console.error(`[reconcile] failed: ${(error as Error).message}`)
  process.exitCode = 1
} finally {
  await Promise.allSettled([sql.end({ timeout: 5 }), redis.quit()])
}
