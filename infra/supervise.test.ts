import { afterAll, describe, expect, test } from "bun:test"
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { eventually } from "../testing/helpers.ts"
import { defaultRestartPolicy, nextRestart, supervise, type RestartPolicy } from "./supervise.ts"

describe("nextRestart", () => {
  const policy: RestartPolicy = { initialDelayMs: 500, maxDelayMs: 10_000, resetAfterMs: 30_000 }

  test("doubles the delay for each crash in a row up to the cap", () => {
    const delays: number[] = []
    let crashes = 0
    for (let i = 0; i < 8; i++) {
      const next = nextRestart(policy, crashes, 1_000)
      crashes = next.crashes
      delays.push(next.delayMs)
    }
    expect(delays).toEqual([500, 1_000, 2_000, 4_000, 8_000, 10_000, 10_000, 10_000])
  })

  test("a child that ran long enough before exiting is restarted at the initial delay again", () => {
    expect(nextRestart(policy, 6, 29_999)).toEqual({ crashes: 7, delayMs: 10_000 })
    expect(nextRestart(policy, 6, 30_000)).toEqual({ crashes: 1, delayMs: 500 })
  })

  test("the default policy restarts within half a second and waits ten at most", () => {
    expect(nextRestart(defaultRestartPolicy, 0, 0).delayMs).toBe(500)
    expect(nextRestart(defaultRestartPolicy, 50, 0).delayMs).toBe(10_000)
  })
})

describe("supervise", () => {
  const dir = mkdtempSync(join(tmpdir(), "supervise-"))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  // Stand-ins for the gateway and the reserver: they stay up until SIGTERM, which they obey or not.
  const script = (name: string, body: string) => {
    const file = join(dir, `${name}.ts`)
    writeFileSync(file, `console.log("up", process.pid)\nsetInterval(() => {}, 1000)\n${body}\n`)
    return [process.execPath, file]
  }
  const obedient = script("obedient", `process.on("SIGTERM", () => process.exit(0))`)
  const stubborn = script("stubborn", `process.on("SIGTERM", () => console.log("not stopping"))`)
  const crashing = script("crashing", `setTimeout(() => process.exit(3), 20)`)
  const fast: RestartPolicy = { initialDelayMs: 100, maxDelayMs: 400, resetAfterMs: 60_000 }

  const start = (children: { name: string; command: string[] }[], stopTimeoutMs = 5_000) => {
    const logs: string[] = []
    const lines: string[] = []
    const pidDir = mkdtempSync(join(dir, "run-"))
    const supervisor = supervise({
      children,
      policy: fast,
      stopTimeoutMs,
      pidDir,
      output: (name, _stream, line) => lines.push(`${name}: ${line}`),
      log: (line) => logs.push(line),
    })
    const pidOf = (name: string) => (existsSync(join(pidDir, `${name}.pid`)) ? Number(readFileSync(join(pidDir, `${name}.pid`), "utf8")) : undefined)
    const upPid = (name: string) =>
      eventually(() => {
        const pid = supervisor.pids()[name]
        return pid !== undefined && lines.includes(`${name}: up ${pid}`) ? pid : undefined
      }, 10_000, `${name} up`)
    return { supervisor, logs, lines, pidDir, pidOf, upPid }
  }

  test("a child killed with SIGKILL is started again while its sibling keeps its pid; SIGTERM stops both", async () => {
    const run = start([
      { name: "a", command: obedient },
      { name: "b", command: obedient },
    ])
    const a = await run.upPid("a")
    const b = await run.upPid("b")
    expect(run.pidOf("a")).toBe(a)
    expect(run.pidOf("b")).toBe(b)

    process.kill(a, "SIGKILL")
    const a2 = await eventually(async () => {
      const pid = await run.upPid("a")
      return pid !== a ? pid : undefined
    }, 10_000, "a restarted")
    expect(run.pidOf("a")).toBe(a2)
    expect(run.supervisor.pids().b).toBe(b)
    expect(() => process.kill(b, 0)).not.toThrow()
    expect(run.logs.some((l) => /^a exited \(signal SIGKILL\) after \d+\.\ds; restart 1 in 0\.1s$/.test(l))).toBe(true)

    expect(await run.supervisor.stop("SIGTERM")).toBe(true)
    expect(() => process.kill(a2, 0)).toThrow()
    expect(() => process.kill(b, 0)).toThrow()
    expect(existsSync(join(run.pidDir, "a.pid"))).toBe(false)
    expect(existsSync(join(run.pidDir, "b.pid"))).toBe(false)
  }, 30_000)

  test("a child that keeps crashing waits longer before each restart, up to the cap", async () => {
    const run = start([
      { name: "crasher", command: crashing },
      { name: "steady", command: obedient },
    ])
    const steady = await run.upPid("steady")
    const restarts = () => run.logs.filter((l) => l.startsWith("crasher exited (code 3)"))
    await eventually(() => (restarts().length >= 5 ? true : undefined), 15_000, "five crashes")
    expect(restarts().slice(0, 5).map((l) => l.split("; ")[1])).toEqual([
      "restart 1 in 0.1s",
      "restart 2 in 0.2s",
      "restart 3 in 0.4s",
      "restart 4 in 0.4s",
      "restart 5 in 0.4s",
    ])
    expect(run.supervisor.pids().steady).toBe(steady)
    expect(await run.supervisor.stop("SIGTERM")).toBe(true)
    expect(() => process.kill(steady, 0)).toThrow()
  }, 30_000)

  test("a child that ignores SIGTERM gets SIGKILL after the stop timeout, and the stop reports it", async () => {
    const run = start([
      { name: "stubborn", command: stubborn },
      { name: "obedient", command: obedient },
    ], 500)
    const pid = await run.upPid("stubborn")
    await run.upPid("obedient")
    const began = performance.now()
    expect(await run.supervisor.stop("SIGTERM")).toBe(false)
    expect(performance.now() - began).toBeGreaterThanOrEqual(450)
    expect(() => process.kill(pid, 0)).toThrow()
    expect(run.lines).toContain("stubborn: not stopping")
    expect(run.logs).toContain("stubborn still running 0.5s after SIGTERM; sending SIGKILL")
  }, 30_000)
})
