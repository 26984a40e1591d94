import { randomBytes } from "node:crypto"
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import type { Config } from "../shared/config.ts"

/**
 * The JWT signing secret: the configured one, or in development and tests one generated
 * once into the data folder, so restarts keep sessions valid.
 */
export function resolveJwtSecret(config: Config): string {
  if (config.jwtSecret) return config.jwtSecret
  const file = join(config.dataDir, "jwt-secret")
  try {
    return readFileSync(file, "utf8").trim()
  } catch {
    mkdirSync(config.dataDir, { recursive: true })
    const secret = randomBytes(48).toString("base64url")
    // "wx" fails if another process created the file first; then its secret wins.
    try {
      writeFileSync(file, secret + "\n", { mode: 0o600, flag: "wx" })
    } catch {
      return readFileSync(file, "utf8").trim()
    }
    return secret
  }
}
