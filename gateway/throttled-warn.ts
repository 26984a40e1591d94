import type { Fields, Logger } from "../shared/log.ts"

/**
 * A warning logged at most once per `everyMs`: while a dependency is away the same failure repeats for
 * every request, so each line carries, under `countField`, how many occurrences it stands for.
 */
export function createThrottledWarn(log: Logger | undefined, msg: string, countField: string, everyMs = 1_000) {
  let lastWarned = -Infinity
  let unreported = 0
  return (fields: Fields, occurrences = 1): void => {
    unreported += occurrences
    const now = performance.now()
    if (!log || now - lastWarned < everyMs) return
    log.warn(msg, { ...fields, [countField]: unreported })
    lastWarned = now
    unreported = 0
  }
}
