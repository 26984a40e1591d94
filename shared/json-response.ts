// The one way both processes' HTTP servers answer JSON (the gateway's errors, the reserver's /health).

/** A JSON answer with the given status and extra headers. */
export const jsonResponse = (status: number, body: unknown, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } })
