import { afterEach, expect, test } from "bun:test"
import { createHttpPool, headerOf } from "./http-client.ts"

const servers: { stop: (force?: boolean) => unknown }[] = []
afterEach(() => {
  for (const server of servers.splice(0)) server.stop(true)
})

const serve = (port: number, fetch: (request: Request) => Response | Promise<Response>) => {
  const server = Bun.serve({ hostname: "127.0.0.1", port, fetch })
  servers.push(server)
  return server
}

test("answers carry status, head and body; a restarted server is reached again on the same pool", async () => {
  const first = serve(0, () => Response.json({ detail: "busy" }, { status: 503, headers: { "retry-after": "1" } }))
  const port = first.port!
  const pool = await createHttpPool(`http://127.0.0.1:${port}`, 2)
  const answer = await pool.send("GET", "/", {})
  expect(answer.status).toBe(503)
  expect(headerOf(answer.head, "Retry-After")).toBe("1")
  expect(JSON.parse(answer.body)).toEqual({ detail: "busy" })

  first.stop(true)
  await expect(pool.send("GET", "/", {})).rejects.toThrow()
  serve(port, () => new Response("back"))
  const again = await pool.send("GET", "/", {})
  expect([again.status, again.body]).toEqual([200, "back"])
  pool.close()
})

test("a request with no answer fails after the timeout, and the pool goes on", async () => {
  let hang = true
  const server = serve(0, () => (hang ? new Promise<Response>(() => {}) : new Response("ok")))
  const pool = await createHttpPool(`http://127.0.0.1:${server.port}`, 1, { timeoutMs: 200 })
  await expect(pool.send("GET", "/", {})).rejects.toThrow("no answer within 200 ms")
  hang = false
  expect((await pool.send("GET", "/", {})).body).toBe("ok")
  expect(pool.pending()).toBe(0)
  pool.close()
})
