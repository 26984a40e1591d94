// A real Prometheus, loading alerts.yml, scrapes a gateway and a reserver started as processes on
// the local services: every metric the rules and the Grafana dashboard read is one the processes
// expose, every dashboard query is one Prometheus evaluates, nothing fires while both run, and a
// reserver killed with -9 fires TicketingProcessDown. The rules' `for` durations are cut to 2 s
// here (their timing is promtool's test, alerts.test.yml).
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
type Panel = { title: string; targets?: { expr: string }[] }
const dashboard = JSON.parse(readFileSync(join(import.meta.dir, "grafana", "dashboards", "ticketing.json"), "utf8")) as { panels: Panel[] }
const dashboardQueries = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map(({ expr }) => ({ panel: panel.title, expr })))
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

/**
 * Every series name the two processes expose: each family their /metrics declares with `# TYPE`
 * (the process_* ones too: shared/metrics.ts writes them itself), and for a histogram only the
 * _bucket, _sum and _count series Prometheus stores for it.
 */
async function exposedNames(): Promise<Set<string>> {
  const exposed = new Set<string>()
  for (const port of [ports.gateway, ports.reserver]) {
    const text = await (await get(`http://127.0.0.1:${port}/metrics`)).text()
    for (const [, name, type] of text.matchAll(/^# TYPE (\w+) (\w+)$/gm)) {
      if (type === "histogram") for (const suffix of ["_bucket", "_sum", "_count"]) exposed.add(name + suffix)
      else exposed.add(name!)
    }
  }
  return exposed
}

// PromQL words that are not series names.
const KEYWORDS = new Set(["and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"])

/** The series names an expression reads: what is left without label matchers, ranges, `by (...)`, function names and keywords. */
const namesIn = (expr: string) =>
  (
    expr
      .replace(/\{[^}]*\}|\[[^\]]*\]|\b(by|without) \([^)]*\)/g, " ")
      .match(/\b[a-zA-Z_:][a-zA-Z0-9_:]*\b(?!\s*\()/g) ?? []
  ).filter((name) => !KEYWORDS.has(name))

test("every metric the rules read is exposed by the gateway or the reserver", async () => {
  const exposed = await exposedNames()
  // `up` is Prometheus's own series for each target.
  const metrics = new Set(rules.groups.flatMap((g) => g.rules.flatMap((r) => namesIn(r.expr))).filter((name) => name !== "up"))
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

test("every metric the Grafana dashboard queries is exposed, and Prometheus evaluates every query", async () => {
  const exposed = await exposedNames()
  const metrics = new Set(dashboardQueries.flatMap(({ expr }) => namesIn(expr)))
  // The list guards against the name scan finding nothing; every name on it must be exposed.
  expect([...metrics].sort()).toEqual([
    "dependency_up",
    "http_request_duration_seconds_bucket",
    "http_requests_total",
    "kafka_consumer_lag",
    "kafka_produce_batch_messages_bucket",
    "kafka_produce_batch_messages_count",
    "kafka_produce_batch_messages_sum",
    "kafka_produce_duration_seconds_bucket",
    "kafka_produced_messages_total",
    "live_updates_channels",
    "process_cpu_seconds_total",
    "process_heap_bytes",
    "process_resident_memory_bytes",
    "reserver_batch_duration_seconds_bucket",
    "reserver_batch_size_bucket",
    "reserver_batch_size_count",
    "reserver_batch_size_sum",
    "reserver_commands_total",
    "reserver_consumer_restarts_total",
    "reserver_consumer_up",
    "reserver_decision_stall_seconds",
    "reserver_expiries_total",
    "reserver_expiry_lag_seconds_bucket",
    "reserver_live_holds",
    "reserver_undecided_commands",
    "sse_event_feeds",
    "sse_streams_open",
    "waiting_room_admitted",
    "waiting_room_streams",
    "waiting_room_waiting",
  ])
  const missing = [...metrics].filter((name) => !exposed.has(name))
  expect(missing).toEqual([])
  // Grafana replaces $__rate_interval with a range of at least four scrapes.
  const failed: { panel: string; expr: string; error: string }[] = []
  for (const { panel, expr } of dashboardQueries) {
    const url = `http://127.0.0.1:${ports.prometheus}/api/v1/query?query=${encodeURIComponent(expr.replaceAll("$__rate_interval", "10s"))}`
    const answer = (await (await get(url)).json()) as { status: string; error?: string }
    if (answer.status !== "success") failed.push({ panel, expr, error: answer.error ?? answer.status })
  }
  expect(failed).toEqual([])
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
