// Profiles one process under `bun --cpu-prof` while a benchmark drives it, then writes a flame
// graph SVG and the top frames next to the profile in profiles/out/ (git-ignored).
//
//   npm start                                   # in another shell (services, reserver, seed)
//   npm run profile:gateway -- [--requests 40000] [--seats 50k] [--port 8210]
//   npm run profile:reserver -- [--commands 100000]
//   npm run profile:reserver -- --idle 60 [--checkout <dir>]   # reserver/main.ts with nothing to do
//                                          (services only; --checkout profiles another worktree's)
import { mkdirSync, readdirSync } from "node:fs"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { driveBookings, login, readEvent, requireStack, reseed, root, say } from "../bench/stack.ts"
import { callTree, flameGraphSvg, topFrames } from "./flamegraph.ts"

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    requests: { type: "string", default: "40000" },
    seats: { type: "string", default: "50k" },
    commands: { type: "string", default: "100000" },
    concurrency: { type: "string", default: "64" },
    port: { type: "string", default: "8210" },
    idle: { type: "string" },
    checkout: { type: "string", default: root },
  },
})
const target = positionals[0]
if (target !== "gateway" && target !== "reserver") {
  console.error("usage: bun profiles/profile.ts gateway|reserver [options]")
  process.exit(2)
}
const outDir = join(root, "profiles/out")
mkdirSync(outDir, { recursive: true })
const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19)
const name = `${target}-${stamp}`
const bun = process.execPath

// The gateway under the profiler gets its own port; the `npm start` reserver decides its bookings.
async function profileGateway() {
  await requireStack()
  await reseed(args.seats)
  const port = Number(args.port)
  const gateway = Bun.spawn([bun, "--cpu-prof", `--cpu-prof-dir=${outDir}`, `--cpu-prof-name=${name}.cpuprofile`, join(root, "gateway/main.ts")], {
    env: { ...process.env, PORT: String(port), LOG_LEVEL: "warn" },
    stdout: "inherit",
    stderr: "inherit",
  })
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; i < 100 && (await fetch(`${url}/health`).catch(() => undefined))?.status !== 200; i++) await Bun.sleep(100)
  const event = await readEvent(1)
  const cookie = await login()
  const total = Number(args.requests)
  say(`driving ${total.toLocaleString()} bookings (best available, quantity 1-4) through the profiled gateway on :${port}`)
  const started = performance.now()
  await driveBookings(url, cookie, event, total, Number(args.concurrency))
  say(`${total.toLocaleString()} requests in ${((performance.now() - started) / 1000).toFixed(1)} s; stopping the gateway`)
  gateway.kill("SIGINT")
  await gateway.exited
}

async function profileReserver() {
  const drain = Bun.spawn([bun, "--cpu-prof", `--cpu-prof-dir=${outDir}`, `--cpu-prof-name=${name}.cpuprofile`, join(root, "bench/reserver-drain.ts"), "--commands", args.commands], {
    env: process.env,
    stdout: "inherit",
    stderr: "inherit",
  })
  if ((await drain.exited) !== 0) throw new Error("the drain benchmark failed")
}

// An idle reserver: what it does while no command arrives (its own process, as npm start runs it).
async function profileIdleReserver(seconds: number) {
  const reserver = Bun.spawn([bun, "--cpu-prof", `--cpu-prof-dir=${outDir}`, `--cpu-prof-name=${name}.cpuprofile`, "reserver/main.ts"], {
    cwd: args.checkout,
    env: { ...process.env, LOG_LEVEL: "warn" },
    stdout: "inherit",
    stderr: "inherit",
  })
  say(`profiling the reserver of ${args.checkout} for ${seconds} s with nothing to decide`)
  await Bun.sleep(seconds * 1000)
  reserver.kill("SIGINT")
  await reserver.exited
}

if (target === "gateway") await profileGateway()
else if (args.idle) await profileIdleReserver(Number(args.idle))
else await profileReserver()

const file = join(outDir, `${name}.cpuprofile`)
if (!readdirSync(outDir).includes(`${name}.cpuprofile`)) throw new Error(`no profile written at ${file}`)
const tree = callTree(await Bun.file(file).json())
await Bun.write(join(outDir, `${name}.svg`), flameGraphSvg(tree, `${target} ${args.idle && target === "reserver" ? `idle for ${args.idle} s` : "under load"}, ${stamp}`))
const top = topFrames(tree, 20)
const line = ([frame, n]: [string, number]) => `  ${((n / top.samples) * 100).toFixed(1).padStart(5)}%  ${frame}`
const summary = [`profile: ${file}`, `flame graph: ${join(outDir, `${name}.svg`)}`, "top by self time:", ...top.bySelf.map(line), "top by total time:", ...top.byTotal.map(line)].join("\n")
await Bun.write(join(outDir, `${name}.txt`), summary + "\n")
console.log(summary)
