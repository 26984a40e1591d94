// What a process costs while nothing happens: starts `bun <process>/main.ts` from a checkout on
// the running services (npm run services:start, or npm start's), waits until it answers healthy
// and a settling time more, then reads its CPU time from /proc over a quiet window.
//
//   bun bench/idle-cpu.ts reserver|gateway [--seconds 60] [--settle 15] [--checkout <dir>]
//
// --checkout runs another worktree's process (an older commit, say) on the same services, so a
// before and an after can be run alternately; stop `npm start`'s own process of that kind first,
// or the two share the consumer group.
import { parseArgs } from "node:util"
import { join } from "node:path"
import { loadConfig } from "../shared/config.ts"
import { cpuTicks } from "./process-cpu.ts"

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    seconds: { type: "string", default: "60" },
    settle: { type: "string", default: "15" },
    checkout: { type: "string", default: join(import.meta.dir, "..") },
  },
})
const target = positionals[0]
if (target !== "gateway" && target !== "reserver") {
  console.error("usage: bun bench/idle-cpu.ts reserver|gateway [--seconds 60] [--settle 15] [--checkout <dir>]")
  process.exit(2)
}
const config = loadConfig(process.env)
const port = target === "gateway" ? config.port : config.metricsPort
const child = Bun.spawn([process.execPath, `${target}/main.ts`], { cwd: args.checkout, env: { ...process.env, LOG_LEVEL: "warn" }, stdout: "inherit", stderr: "inherit" })
try {
  let healthy = false
  for (let i = 0; i < 600 && !healthy; i++) {
    healthy = (await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined))?.status === 200
    if (!healthy) await Bun.sleep(100)
  }
  if (!healthy) throw new Error(`${target} did not answer healthy on :${port} within 60 s`)
  await Bun.sleep(Number(args.settle) * 1000)
  const before = cpuTicks(child.pid)
  const started = performance.now()
  await Bun.sleep(Number(args.seconds) * 1000)
  const cpuSeconds = (cpuTicks(child.pid) - before) / 100
  const wallSeconds = (performance.now() - started) / 1000
  console.log(`${target} (${args.checkout}) idle: ${cpuSeconds.toFixed(2)} CPU s in ${wallSeconds.toFixed(1)} s, ${((100 * cpuSeconds) / wallSeconds).toFixed(2)}% of a core`)
} finally {
  child.kill("SIGTERM")
  await child.exited
}
