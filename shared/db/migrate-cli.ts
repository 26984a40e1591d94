import postgres from "postgres"
import { loadConfig } from "../config.ts"
import { migrate } from "./migrate.ts"

const config = loadConfig(process.env)
const sql = postgres(config.databaseUrl, { max: 1, onnotice: () => {} })
try {
  const ran = await migrate(sql)
  console.log(ran.length ? `[migrate] applied ${ran.join(", ")}` : "[migrate] schema up to date")
} catch (error) {
  console.error(`[migrate] failed: ${(error as Error).message}`)
  process.exitCode = 1
} finally {
  await sql.end()
}
