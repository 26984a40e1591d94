// The fault suite of issue #11: under a bounded booking load, kill -9 one component (the gateway,
// the reserver, Kafka, Redis or PostgreSQL), let the supervisor or `services.sh start` restore
// it, wait until every 202 is decided, and audit. One table row per run, a report under
// bench/results/, exit code 1 when any run broke a promise.
//
//   npm run chaos -- <gateway|reserver|kafka|redis|postgres|all> [--runs N] [--rate 400] [--seconds 20]
//                    [--fault-at 8] [--outage 4] [--decide-timeout 120]
//
// It starts the services, migrates, and runs `bun infra/run-processes.ts` (npm start's supervisor)
// as its own child, unless a gateway already answers on PORT (then it uses that stack).
import { mkdirSync } from "node:fs"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { resultsDir, table, writeReport } from "./report.ts"
import { defaultPlan, FAULTS, runFault, type Fault, type FaultRun, type LoadPlan, type Target } from "./run-fault.ts"
import { baseUrl, config, machine, openStores, root, say } from "./stack.ts"
import { runServices, startSupervisor, waitForHealth, type Supervisor } from "./supervised-stack.ts"

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    runs: { type: "string", default: "1" },
    rate: { type: "string", default: String(defaultPlan.rate) },
    seconds: { type: "string", default: String(defaultPlan.seconds) },
    "fault-at": { type: "string", default: String(defaultPlan.faultAt) },
    outage: { type: "string", default: String(defaultPlan.outage) },
    "decide-timeout": { type: "string", default: String(defaultPlan.decideTimeout) },
  },
})
const choice = positionals[0]
const runs = Number(args.runs)
if (positionals.length !== 1 || !(choice === "all" || FAULTS.includes(choice as Fault)) || !(runs >= 1)) {
  console.error(`usage: npm run chaos -- <${FAULTS.join("|")}|all> [--runs N] [--rate R] [--seconds S] [--fault-at S] [--outage S] [--decide-timeout S]`)
  process.exit(2)
}
const plan: LoadPlan = {
  ...defaultPlan,
  rate: Number(args.rate),
  seconds: Number(args.seconds),
  faultAt: Number(args["fault-at"]),
  outage: Number(args.outage),
  decideTimeout: Number(args["decide-timeout"]),
}
for (const [name, value] of Object.entries(plan)) {
  if (!Number.isFinite(value) || value < 0) {
    console.error(`[chaos] ${name} must be a number of at least 0, got ${value}`)
    process.exit(2)
  }
}
// `all`: each fault once (or --runs times), Kafka at least five times in a row: it failed one restart in five.
const schedule: Fault[] =
  choice === "all"
    ? FAULTS.flatMap((fault) => Array<Fault>(fault === "kafka" ? Math.max(5, runs) : runs).fill(fault))
    : Array<Fault>(runs).fill(choice as Fault)

mkdirSync(resultsDir, { recursive: true })
const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19)
const processesLog = join(resultsDir, `chaos-processes-${stamp}.log`)
const servicesLog = join(resultsDir, `chaos-services-${stamp}.log`)
const env = { ...process.env }

const run = async (argv: string[]) => (await Bun.spawn(argv, { env, stdout: "inherit", stderr: "inherit" }).exited) === 0
say("services: bash infra/services.sh start")
if (!(await run(["bash", join(root, "infra/services.sh"), "start"]))) process.exit(1)
if (!(await run([process.execPath, join(root, "shared/db/migrate-cli.ts")]))) process.exit(1)

let supervisor: Supervisor | undefined
const ownStack = !(await waitForHealth(baseUrl, 1_000))
const startProcesses = async () => {
  supervisor = startSupervisor(env, processesLog)
  say(`processes: bun infra/run-processes.ts (pid ${supervisor.pid}), output in ${processesLog}`)
  if (!(await waitForHealth(baseUrl, 60_000))) say(`warning: the gateway at ${baseUrl} is not healthy 60 s after the start`)
}
if (ownStack) await startProcesses()
else say(`processes: using the stack that already answers at ${baseUrl} (its supervisor is not this script's child)`)
const stopProcesses = async () => {
  await supervisor?.stop()
  supervisor = undefined
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => void stopProcesses().then(() => process.exit(130)))
}

