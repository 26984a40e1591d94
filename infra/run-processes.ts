// Runs the gateway and the reserver side by side with prefixed output; Ctrl-C stops both,
// and if one exits on its own the other is stopped too.
import { join } from "node:path"

const root = join(import.meta.dir, "..")
const colours = { gateway: "\x1b[36m", reserver: "\x1b[35m" } as const
const reset = "\x1b[0m"

const children = (Object.keys(colours) as (keyof typeof colours)[]).map((name) => {
  const child = Bun.spawn([process.execPath, join(root, name, "main.ts")], {
    stdout: "pipe",
    stderr: "pipe",
    env: process.env,
  })
  const prefix = `${colours[name]}${name.padEnd(8)}${reset} | `
  const pump = async (stream: ReadableStream<Uint8Array>, out: NodeJS.WriteStream) => {
    let pending = ""
    const decoder = new TextDecoder()
    for await (const chunk of stream) {
      pending += decoder.decode(chunk, { stream: true })
      const lines = pending.split("\n")
      pending = lines.pop() ?? ""
      for (const line of lines) out.write(prefix + line + "\n")
    }
    if (pending) out.write(prefix + pending + "\n")
  }
  void pump(child.stdout, process.stdout)
  void pump(child.stderr, process.stderr)
  return { name, child }
})

let stopping = false
const stopAll = (signal: NodeJS.Signals) => {
  if (stopping) return
  stopping = true
  for (const { child } of children) if (child.exitCode === null) child.kill(signal)
}
process.on("SIGINT", () => stopAll("SIGINT"))
process.on("SIGTERM", () => stopAll("SIGTERM"))
// `kill <pid of npm start>` ends npm without passing the signal on; once this process is
// orphaned it stops both children instead of leaving them serving with no one to stop them.
const parent = process.ppid
const orphanWatch = setInterval(() => {
  if (process.ppid !== parent) stopAll("SIGTERM")
}, 500)
orphanWatch.unref()

const first = await Promise.race(children.map(async ({ name, child }) => ({ name, code: await child.exited })))
if (!stopping) {
  console.error(`${first.name} exited with code ${first.code}; stopping the other process`)
  stopAll("SIGTERM")
}
const codes = await Promise.all(children.map(({ child }) => child.exited))
process.exit(stopping && codes.every((c) => c === 0 || c === 130 || c === 143) ? 0 : first.code || 1)
