import { afterEach, expect, test } from "bun:test"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createRedis } from "../shared/clients.ts"
import { redisKeys } from "../shared/redis-keys.ts"
import { createTestDatabase, freePort, testConfig, uniqueName } from "../testing/helpers.ts"
import { defaultPlan, runFault, type Fault, type LoadPlan, type Target } from "./run-fault.ts"
import { isAlive, runServices, servicePid, startSupervisor, waitForHealth } from "./supervised-stack.ts"

// The two faults that hurt most (issue #11), each on a stack of its own: the gateway and the
// reserver under npm start's supervisor, on a fresh database, Redis prefix, topic and group, with
// a temporary DATA_DIR for their pid files. A few seconds of load each; the fault at 2 s.
const plan: LoadPlan = {
  ...defaultPlan,
  rate: 150,
  seconds: 6,
  tail: 3,
  faultAt: 2,
  outage: 1,
  maxSeconds: 45,
  connections: 16,
  buyers: 3,
  decideTimeout: 45,
}

const cleanups: (() => Promise<unknown> | unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await Promise.resolve(cleanup()).catch(() => {})
})

const tail = (file: string) => (existsSync(file) ? readFileSync(file, "utf8").split("\n").slice(-30).join("\n") : "(no output)")

// A port below the ephemeral range (see infra/env.sh): a restarted broker must be able to bind it again.
const lowFreePort = (): number => {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000)
    try {
      Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } }).stop(true)
      return port
    } catch {
      // taken; try another
    }
  }
}

/**
 * A Kafka of the test's own through `infra/services.sh start` under a temporary DATA_DIR (PostgreSQL
 * and Redis are found running on their usual ports and left alone), reusing the checkout's Kafka jars.
 */
async function startScratchKafka(dataDir: string, env: Record<string, string | undefined>) {
  const jars = join(testConfig().dataDir, "kafka")
  mkdirSync(join(dataDir, "kafka"), { recursive: true })
  // The jars, and the class archive services.sh keeps for faster starts (see kafka_archive there).
  const shared = existsSync(jars) ? readdirSync(jars).filter((name) => name.startsWith("libs-") || /^classes-.*\.jsa$/.test(name)) : []
  for (const name of shared) symlinkSync(join(jars, name), join(dataDir, "kafka", name))
  const log = join(dataDir, "services.log")
  cleanups.push(async () => {
    const pid = servicePid(dataDir, "kafka")
    if (pid === undefined) return
    process.kill(pid, "SIGTERM")
    for (let i = 0; i < 200 && isAlive(pid); i++) await Bun.sleep(100)
    if (isAlive(pid)) process.kill(pid, "SIGKILL")
  })
  if ((await runServices("start", env, log)) !== 0) throw new Error(`the scratch Kafka did not start:\n${tail(log)}`)
}

/** A supervised gateway and reserver of this test's own, and the fault suite's view of them. */
async function startStack(options: { scratchKafka: boolean }): Promise<Target> {
  const dataDir = mkdtempSync(join(tmpdir(), "chaos-test-"))
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }))
  const db = await createTestDatabase()
  cleanups.push(() => db.drop())
  const config = testConfig()
  const prefix = uniqueName("chaos")
  const kafka = options.scratchKafka ? { KAFKA_PORT: String(lowFreePort()), KAFKA_CONTROLLER_PORT: String(lowFreePort()), KAFKA_HEAP: "384m" } : {}
  const env: Record<string, string | undefined> = {
    ...process.env,
    ...kafka,
    DATA_DIR: dataDir,
    PG_PORT: new URL(config.databaseUrl).port,
    REDIS_PORT: new URL(config.redisUrl).port,
    DATABASE_URL: db.url,
    REDIS_PREFIX: prefix,
    KAFKA_BROKERS: kafka.KAFKA_PORT ? `127.0.0.1:${kafka.KAFKA_PORT}` : config.kafkaBrokers.join(","),
    COMMAND_TOPIC: uniqueName("chaos-cmd"),
    COMMAND_PARTITIONS: "4",
    RESERVER_GROUP_ID: uniqueName("chaos-reserver"),
    PORT: String(freePort()),
    METRICS_PORT: String(freePort()),
    LOG_LEVEL: "warn",
    OTEL_SDK_DISABLED: "true",
  }
  if (options.scratchKafka) await startScratchKafka(dataDir, env)
  const processesLog = join(dataDir, "processes.log")
  const supervisor = startSupervisor(env, processesLog)
  cleanups.push(() => supervisor.stop())
  const baseUrl = `http://127.0.0.1:${env.PORT}`
  if (!(await waitForHealth(baseUrl, 30_000))) throw new Error(`the gateway did not become healthy:\n${tail(processesLog)}`)
  const redis = createRedis(config.redisUrl)
  redis.on("error", () => {})
  const keys = redisKeys(prefix)
  cleanups.push(async () => {
    const stale = await redis.keys(keys.all)
    if (stale.length > 0) await redis.del(...stale)
    redis.disconnect()
  })
  return {
    baseUrl,
    dataDir,
    env,
    stores: { sql: db.sql, redis, keys },
    supervisorPid: () => supervisor.pid,
    servicesLog: join(dataDir, "services.log"),
    say: process.env.TEST_LOG === "debug" ? (line) => console.log(`[chaos] ${line}`) : () => {},
    stackDown: () => (supervisor.running() ? undefined : `the supervisor exited:\n${tail(processesLog)}`),
  }
}

// Runs the fault on a stack of its own and expects every promise of the suite kept (run-fault.ts lists them).
const expectFaultSurvived = async (fault: Fault, options: { scratchKafka: boolean }) => {
  const run = await runFault(await startStack(options), fault, plan)
  expect(run.accepted).toBeGreaterThan(100)
  expect(run.problems).toEqual([])
  expect(run.decided).toBe(run.accepted)
}

test("a reserver killed with -9 mid-load is restarted, and every 202 is decided exactly once", () =>
  expectFaultSurvived("reserver", { scratchKafka: false }), 150_000)

// A Kafka of its own: killing the shared one would disturb the test files that run after this one.
test("Kafka killed with -9 mid-load and restarted by services.sh: decisions resume, and every 202 is decided exactly once", () =>
  expectFaultSurvived("kafka", { scratchKafka: true }), 180_000)
