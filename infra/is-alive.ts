import { readdirSync, readFileSync } from "node:fs"

/**
 * Whether a process with this pid still exists. A zombie counts as gone only once all its threads
 * have exited: a killed JVM's main thread is a zombie while its other threads, and its sockets, live on.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    // The state is the first field after the command name, which may hold spaces but ends with ") ".
    const zombie = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0] === "Z"
    return !zombie || readdirSync(`/proc/${pid}/task`).length > 1
  } catch {
    return false
  }
}
