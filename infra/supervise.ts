// Keeps a set of child processes running: a child that exits on its own is started again
// after a growing delay while the others keep running; stop() signals them all and waits.
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"

/** When a child that exited is started again. */
export type RestartPolicy = Readonly<{
  /** Delay before the first restart of a run of crashes; each further one doubles it. */
  initialDelayMs: number
  maxDelayMs: number
  /** A child that ran this long before exiting starts a new run of crashes at the initial delay. */
  resetAfterMs: number
}>

/** Half a second doubling to ten, so a crash loop costs little; thirty seconds up counts as healthy. */
export const defaultRestartPolicy: RestartPolicy = Object.freeze({ initialDelayMs: 500, maxDelayMs: 10_000, resetAfterMs: 30_000 })

/**
 * The restart after an exit: `crashes` is how many exits in a row count against the child
 * (`previousCrashes` plus this one, or one again when it ran at least `resetAfterMs`), and
 * `delayMs` the wait before it starts again.
 */
export function nextRestart(policy: RestartPolicy, previousCrashes: number, ranMs: number): { crashes: number; delayMs: number } {
  const crashes = ranMs >= policy.resetAfterMs ? 1 : previousCrashes + 1
  return { crashes, delayMs: Math.min(policy.initialDelayMs * 2 ** (crashes - 1), policy.maxDelayMs) }
}

/** A supervised process: its name (log prefix and pid file name) and the command that starts it. */
export type ChildSpec = Readonly<{ name: string; command: readonly string[] }>

export type SuperviseOptions = {
  children: readonly ChildSpec[]
  policy?: RestartPolicy
  /** After stop()'s signal, a child still running this long later gets SIGKILL. */
  stopTimeoutMs: number
  env?: Record<string, string | undefined>
  /** Each child's current pid is kept in `<pidDir>/<name>.pid` while it runs. */
  pidDir?: string
  /** One line a child wrote, without its newline. */
  output: (name: string, stream: "stdout" | "stderr", line: string) => void
  /** One line about the supervision itself: starts, exits, restarts, stops. */
  log: (line: string) => void
}

export type Supervisor = {
  /** Each child's pid while it runs, undefined while it waits for its restart. */
  pids(): Record<string, number | undefined>
  /**
   * Sends `signal` to every running child, cancels pending restarts, waits for every child
   * (SIGKILL after stopTimeoutMs) and removes the pid files; resolves true when each child
   * exited with 0 or of the signal it was sent. Later calls return the first call's promise.
   */
  stop(signal: NodeJS.Signals): Promise<boolean>
}

type Proc = Bun.Subprocess<"ignore", "pipe", "pipe">
type State = { spec: ChildSpec; proc?: Proc; timer?: Timer; crashes: number; restarts: number }

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`

// Exit codes of a process that ended on SIGINT or SIGTERM by its own handler or by the signal itself.
const SIGNAL_EXITS = new Set([0, 130, 143])

async function pumpLines(stream: ReadableStream<Uint8Array>, write: (line: string) => void) {
  const decoder = new TextDecoder()
  let pending = ""
  for await (const chunk of stream) {
    pending += decoder.decode(chunk, { stream: true })
    const lines = pending.split("\n")
    pending = lines.pop() ?? ""
    for (const line of lines) write(line)
  }
  if (pending) write(pending)
}

/** Starts every child and keeps each running, restarting it with backoff when it exits, until stop(). */
export function supervise(options: SuperviseOptions): Supervisor {
  const policy = options.policy ?? defaultRestartPolicy
  const { log } = options
  const states = options.children.map((spec): State => ({ spec, crashes: 0, restarts: 0 }))
  let stopped: Promise<boolean> | undefined
  if (options.pidDir) mkdirSync(options.pidDir, { recursive: true })

  const pidFile = (name: string) => options.pidDir && join(options.pidDir, `${name}.pid`)
  // Written beside and renamed into place, so a reader never sees an empty file.
  const writePid = (name: string, pid: number) => {
    const file = pidFile(name)
    if (!file) return
    writeFileSync(`${file}.tmp`, `${pid}\n`)
    renameSync(`${file}.tmp`, file)
  }
  const removePid = (name: string) => {
    const file = pidFile(name)
    if (file) rmSync(file, { force: true })
  }

  const start = (state: State) => {
    state.timer = undefined
    const { name, command } = state.spec
    let proc: Proc
    try {
      // Its own process group: a Ctrl-C in the terminal reaches the supervisor alone, which
      // passes one signal on; a child signalled twice would take the second as "exit now".
      proc = Bun.spawn([...command], { env: options.env, stdin: "ignore", stdout: "pipe", stderr: "pipe", detached: true })
    } catch (error) {
      scheduleRestart(state, `could not start: ${(error as Error).message}`, 0)
      return
    }
    const startedAt = performance.now()
    state.proc = proc
    writePid(name, proc.pid)
    log(`${name} started, pid ${proc.pid}${state.restarts > 0 ? ` (restart ${state.restarts})` : ""}`)
    void pumpLines(proc.stdout, (line) => options.output(name, "stdout", line))
    void pumpLines(proc.stderr, (line) => options.output(name, "stderr", line))
    void proc.exited.then(() => {
      const ranMs = performance.now() - startedAt
      state.proc = undefined
      removePid(name)
      if (stopped) return
      const how = proc.signalCode ? `signal ${proc.signalCode}` : `code ${proc.exitCode}`
      scheduleRestart(state, `exited (${how}) after ${seconds(ranMs)}`, ranMs)
    })
  }

  const scheduleRestart = (state: State, what: string, ranMs: number) => {
    const next = nextRestart(policy, state.crashes, ranMs)
    state.crashes = next.crashes
    state.restarts++
    log(`${state.spec.name} ${what}; restart ${state.restarts} in ${seconds(next.delayMs)}`)
    state.timer = setTimeout(() => start(state), next.delayMs)
  }

  const stopAll = async (signal: NodeJS.Signals): Promise<boolean> => {
    const running = states.flatMap((state) => {
      clearTimeout(state.timer)
      return state.proc ? [{ name: state.spec.name, proc: state.proc }] : []
    })
    log(`stopping ${running.map((r) => `${r.name} (pid ${r.proc.pid})`).join(", ") || "nothing running"} with ${signal}`)
    for (const { proc } of running) proc.kill(signal)
    const killed = new Set<string>()
    const deadline = setTimeout(() => {
      for (const { name, proc } of running) {
        if (proc.exitCode !== null || proc.signalCode !== null) continue
        log(`${name} still running ${seconds(options.stopTimeoutMs)} after ${signal}; sending SIGKILL`)
        killed.add(name)
        proc.kill("SIGKILL")
      }
    }, options.stopTimeoutMs)
    await Promise.all(running.map(({ proc }) => proc.exited))
    clearTimeout(deadline)
    for (const state of states) removePid(state.spec.name)
    return running.every(({ name, proc }) => !killed.has(name) && (proc.signalCode === signal || SIGNAL_EXITS.has(proc.exitCode ?? -1)))
  }

  for (const state of states) start(state)
  return {
    pids: () => Object.fromEntries(states.map((s) => [s.spec.name, s.proc?.pid])),
    stop: (signal) => (stopped ??= stopAll(signal)),
  }
}
