// The stack as `npm start` runs it, driven from a benchmark or test: the local services through
// infra/services.sh, the gateway and the reserver under infra/run-processes.ts (the supervisor),
// and the process ids a fault injector needs.
import { closeSync, openSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { root } from "./stack.ts"

export type ProcessName = "gateway" | "reserver"
export type ServiceName = "kafka" | "redis" | "postgres"

/** The supervisor child: its pid, whether it still runs, and a stop that ends it and its children. */
export type Supervisor = { pid: number; running: () => boolean; exited: Promise<number>; stop: () => Promise<void> }

const readPid = (file: string): number | undefined => {
  try {
    const pid = Number(readFileSync(file, "utf8").split("\n")[0]!.trim())
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

/** Whether a process with this pid exists (signal 0 probes without signalling). */
export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

// The direct children of a process, from /proc (Linux): the runner's gateway and reserver.
const childrenOf = (pid: number): number[] => {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((task) =>
      readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number),
    )
  } catch {
    return []
  }
}

const commandLine = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ")
  } catch {
    return ""
  }
}

/**
 * The live pid of the supervised gateway or reserver: the supervisor's pid file
 * `$DATA_DIR/run/<name>.pid`, or else (a runner that writes none) the supervisor's child running `<name>/main.ts`.
 */
export function processPid(dataDir: string, name: ProcessName, supervisorPid?: number): number | undefined {
  const fromFile = readPid(join(dataDir, "run", `${name}.pid`))
  if (fromFile !== undefined && isAlive(fromFile)) return fromFile
  if (supervisorPid === undefined) return undefined
  return childrenOf(supervisorPid).find((pid) => commandLine(pid).includes(`${name}/main.ts`))
}

/** The pid of a local service started by infra/services.sh (PostgreSQL's postmaster from its data folder). */
export function servicePid(dataDir: string, name: ServiceName): number | undefined {
  const file = name === "postgres" ? join(dataDir, "postgres", "postmaster.pid") : join(dataDir, "run", `${name}.pid`)
  const pid = readPid(file)
  return pid !== undefined && isAlive(pid) ? pid : undefined
}

/** Runs `bash infra/services.sh <command>` with `env`, its output appended to `logPath`; resolves with its exit code. */
export async function runServices(command: "start" | "stop", env: Record<string, string | undefined>, logPath: string): Promise<number> {
  const out = openSync(logPath, "a")
  try {
    const proc = Bun.spawn(["bash", join(root, "infra/services.sh"), command], { env, stdin: "ignore", stdout: out, stderr: out })
    return await proc.exited
  } finally {
    closeSync(out)
  }
}

/** Waits until GET `baseUrl`/health answers 200; false after `timeoutMs`. */
export async function waitForHealth(baseUrl: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const res = await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(2_000) }).catch(() => undefined)
    if (res?.status === 200) return true
    await Bun.sleep(250)
  }
  return false
}

/**
 * Starts `bun infra/run-processes.ts` (what `npm start` ends in) as a child with `env`, its output
 * appended to `logPath`. `stop` sends SIGTERM, as Ctrl-C would, and after 20 s kills what is left.
 */
export function startSupervisor(env: Record<string, string | undefined>, logPath: string): Supervisor {
  const out = openSync(logPath, "a")
  const proc = Bun.spawn([process.execPath, join(root, "infra/run-processes.ts")], { env, stdin: "ignore", stdout: out, stderr: out })
  closeSync(out)
  const dataDir = env.DATA_DIR ?? join(root, ".data")
  const stop = async () => {
    if (proc.exitCode !== null) return
    const children = (["gateway", "reserver"] as const).map((name) => processPid(dataDir, name, proc.pid))
    proc.kill("SIGTERM")
    const stopped = await Promise.race([proc.exited.then(() => true), Bun.sleep(20_000).then(() => false)])
    if (stopped) return
    proc.kill("SIGKILL")
    for (const pid of children) if (pid !== undefined && isAlive(pid)) process.kill(pid, "SIGKILL")
  }
  return { pid: proc.pid, running: () => proc.exitCode === null, exited: proc.exited, stop }
}
