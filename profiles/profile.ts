// Profiles one process under `bun --cpu-prof` while a benchmark drives it, then writes a flame
// graph SVG and the top frames next to the profile in profiles/out/ (git-ignored).
//
//   npm start                                   # in another shell (services, reserver, seed)
//   npm run profile:gateway -- [--requests 40000] [--seats 50k]
//   npm run profile:reserver -- [--commands 100000]
import { mkdirSync, readdirSync } from "node:fs"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { baseUrl, login, readEvent, requireStack, reseed, root, say } from "../bench/stack.ts"
import { callTree, flameGraphSvg, topFrames } from "./flamegraph.ts"

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    requests: { type: "string", default: "40000" },
    seats: { type: "string", default: "50k" },
    commands: { type: "string", default: "100000" },
    concurrency: { type: "string", default: "256" },
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
  const port = 8210
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
  let sent = 0
  const started = performance.now()
  const worker = async () => {
    while (sent < total) {
      sent++
      const section = event.sections[Math.floor(Math.random() * event.sections.length)]!
      const body = JSON.stringify({
        event_id: 1,
        section: section.name,
        subsection: 1 + Math.floor(Math.random() * section.subsections),
        seat_selection_mode: "best_available",
        seat_positions: [],
        quantity: 1 + Math.floor(Math.random() * 4),
      })
      await (await fetch(`${url}/api/booking`, { method: "POST", headers: { "content-type": "application/json", cookie }, body })).arrayBuffer()
    }
  }
  await Promise.all(Array.from({ length: Number(args.concurrency) }, worker))
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

if (target === "gateway") await profileGateway()
else await profileReserver()

const file = join(outDir, `${name}.cpuprofile`)
if (!readdirSync(outDir).includes(`${name}.cpuprofile`)) throw new Error(`no profile written at ${file}`)
const tree = callTree(await Bun.file(file).json())
await Bun.write(join(outDir, `${name}.svg`), flameGraphSvg(tree, `${target} under load, ${stamp}`))
const top = topFrames(tree, 20)
const line = ([frame, n]: [string, number]) => `  ${((n / top.samples) * 100).toFixed(1).padStart(5)}%  ${frame}`
const summary = [`profile: ${file}`, `flame graph: ${join(outDir, `${name}.svg`)}`, "top by self time:", ...top.bySelf.map(line), "top by total time:", ...top.byTotal.map(line)].join("\n")
await Bun.write(join(outDir, `${name}.txt`), summary + "\n")
console.log(summary)
