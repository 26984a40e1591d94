// The same gateway on Bun, Deno and Node, one after the other in one run, against the same stack and the
// same load generator: the booking route's sustained ceiling (p99 within the limit, no errors) and the
// gateway's CPU per accepted booking at that rate, then each runtime's bare route (bench/bare-server.ts)
// as the reference. Each server runs alone in a process of its own, its CPU read from /proc, so the load
// generator's CPU is not counted. Prints a markdown table and writes the report to bench/results/.
//
//   npm start                      # in another shell: services, reserver, seed (its Bun gateway stays idle)
//   npm run bench:runtimes -- [--runtimes bun,deno,node] [--rates 500,1000,...] [--duration 10] [--seats 1m]
//                             [--p99-limit 50] [--ceiling-steps 4] [--warmup 5] [--port 8240]
import { mkdirSync } from "node:fs"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { buildNodeBundle } from "../profiles/node/bundle.ts"
import { rampAndCeiling, rampFrom, rampOptions, type Step } from "./ceiling.ts"
import { cpuTicks } from "./process-cpu.ts"
import { table, writeReport } from "./report.ts"
import { bookingBody, config, login, machine, openStores, readEvent, requireStack, reseed, reserverLag, root, say, waitForDrain } from "./stack.ts"

const { values: args } = parseArgs({
  options: {
    ...rampOptions,
    runtimes: { type: "string", default: "bun,deno,node" },
    port: { type: "string", default: "8240" },
  },
})
type Runtime = "bun" | "deno" | "node"
const runtimes = args.runtimes.split(",") as Runtime[]
for (const name of runtimes) if (!["bun", "deno", "node"].includes(name)) throw new Error(`unknown runtime ${name}; use bun, deno or node`)
const ramp = rampFrom(args)
const port = Number(args.port)
const deno = join(root, "node_modules/.bin/deno")
const buildDir = join(root, "profiles/out/runtimes-build")

/** The bare route bundled for Node 20, which runs no TypeScript. */
async function bareNodeBundle(): Promise<string> {
  mkdirSync(buildDir, { recursive: true })
  const built = await Bun.build({ entrypoints: [join(root, "bench/bare-server.ts")], target: "node", outdir: buildDir })
  if (!built.success) throw new Error(`bun build of bench/bare-server.ts failed: ${built.logs.join("\n")}`)
  return join(buildDir, "bare-server.js")
}

/** The command that serves the gateway (the same gateway/start-gateway.ts) on `runtime`. */
async function gatewayCommand(runtime: Runtime): Promise<string[]> {
  if (runtime === "bun") return [process.execPath, join(root, "gateway/main.ts")]
  if (runtime === "deno") return ["bash", join(root, "infra/gateway-deno.sh")]
  return ["node", await buildNodeBundle(join(buildDir, "gateway"))]
}

/** The command that serves the bare route on `runtime`, on `at`. */
async function bareCommand(runtime: Runtime, at: number): Promise<string[]> {
  if (runtime === "bun") return [process.execPath, join(root, "bench/bare-server.ts"), String(at)]
  if (runtime === "deno") return [deno, "run", "--no-lock", "--allow-net", "--allow-env", join(root, "bench/bare-server.ts"), String(at)]
  return ["node", await bareNodeBundle(), String(at)]
}

/** Starts `command`, waits until `ready` answers, and hands back the process. */
async function start(command: string[], ready: () => Promise<boolean>, label: string) {
  // DATA_DIR: the Node bundle cannot find the stack's data folder (and its JWT secret) by itself.
  const child = Bun.spawn(command, { cwd: root, env: { ...process.env, PORT: String(port), LOG_LEVEL: "warn", DATA_DIR: config.dataDir }, stdout: "ignore", stderr: "inherit" })
  for (let i = 0; i < 600 && child.exitCode === null; i++) {
    if (await ready().catch(() => false)) return child
    await Bun.sleep(100)
  }
  child.kill("SIGKILL")
  throw new Error(`${label} did not come up (exit ${child.exitCode})`)
}

async function stop(child: ReturnType<typeof Bun.spawn>) {
  child.kill("SIGTERM")
  if ((await Promise.race([child.exited, Bun.sleep(20_000).then(() => "late")])) === "late") child.kill("SIGKILL")
  await child.exited
}

/** Reads the server's CPU before each step and records it after, beside the step's other hooks. */
const withCpu = (pid: number, before: (rate: number) => Promise<void>, after: (step: Step) => Promise<void>) => {
  let ticks = 0
  return {
    before: async (rate: number) => {
      await before(rate)
      ticks = cpuTicks(pid)
    },
    after: async (step: Step) => {
      // Clock ticks are 10 ms (process-cpu.ts).
      step.cpuSeconds = (cpuTicks(pid) - ticks) / 100
      await after(step)
    },
  }
}

/** CPU per 202 of the step at the ceiling, in milliseconds. */
const cpuPerAccepted = (step: Step | undefined) => {
  const accepted = step?.statuses["202"] ?? 0
  return step?.cpuSeconds !== undefined && accepted > 0 ? (step.cpuSeconds * 1000) / accepted : undefined
}