const stores = openStores()
// Redis is killed on purpose; its reconnect errors are expected and the audit reads it once it is back.
stores.redis.on("error", () => {})
const target: Target = {
  baseUrl,
  dataDir: config.dataDir,
  env,
  stores,
  supervisorPid: () => supervisor?.pid,
  servicesLog,
  say,
  stackDown: () => (ownStack && !supervisor?.running() ? `the supervisor (bun infra/run-processes.ts) exited; see ${processesLog}` : undefined),
}
const reserverHealth = async () => {
  const res = await fetch(`http://127.0.0.1:${config.metricsPort}/health`, { signal: AbortSignal.timeout(2_000) }).catch(() => undefined)
  return res ? `${res.status} ${await res.text()}` : "no answer"
}

const fmt = (n: number | undefined, digits = 1) => (n === undefined ? "never" : n.toFixed(digits))
const row = (i: number, r: FaultRun) => [
  i + 1,
  r.fault,
  r.accepted,
  r.decided,
  r.undecided,
  r.serverErrors,
  r.unavailable,
  fmt(r.recoverySeconds),
  r.problems.length === 0 ? "ok" : `${r.problems.length} problems`,
]
const header = ["run", "fault", "accepted", "decided", "undecided", "5xx (not 503)", "503", "recovery s", "audit"]

const results: FaultRun[] = []
const notes: string[][] = []
try {
  for (const [i, fault] of schedule.entries()) {
    const runNotes: string[] = []
    // Each run starts from a whole stack, whatever the one before left behind.
    if ((await runServices("start", env, servicesLog)) !== 0) runNotes.push("services.sh start failed before the run")
    if (ownStack && !supervisor?.running()) {
      runNotes.push("the supervisor had exited; started again before the run")
      await startProcesses()
    }
    if (!(await waitForHealth(baseUrl, 60_000))) runNotes.push(`the gateway was not healthy 60 s before the run`)
    say(`run ${i + 1}/${schedule.length}: ${fault}`)
    const result = await runFault(target, fault, plan)
    if (result.undecided > 0) {
      runNotes.push(`reserver /health after the wait: ${await reserverHealth()}`)
      // A stalled reserver would stall every later run too; restart the processes as an operator would.
      if (ownStack) {
        runNotes.push("processes restarted after this run to clear the stall (by the suite, as an operator would)")
        await stopProcesses()
        await startProcesses()
      }
    }
    results.push(result)
    notes.push(runNotes)
    console.log(`[chaos] ${table(header, [row(i, result)]).split("\n")[2]}`)
    for (const problem of result.problems.slice(0, 5)) console.log(`[chaos]     problem: ${problem}`)
    for (const note of runNotes) console.log(`[chaos]     note: ${note}`)
  }
} finally {
  await stopProcesses()
  await stores.close()
}

