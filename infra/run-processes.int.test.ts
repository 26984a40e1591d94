// `npm start`'s runner with the real gateway and reserver on the local services: a reserver
// killed with -9 (found by its pid file, as an operator would) comes back by itself while the
// gateway keeps answering, and SIGTERM leaves nothing running.
import { afterAll, beforeAll, expect, test } from "bun:test"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createTestDatabase, eventually, freePort, isolatedStackEnv, type TestDatabase } from "../testing/helpers.ts"

const runner = join(import.meta.dir, "run-processes.ts")
const dataDir = mkdtempSync(join(tmpdir(), "run-processes-int-"))
let db: TestDatabase

beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(async () => {
  await db.drop()
  rmSync(dataDir, { recursive: true, force: true })
})

const pidOf = (name: string) => {
  const file = join(dataDir, "run", `${name}.pid`)
  return existsSync(file) ? Number(readFileSync(file, "utf8")) : undefined
}
const status = (url: string) => fetch(url, { signal: AbortSignal.timeout(2_000) }).then((r) => r.status, () => 0)

test("a reserver killed with -9 is restarted while the gateway keeps answering; SIGTERM stops both and exits 0", async () => {
  const port = freePort()
  const metricsPort = freePort()
  const proc = Bun.spawn([process.execPath, runner], {
    env: { ...process.env, ...isolatedStackEnv({ dataDir, databaseUrl: db.url, gatewayPort: port, metricsPort }) },
    stdout: "ignore",
    stderr: "pipe",
  })
  let stderr = ""
  const drained = (async () => {
    for await (const chunk of proc.stderr) stderr += new TextDecoder().decode(chunk)
  })()
  const gatewayHealth = `http://127.0.0.1:${port}/health`
  const reserverHealth = `http://127.0.0.1:${metricsPort}/health`
  try {
    await eventually(async () => ((await status(gatewayHealth)) === 200 && (await status(reserverHealth)) === 200 ? true : undefined), 60_000, "both healthy")
    const gateway = pidOf("gateway")!
    const reserver = pidOf("reserver")!

    process.kill(reserver, "SIGKILL")
    const gatewayAnswers: number[] = []
    const restarted = await eventually(async () => {
      gatewayAnswers.push(await status(gatewayHealth))
      const pid = pidOf("reserver")
      return pid !== undefined && pid !== reserver && (await status(reserverHealth)) === 200 ? pid : undefined
    }, 60_000, "reserver restarted and healthy")
    expect(restarted).not.toBe(reserver)
    expect(pidOf("gateway")).toBe(gateway)
    expect(gatewayAnswers.length).toBeGreaterThan(0)
    expect(gatewayAnswers.filter((s) => s !== 200)).toEqual([])
    expect(stderr).toContain("reserver exited (signal SIGKILL)")

    proc.kill("SIGTERM")
    expect(await proc.exited).toBe(0)
    await drained
    for (const pid of [gateway, restarted]) expect(() => process.kill(pid, 0)).toThrow()
    expect(pidOf("gateway")).toBeUndefined()
    expect(pidOf("reserver")).toBeUndefined()
  } finally {
    if (proc.exitCode === null) {
      proc.kill("SIGTERM")
      await proc.exited
    }
  }
}, 120_000)
