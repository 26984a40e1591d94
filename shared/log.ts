import type { LogLevel } from "./config.ts"

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 }

export type Fields = Record<string, unknown>

/** A structured logger writing one JSON line per entry. */
export type Logger = {
  debug(msg: string, fields?: Fields): void
  info(msg: string, fields?: Fields): void
  warn(msg: string, fields?: Fields): void
  error(msg: string, fields?: Fields): void
  isDebug: boolean
  child(fields: Fields): Logger
}

const serialise = (value: unknown): unknown =>
  value instanceof Error ? { name: value.name, message: value.message, stack: value.stack } : value

/**
 * Creates a JSON-lines logger for one process; entries below `level` cost one comparison.
 * `spanIds` (tracing on) adds the active span's trace_id and span_id to each entry.
 */
export function createLogger(
  service: string,
  level: LogLevel,
  base: Fields = {},
  write: (line: string) => unknown = (line) => process.stdout.write(line),
  spanIds?: () => Fields | undefined,
): Logger {
  const min = rank[level]
  const emit = (lvl: LogLevel, msg: string, fields?: Fields) => {
    if (rank[lvl] < min) return
    const entry: Fields = { time: new Date().toISOString(), level: lvl, service, msg, ...base, ...spanIds?.() }
    if (fields) for (const key in fields) entry[key] = serialise(fields[key])
    write(JSON.stringify(entry) + "\n")
  }
  return {
    debug: (msg, fields) => emit("debug", msg, fields),
    info: (msg, fields) => emit("info", msg, fields),
    warn: (msg, fields) => emit("warn", msg, fields),
    error: (msg, fields) => emit("error", msg, fields),
    isDebug: min <= rank.debug,
    child: (fields) => createLogger(service, level, { ...base, ...fields }, write, spanIds),
  }
}
