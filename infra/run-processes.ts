// Runs the gateway and the reserver side by side with prefixed output and keeps each alive:
// one that exits on its own is restarted with backoff while the other keeps serving.
// Ctrl-C or SIGTERM stops both. Each child's pid is in $DATA_DIR/run/<name>.pid while it runs.
//
//   bun infra/run-processes.ts [name=script.ts ...]    (default: gateway and reserver main.ts)
import { join, resolve } from "node:path"
import { loadConfig } from "../shared/config.ts"
import { supervise, type ChildSpec } from "./supervise.ts"

const root = join(import.meta.dir, "..")
const colours = ["\x1b[36m", "\x1b[35m", "\x1b[33m", "\x1b[32m", "\x1b[34m"]
const dim = "\x1b[2m"
const reset = "\x1b[0m"
// The children's own shutdown gives up after 15 s; SIGKILL is for one that does not even do that.
const STOP_TIMEOUT_MS = 20_000

const parseChild = (arg: string): ChildSpec => {
  const match = /^([a-z][a-z0-9-]*)=(.+)$/.exec(arg)
  if (!match) throw new Error(`expected name=script.ts, got "${arg}"`)
  return { name: match[1]!, command: [process.execPath, resolve(match[2]!)] }
}

const args = process.argv.slice(2)
const children = args.length > 0
  ? args.map(parseChild)
  : ["gateway", "reserver"].map((name) => ({ name, command: [process.execPath, join(root, name, "main.ts")] }))
const width = Math.max(8, ...children.map((c) => c.name.length))
const prefixes = new Map(children.map((c, i) => [c.name, `${colours[i % colours.length]}${c.name.padEnd(width)}${reset} | `]))

const supervisor = supervise({
  children,
  stopTimeoutMs: STOP_TIMEOUT_MS,
  env: process.env,
  pidDir: join(loadConfig(process.env).dataDir, "run"),
  output: (name, stream, line) => (stream === "stdout" ? process.stdout : process.stderr).write(prefixes.get(name) + line + "\n"),
  log: (line) => process.stderr.write(`${dim}${"run".padEnd(width)}${reset} | ${line}\n`),
})

// npm passes a Ctrl-C on as well as the terminal, so one stop serves every signal that follows.
const stop = (signal: NodeJS.Signals) => void supervisor.stop(signal).then((clean) => process.exit(clean ? 0 : 1))
process.on("SIGINT", () => stop("SIGINT"))
process.on("SIGTERM", () => stop("SIGTERM"))
// The children have their own process group, so a closed terminal's hangup reaches this process alone.
process.on("SIGHUP", () => stop("SIGTERM"))
// `kill <pid of npm start>` ends npm without passing the signal on; once this process is
// orphaned it stops the children instead of leaving them serving with no one to stop them.
const parent = process.ppid
setInterval(() => {
  if (process.ppid !== parent) stop("SIGTERM")
}, 500).unref()
