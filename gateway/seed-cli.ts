// npm run seed [-- --reset]: seed users and event 1 into an empty database; --reset empties it first.
import { createRedis, createSql } from "../shared/clients.ts"
import { loadConfig } from "../shared/config.ts"
import { createLogger } from "../shared/log.ts"
import { redisKeys } from "../shared/redis-keys.ts"
import { resetData, seed } from "./seed.ts"

const args = process.argv.slice(2)
if (args.some((arg) => arg !== "--reset")) {
  console.error("usage: bun gateway/seed-cli.ts [--reset]")
  process.exit(2)
}
const config = loadConfig(process.env)
const say = (line: string) => console.log(`[seed] ${line}`)
const sql = createSql(config, 2)
const redis = createRedis(config.redisUrl)
const deps = { sql, redis, keys: redisKeys(config.redisPrefix), log: createLogger("seed", config.logLevel), seats: config.seats, config }
try {
  if (args.includes("--reset")) say(`reset: tables emptied, ${await resetData(deps)} Redis keys deleted`)
  await seed(deps, say)
} catch (error) {
  console.error(`[seed] failed: ${(error as Error).message}`)
  process.exitCode = 1
} finally {
  await Promise.allSettled([sql.end({ timeout: 5 }), redis.quit()])
}