await requireStack()
await reseed(args.seats)
const event = await readEvent(1)
const capacity = event.rows * event.cols * event.sections.reduce((n, s) => n + s.subsections, 0)
const url = `http://127.0.0.1:${port}`
const stores = openStores()
const freeSeats = async () => (await stores.redis.hvals(stores.keys.available(1))).reduce((n, v) => n + Number(v), 0)
// Keeps the event from selling out mid-step, which would turn the step into one of the 400 path.
const refillIfNeeded = async (rate: number) => {
  const needed = rate * ramp.duration * 2.5 * 1.2
  if ((await freeSeats()) < needed) {
    if (needed > capacity) say(`a ${rate} req/s step needs more seats than the ${args.seats} config has; part of it will be answered 400`)
    await reseed(args.seats)
  }
}
// The reserver is shared by every runtime's run: each step waits until it has caught up, so no run pays for the last one's backlog.
const drain = async (step: Step) => {
  const atEnd = await reserverLag()
  const started = performance.now()
  await waitForDrain()
  step.backlog = { atEnd, drainSeconds: (performance.now() - started) / 1000 }
}

type Result = { runtime: Runtime; version: string; booking: Awaited<ReturnType<typeof rampAndCeiling>>; bare: Awaited<ReturnType<typeof rampAndCeiling>> }
const results: Result[] = []
const versionOf = async (command: string[]) => (await new Response(Bun.spawn(command, { stdout: "pipe" }).stdout).text()).split("\n")[0]!.trim()
const versions: Record<Runtime, () => Promise<string>> = {
  bun: async () => `Bun ${Bun.version}`,
  deno: async () => `Deno ${(await versionOf([deno, "--version"])).split(" ")[1]}`,
  node: async () => `Node ${await versionOf(["node", "--version"])}`,
}

for (const runtime of runtimes) {
  const version = await versions[runtime]()
  say(`${runtime}: the gateway (${version}) on :${port}`)
  const gateway = await start(await gatewayCommand(runtime), async () => (await fetch(`${url}/health`)).status === 200, `the gateway on ${runtime}`)
  let booking: Result["booking"]
  try {
    // A login through this gateway: argon2id on this runtime verifies the hash the Bun seed made.
    const cookie = await login(undefined, undefined, url)
    const hooks = withCpu(gateway.pid, refillIfNeeded, drain)
    booking = await rampAndCeiling(ramp, `${runtime} booking`, `${url}/api/booking`, { cookie }, () => bookingBody(event), hooks.before, hooks.after)
  } finally {
    await stop(gateway)
  }
  say(`${runtime}: the bare route (bench/bare-server.ts) on :${port}`)
  const server = await start(await bareCommand(runtime, port), async () => (await fetch(url, { method: "POST", body: "{}" })).status === 202, `the bare route on ${runtime}`)
  let bare: Result["bare"]
  try {
    const hooks = withCpu(server.pid, async () => {}, async () => {})
    bare = await rampAndCeiling(ramp, `${runtime} bare`, `${url}/api/booking`, {}, () => bookingBody(event), hooks.before, hooks.after)
  } finally {
    await stop(server)
  }
  results.push({ runtime, version, booking, bare })
}
await stores.close()

const ms = (value: number | undefined, digits: number) => (value === undefined ? "n/a" : value.toFixed(digits))
const summary = table(
  ["runtime", "booking ceiling req/s", "gateway CPU ms per accepted booking", "bare ceiling req/s", "bare CPU µs per request", "booking / bare"],
  results.map(({ version, booking, bare }) => [
    version,
    booking.ceiling,
    ms(cpuPerAccepted(booking.atCeiling), 3),
    bare.ceiling,
    ms(cpuPerAccepted(bare.atCeiling) === undefined ? undefined : cpuPerAccepted(bare.atCeiling)! * 1000, 1),
    bare.ceiling > 0 ? `${Math.round((booking.ceiling / bare.ceiling) * 100)}%` : "n/a",
  ]),
)
const stepRows = (steps: Step[]) =>
  steps.map((s) => [
    s.target,
    s.achieved,
    s.p50.toFixed(1),
    s.p99.toFixed(1),
    s.errors,
    Object.entries(s.statuses).map(([c, n]) => `${c}: ${n}`).join(", "),
    ms(s.cpuSeconds, 2),
    ms(cpuPerAccepted(s), 3),
  ])
const stepHeader = ["target req/s", "achieved req/s", "p50 ms", "p99 ms", "errors", "statuses", "server CPU s", "CPU ms per 202"]
const markdown = [
  `# Runtimes, ${new Date().toISOString()}`,
  `Machine: ${machine()}. The gateway, the reserver, Kafka, PostgreSQL, Redis and the load generator (autocannon, in this process) share it; one server under load at a time.`,
  `Command: \`npm run bench:runtimes -- ${process.argv.slice(2).join(" ")}\``,
  `Ceiling: the highest rate with p99 ≤ ${ramp.p99Limit} ms, no errors and the rate reached; CPU per accepted booking is the gateway process's CPU over the step at that rate divided by its 202s.`,
  summary,
  ...results.flatMap(({ version, booking, bare }) => [
    `## ${version}: booking route`,
    table(stepHeader, stepRows([...booking.steps, ...booking.ceilingSteps])),
    `## ${version}: bare route`,
    table(stepHeader, stepRows([...bare.steps, ...bare.ceilingSteps])),
  ]),
].join("\n\n")
const path = await writeReport("runtimes", markdown)
console.log(`\n${summary}\n\nreport: ${path}`)