const failedRuns = results.filter((r) => r.problems.length > 0).length
const statusText = (s: Record<string, number>) => Object.entries(s).map(([code, n]) => `${code === "0" ? "no answer" : code}: ${n}`).join(", ")
const details = results.map((r, i) =>
  [
    `### Run ${i + 1}: ${r.fault} (event ${r.eventId}, ${r.capacity.toLocaleString()} seats)`,
    table(
      ["measure", "value"],
      [
        ["load", `${r.loadSeconds.toFixed(1)} s, ${r.sent.toLocaleString()} requests sent, ${r.skipped} not sent (too many outstanding)`],
        ...Object.entries(r.statuses).map(([route, s]): [string, string] => [route, statusText(s)]),
        ["booking answer ms", `p50 ${r.latency.p50.toFixed(1)}, p99 ${r.latency.p99.toFixed(1)}, max ${r.latency.max.toFixed(0)}`],
        ["error answers", Object.entries(r.errorDetails).sort(([, a], [, b]) => b - a).map(([what, n]) => `${n} × ${what}`).join("; ") || "none"],
        ["accepted → decided", `${r.accepted} → ${r.decided} (${r.reserved} pending_payment, ${r.failed} failed), ${r.undecided} undecided`],
        ["decided with no 202 seen", String(r.unanswered)],
        ["503 without Retry-After / error answers without JSON detail", `${r.missingRetryAfter} / ${r.missingDetail}`],
        ["requests with no answer (timeouts / connection errors)", `${r.timeouts} / ${r.connectionErrors}`],
        ["restore", r.restoreSeconds === undefined ? "not seen" : `${r.restoreSeconds.toFixed(1)} s after the kill (${r.fault === "gateway" || r.fault === "reserver" ? "restarted process seen" : "services.sh start finished"})`],
        [`recovery (from the ${r.recoveryFrom})`, `${fmt(r.recoverySeconds)} s (first 202 after it: ${fmt(r.firstAccepted)} s)`],
        ...(r.resumedAfterRestore === undefined ? [] : [["first decision after the restore command ended", `${fmt(r.resumedAfterRestore)} s`]]),
        ["decided bookings still holding a processing record in Redis", String(r.leftoverRecords)],
      ],
    ),
    [...r.problems.map((p) => `- problem: ${p}`), ...notes[i]!.map((n) => `- note: ${n}`)].join("\n"),
  ].join("\n\n"),
)
const markdown = [
  `# Fault suite (${choice}), ${new Date().toISOString()}`,
  `Machine: ${machine()}. Gateway, reserver, Kafka, PostgreSQL, Redis and the load generator share it.`,
  `Command: \`npm run chaos -- ${process.argv.slice(2).join(" ")}\`; git ${(await Bun.$`git -C ${root} rev-parse --short HEAD`.nothrow().text()).trim()}.`,
  `Load per run: a fresh event of 12 subsections, ${plan.buyers} buyers, ${plan.rate} req/s for ${plan.seconds} s or more ` +
    `(until ${plan.tail} s after the restore), ${Math.round(plan.readShare * 100)}% reads of accepted bookings, ` +
    `${Math.round(plan.manualShare * 100)}% of bookings manual (1-2 named seats, may collide and fail), the rest best_available of 1-4 seats. ` +
    `The fault at ${plan.faultAt} s: kill -9 of the gateway or reserver (the supervisor restarts it), or of Kafka, Redis or PostgreSQL, ` +
    `restored ${plan.outage} s later with \`bash infra/services.sh start\`.`,
  `A run passes when every accepted booking is decided (one bookings row each, within ${plan.decideTimeout} s after the load), ` +
    `auditEvent finds no disagreement between PostgreSQL and Redis and no seat in two live bookings, no answer is a 5xx other than 503, ` +
    `every 503 has Retry-After, every error answer has a JSON \`detail\`, no request goes unanswered for ${plan.requestTimeout} s ` +
    `(refused connections count only outside the gateway fault), and decisions resume within ${plan.recoveryLimit} s.`,
  `**Recovery** is the time from the kill -9 (gateway, reserver) or from the start of the restore command (Kafka, Redis, PostgreSQL) ` +
    `until the reserver decided the first booking whose request was sent after that moment (its \`bookings.updated_at\`, the ` +
    `deciding transaction's start). It covers the restart, the rebalance or reconnection, and the first decision.`,
  `**${results.length - failedRuns} of ${results.length} runs passed.**`,
  table(header, results.map((r, i) => row(i, r))),
  "## Runs",
  ...details,
  `Process output: \`${processesLog}\`; restore commands: \`${servicesLog}\`.`,
].join("\n\n")
const path = await writeReport(`chaos-${choice}`, markdown)
console.log(["", table(header, results.map((r, i) => row(i, r))), "", `${results.length - failedRuns} of ${results.length} runs passed`, `report: ${path}`].join("\n"))
process.exit(failedRuns > 0 ? 1 : 0)
