/** What an AppError carries beside its status and message. */
export type AppErrorOptions = ErrorOptions & {
  /** A stable name for the failure, for logs and tests; by default one derived from the status (`NOT_FOUND`). */
  code?: string
  /** A later retry can succeed: the dependency behind the answer is away, the request itself is fine. */
  retriable?: boolean
}

const STATUS_CODES: Record<number, string> = {
  400: "BAD_REQUEST",
  401: "UNAUTHENTICATED",
  403: "FORBIDDEN",
  404: "NOT_FOUND",
  405: "METHOD_NOT_ALLOWED",
  409: "CONFLICT",
  413: "BODY_TOO_LARGE",
  415: "UNSUPPORTED_MEDIA_TYPE",
  503: "UNAVAILABLE",
}

/**
 * A failure with an HTTP status, a code and whether retrying can help; one handler per process turns it
 * into an answer (a retriable one is a 503 with Retry-After whatever its status).
 */
export class AppError extends Error {
  readonly code: string
  readonly retriable: boolean

  constructor(
    readonly status: number,
    message: string,
    { code, retriable = false, ...options }: AppErrorOptions = {},
  ) {
    super(message, options)
    this.name = "AppError"
    this.code = code ?? STATUS_CODES[status] ?? `HTTP_${status}`
    this.retriable = retriable
  }
}

/** A 400 from schema validation, listing every problem. */
export class ValidationError extends AppError {
  constructor(readonly errors: { field: string; message: string }[]) {
    super(400, errors[0]?.message ?? "Invalid request", { code: "VALIDATION" })
    this.name = "ValidationError"
  }
}

/** The contract's detail for a request that failed because a dependency is away. */
export const UNAVAILABLE_DETAIL = "Service temporarily unavailable, please retry"

/** Which dependency a failure shows to be away. */
export type UnavailableCode = "REDIS_UNAVAILABLE" | "POSTGRES_UNAVAILABLE" | "KAFKA_UNAVAILABLE"

type ErrorLike = { name?: unknown; message?: unknown; code?: unknown }

// ioredis rejects a command with these while Redis is unreachable: the offline queue flushed after
// maxRetriesPerRequest failed reconnects, the client closed, commandTimeout passed, the offline queue
// disabled, a pipeline cut by a dropped connection.
const REDIS_CONNECTION_MESSAGES = [
  "Reached the max retries per request limit",
  "Connection is closed.",
  "Command timed out",
  "Stream isn't writeable",
  "Command aborted due to connection close",
]
// Replies of a Redis that is up but cannot serve yet: loading its data after a restart, blocked by a script.
const REDIS_TRANSIENT_REPLY = /^(LOADING|BUSY|TRYAGAIN|MASTERDOWN) /

// postgres.js's own connection errors, and the socket errors it passes through.
const POSTGRES_CONNECTION_CODES = new Set(["CONNECTION_CLOSED", "CONNECTION_ENDED", "CONNECTION_DESTROYED", "CONNECT_TIMEOUT"])
const SOCKET_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN"])
// SQLSTATE classes 08 (connection exception) and 53 (insufficient resources: too many connections, out of
// memory or disk), and 57P01-57P03 (the server shutting down, crashed, or still starting).
const POSTGRES_UNAVAILABLE_STATE = /^(08|53)...$|^57P0[123]$/

// Every @platformatic/kafka error code starts so; PLT_KFK_USER is a misuse of the client, not the broker's state.
const KAFKA_PREFIX = "PLT_KFK_"

/** The dependency that `error` shows to be unreachable or not serving, or undefined for any other failure. */
export function unavailableDependency(error: unknown): UnavailableCode | undefined {
  if (typeof error !== "object" || error === null) return undefined
  const { name, message, code } = error as ErrorLike
  if (typeof code === "string") {
    if (name === "PostgresError") return POSTGRES_UNAVAILABLE_STATE.test(code) ? "POSTGRES_UNAVAILABLE" : undefined
    if (POSTGRES_CONNECTION_CODES.has(code)) return "POSTGRES_UNAVAILABLE"
    // postgres.js gives the errors of a query a `query` property; only it rejects a route's call with a socket error.
    if (SOCKET_CODES.has(code) && "query" in error) return "POSTGRES_UNAVAILABLE"
    if (code.startsWith(KAFKA_PREFIX) && code !== "PLT_KFK_USER") return "KAFKA_UNAVAILABLE"
  }
  if (typeof message !== "string") return undefined
  if (REDIS_CONNECTION_MESSAGES.some((prefix) => message.startsWith(prefix))) return "REDIS_UNAVAILABLE"
  if (name === "ReplyError" && REDIS_TRANSIENT_REPLY.test(message)) return "REDIS_UNAVAILABLE"
  return undefined
}

/** A retriable 503 with `detail`, caused by `cause`; its code names the dependency when `cause` shows which one is away. */
export const unavailableError = (detail: string, cause: unknown): AppError =>
  new AppError(503, detail, { code: unavailableDependency(cause) ?? "UNAVAILABLE", retriable: true, cause })

/**
 * The one classification of failures: an AppError as it is, a dependency being away as a retriable 503,
 * anything else undefined (an unexpected failure).
 */
export function toAppError(error: unknown): AppError | undefined {
  if (error instanceof AppError) return error
  return unavailableDependency(error) && unavailableError(UNAVAILABLE_DETAIL, error)
}

/** An error's message and those of its first nested error or cause, down to the one that says what happened. */
export function errorChain(error: unknown): string {
  const messages: string[] = []
  for (let e = error as { message?: string; errors?: unknown[]; cause?: unknown } | undefined; e && messages.length < 8; ) {
    const message = e.message ?? String(e)
    if (messages.at(-1) !== message) messages.push(message)
    e = (e.errors?.[0] ?? e.cause) as typeof e
  }
  return messages.join(": ")
}
