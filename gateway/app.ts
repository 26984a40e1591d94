import { Elysia } from "elysia"
import type { Config } from "../shared/config.ts"
import { AppError, ValidationError } from "../shared/errors.ts"
import type { Logger } from "../shared/log.ts"
import type { Readiness } from "./health.ts"

export type GatewayDeps = {
  config: Config
  log: Logger
  readiness: () => Promise<Readiness>
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } })

/** Turns any thrown value into the contract's error answer; the only place that does. */
export function errorResponse(error: unknown, code: string | number, log: Logger, request?: Request): Response {
  if (error instanceof ValidationError) return json(400, { detail: error.message, errors: error.errors })
  if (error instanceof AppError) return json(error.status, { detail: error.message })
  switch (code) {
    case "NOT_FOUND":
      return json(404, { detail: "Not Found" })
    case "PARSE":
      return json(400, { detail: "Request body is not valid JSON" })
  }
  log.error("unhandled error", { error, method: request?.method, url: request?.url })
  return json(500, { detail: "Internal server error" })
}

/** Builds the gateway's HTTP app: routes, one error handler, no I/O of its own. */
export function createGateway(deps: GatewayDeps) {
  const { log } = deps
  return new Elysia({ serve: { maxRequestBodySize: 64 * 1024 } })
    .onError(({ error, code, request }) => errorResponse(error, code, log, request))
    .get("/health", async () => {
      const ready = await deps.readiness()
      const healthy = ready.postgres && ready.redis && ready.kafka
      return healthy ? json(200, { status: "healthy" }) : json(503, { status: "unhealthy", dependencies: ready })
    })
}

export type Gateway = ReturnType<typeof createGateway>
