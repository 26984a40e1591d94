import { readFileSync } from "node:fs"

/** CPU time a process has used so far (user + system), in clock ticks of 10 ms, from /proc/<pid>/stat. */
export function cpuTicks(pid: number): number {
  // The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
  return Number(fields[11]) + Number(fields[12])
}
