// A real Prometheus, loading alerts.yml, scrapes a gateway and a reserver started as processes on
// the local services: every metric the rules read is one the processes expose, nothing fires
// while both run, and a reserver killed with -9 fires TicketingProcessDown. The rules' `for`
// durations are cut to 2 s here (their timing is promtool's test, alerts.test.yml).
import { afterAll, beforeAll, expect, test } from "bun:test"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parse } from "yaml"
import { createTestDatabase, eventually, freePort, isolatedStackEnv, type TestDatabase } from "../../testing/helpers.ts"
import { prometheusConfig } from "./prometheus-config.ts"

const root = join(import.meta.dir, "..", "..")
const dir = mkdtempSync(join(tmpdir(), "prometheus-int-"))
const rules = parse(readFileSync(join(import.meta.dir, "alerts.yml"), "utf8")) as { groups: { rules: { alert: string; expr: string; for?: string }[] }[] }
const ports = { gateway: freePort(), reserver: freePort(), prometheus: freePort() }
const spawned: ReturnType<typeof Bun.spawn>[] = []
let db: TestDatabase

const spawn = (command: string[], env: Record<string, string> = {}) => {
  const proc = Bun.spawn(command, { cwd: root, env: { ...process.env, ...env }, stdout: "ignore", stderr: "ignore" })
  spawned.push(proc)
  return proc
}
const get = (url: string) => fetch(url, { signal: AbortSignal.timeout(2_000) })
const ok = (url: string) => get(url).then((r) => r.ok, () => false)
type Alert = { labels: Record<string, string>; state: "pending" | "firing" }
const alerts = async (): Promise<Alert[]> => ((await (await get(`http://127.0.0.1:${ports.prometheus}/api/v1/alerts`)).json()) as { data: { alerts: Alert[] } }).data.alerts

let reserver: ReturnType<typeof Bun.spawn>

beforeAll(async () => {
  db = await createTestDatabase()
  const env = isolatedStackEnv({ dataDir: dir, databaseUrl: db.url, gatewayPort: ports.gateway, metricsPort: ports.reserver })
  spawn([process.execPath, "gateway/main.ts"], env)
  reserver = spawn([process.execPath, "reserver/main.ts"], env)

  for (const group of rules.groups) for (const rule of group.rules) if (rule.for) rule.for = "2s"
  writeFileSync(join(dir, "alerts.json"), JSON.stringify(rules))
  const config = prometheusConfig({
    gateway: `127.0.0.1:${ports.gateway}`,
    reserver: `127.0.0.1:${ports.reserver}`,
    ruleFiles: [join(dir, "alerts.json")],
    intervalSeconds: 1,
  })
  writeFileSync(join(dir, "prometheus.json"), config)
  const prometheus = Bun.which("prometheus")
  if (!prometheus) throw new Error("prometheus is missing: apt-get install prometheus (npm test installs it when run as root)")
  spawn([prometheus, `--config.file=${join(dir, "prometheus.json")}`, `--storage.tsdb.path=${join(dir, "tsdb")}`, `--web.listen-address=127.0.0.1:${ports.prometheus}`, "--log.level=warn"])
  await eventually(async () => ((await ok(`http://127.0.0.1:${ports.gateway}/health`)) && (await ok(`http://127.0.0.1:${ports.reserver}/health`)) ? true : undefined), 45_000, "gateway and reserver healthy")
  await eventually(() => ok(`http://127.0.0.1:${ports.prometheus}/-/ready`).then((ready) => ready || undefined), 20_000, "prometheus ready")
})

afterAll(async () => {
  for (const proc of spawned) proc.kill("SIGKILL")
  await Promise.all(spawned.map((proc) => proc.exited))
  await db?.drop()
  rmSync(dir, { recursive: true, force: true })
})

test("every metric the rules read is exposed by the gateway or the reserver", async () => {
  const exposed = new Set<string>()
  for (const port of [ports.gateway, ports.reserver]) {
    const text = await (await get(`http://127.0.0.1:${port}/metrics`)).text()
    for (const [, name, type] of text.matchAll(/^# TYPE (\w+) (\w+)$/gm)) {
      exposed.add(name!)
      if (type === "histogram") for (const suffix of ["_bucket", "_sum", "_count"]) exposed.add(name + suffix)
    }
  }
  // What is left of an expression without label matchers, ranges, `by (...)` and function names.
  const namesIn = (expr: string) =>
    expr
      .replace(/\{[^}]*\}|\[[^\]]*\]|\bby \([^)]*\)/g, " ")
      .match(/\b[a-z_:][a-z0-9_:]*\b(?!\s*\()/g) ?? []
  // `up` is Prometheus's own series for each target.
  const metrics = new Set(rules.groups.flatMap((g) => g.rules.flatMap((r) => namesIn(r.expr))).filter((name) => name !== "and" && name !== "up"))
  expect([...metrics].sort()).toEqual([
    "dependency_up",
    "http_request_duration_seconds_bucket",
    "http_requests_total",
    "reserver_commands_total",
    "reserver_consumer_up",
    "reserver_decision_stall_seconds",
    "reserver_undecided_commands",
  ])
  for (const name of metrics) expect({ name, exposed: exposed.has(name) }).toEqual({ name, exposed: true })
})

test("both targets up and nothing firing; a reserver killed with -9 fires TicketingProcessDown", async () => {
  const targets = async () =>
    ((await (await get(`http://127.0.0.1:${ports.prometheus}/api/v1/targets`)).json()) as { data: { activeTargets: { labels: { job: string }; health: string }[] } }).data.activeTargets
  await eventually(async () => {
    const active = await targets()
    return active.length === 2 && active.every((t) => t.health === "up") ? true : undefined
  }, 15_000, "both targets scraped")
  // Two evaluations later, with everything healthy, no rule is even pending.
  await Bun.sleep(2_500)
  expect(await alerts()).toEqual([])

  reserver.kill("SIGKILL")
  const firing = await eventually(async () => (await alerts()).find((a) => a.labels.alertname === "TicketingProcessDown" && a.state === "firing"), 20_000, "TicketingProcessDown firing")
  expect(firing.labels).toMatchObject({ job: "ticketing-reserver", instance: `127.0.0.1:${ports.reserver}`, severity: "critical" })
  expect((await alerts()).filter((a) => a.labels.job === "ticketing-gateway")).toEqual([])
})
