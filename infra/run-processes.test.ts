// `npm start`'s runner as an operator uses it, with two small stand-ins for the gateway and the
// reserver: pid files to find them, a child killed with -9 comes back, SIGTERM stops everything.
import { afterAll, expect, test } from "bun:test"
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { eventually } from "../testing/helpers.ts"
import { isAlive } from "./is-alive.ts"

const runner = join(import.meta.dir, "run-processes.ts")
const dir = mkdtempSync(join(tmpdir(), "run-processes-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const standIn = join(dir, "stand-in.ts")
writeFileSync(standIn, `console.log("up", process.pid)\nsetInterval(() => {}, 1000)\nprocess.on("SIGTERM", () => process.exit(0))\n`)


const collect = (stream: ReadableStream<Uint8Array>, into: string[]) =>
  (async () => {
    const decoder = new TextDecoder()
    for await (const chunk of stream) into.push(decoder.decode(chunk, { stream: true }))
  })()

/** Starts `command` (which runs the runner somehow) with a fresh DATA_DIR; the children's pids come from their pid files. */
const launch = (command: string[]) => {
  const dataDir = mkdtempSync(join(dir, "data-"))
  const proc = Bun.spawn(command, { env: { ...process.env, NODE_ENV: "test", DATA_DIR: dataDir }, stdout: "pipe", stderr: "pipe" })
  const out: string[] = []
  const err: string[] = []
  const drained = Promise.all([collect(proc.stdout, out), collect(proc.stderr, err)])
  const pidFile = (name: string) => join(dataDir, "run", `${name}.pid`)
  const pidOf = (name: string) => (existsSync(pidFile(name)) ? Number(readFileSync(pidFile(name), "utf8")) : undefined)
  // Up means its pid file names a process that has printed its first line.
  const upPid = (name: string, not?: number) =>
    eventually(() => {
      const pid = pidOf(name)
      return pid !== undefined && pid !== not && out.join("").includes(`up ${pid}\n`) ? pid : undefined
    }, 20_000, `${name} up`)
  return { proc, out, err, drained, pidFile, pidOf, upPid }
}

test("a child killed with -9 is restarted with a log line, its sibling keeps its pid, and SIGTERM stops all and exits 0", async () => {
  const run = launch([process.execPath, runner, `gateway=${standIn}`, `reserver=${standIn}`])
  const gateway = await run.upPid("gateway")
  const reserver = await run.upPid("reserver")

  process.kill(reserver, "SIGKILL")
  const reserver2 = await run.upPid("reserver", reserver)
  expect(run.pidOf("gateway")).toBe(gateway)
  expect(isAlive(gateway)).toBe(true)
  expect(run.err.join("")).toMatch(/run +\S* \| reserver exited \(signal SIGKILL\) after \d+\.\ds; restart 1 in 0\.5s\n/)
  // The prefixed output names the child each line came from.
  expect(run.out.join("")).toMatch(new RegExp(`reserver\\S* \\| up ${reserver2}\\n`))

  run.proc.kill("SIGTERM")
  expect(await run.proc.exited).toBe(0)
  await run.drained
  for (const pid of [gateway, reserver2]) expect(isAlive(pid)).toBe(false)
  expect(existsSync(run.pidFile("gateway"))).toBe(false)
  expect(existsSync(run.pidFile("reserver"))).toBe(false)
}, 30_000)

test("once its parent dies without passing a signal on, the runner stops the children and exits", async () => {
  // The shell stands in for npm: killed with -9, it cannot pass anything on.
  const run = launch(["bash", "-c", `"${process.execPath}" "${runner}" a="${standIn}" b="${standIn}" & echo runner $!; wait`])
  const a = await run.upPid("a")
  const b = await run.upPid("b")
  const runnerPid = Number(/runner (\d+)/.exec(run.out.join(""))![1])
  run.proc.kill("SIGKILL")
  await eventually(() => (![runnerPid, a, b].some(isAlive) ? true : undefined), 10_000, "runner and children gone")
  expect(run.err.join("")).toContain(`stopping a (pid ${a}), b (pid ${b}) with SIGTERM`)
}, 30_000)
