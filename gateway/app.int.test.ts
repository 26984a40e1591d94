import { afterAll, beforeAll, expect, test } from "bun:test"
import postgres from "postgres"
import { createLogger } from "../shared/log.ts"
import { testConfig } from "../testing/helpers.ts"
import { MAX_BODY_BYTES } from "./app.ts"
import { createTestGateway, inProcessTest } from "../testing/gateway.ts"

let gw: Awaited<ReturnType<typeof createTestGateway>>
beforeAll(async () => {
  gw = await createTestGateway()
})
afterAll(() => gw.close())

test("an unknown route is 404 Not Found", async () => {
  expect(await gw.call("GET", "/api/nothing")).toMatchObject({ status: 404, body: { detail: "Not Found" } })
  expect(await gw.call("GET", "/api/event/1/sections")).toMatchObject({ status: 404, body: { detail: "Not Found" } })
})

test("a known path under the wrong method is 405 Method Not Allowed, naming the allowed methods", async () => {
  const put = await gw.call("PUT", "/api/event/12")
  expect(put).toMatchObject({ status: 405, body: { detail: "Method Not Allowed" } })
  expect(put.headers.get("allow")).toBe("GET")
  expect((await gw.call("DELETE", "/api/user")).headers.get("allow")).toBe("POST, GET")
  expect((await gw.call("GET", "/api/user/login")).status).toBe(405)
  expect((await gw.call("POST", "/api/event/1/sections/A/subsection/1/seats")).status).toBe(405)
})

test("malformed JSON is 400", async () => {
  for (const body of ["{bad", '{"email": "a@b.c",}', "\xff"]) {
    expect(await gw.call("POST", "/api/user/login", { body })).toMatchObject({ status: 400, body: { detail: "Request body is not valid JSON" } })
  }
})

test("a body over 64 KiB is 413, with or without a Content-Length", async () => {
  const body = JSON.stringify({ email: "a@b.c", password: "x".repeat(MAX_BODY_BYTES) })
  expect(await gw.call("POST", "/api/user/login", { body })).toMatchObject({ status: 413, body: { detail: "Request body too large" } })
  const withLength = await gw.call("POST", "/api/user/login", { body, headers: { "content-length": String(body.length) } })
  expect(withLength.status).toBe(413)
})

test("a body that is not JSON is 415 on a JSON route", async () => {
  for (const type of ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x"]) {
    const res = await gw.call("POST", "/api/user/login", { body: "email=a%40b.c&password=12345678", headers: { "content-type": type } })
    expect(res).toMatchObject({ status: 415, body: { detail: "Content-Type must be application/json" } })
  }
  const charset = await gw.call("POST", "/api/user/login", { body: { email: "a@b.c", password: "12345678" }, headers: { "content-type": "application/json; charset=utf-8" } })
  expect(charset.body).toEqual({ detail: "LOGIN_BAD_CREDENTIALS" })
})

inProcessTest("an unexpected failure is 500 Internal server error with one log line", async () => {
  const lines: string[] = []
  const missing = new URL(testConfig().databaseUrl)
  missing.pathname = "/no_such_database"
  const broken = postgres(missing.toString(), { max: 1, onnotice: () => {} })
  const down = await createTestGateway({ sql: broken, log: createLogger("gateway", "error", {}, (line) => lines.push(line) > 0) })
  try {
    expect(await down.call("GET", "/api/event")).toEqual({ status: 500, headers: expect.anything(), body: { detail: "Internal server error" } })
    expect(lines).toHaveLength(1)
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: "error", msg: "unhandled error", method: "GET", url: "http://localhost/api/event" })
  } finally {
    await broken.end()
    await down.close()
  }
})

test("/ redirects to /docs, which serves HTML; /openapi.json documents every route", async () => {
  const root = await gw.call("GET", "/")
  expect(root.status).toBe(302)
  expect(root.headers.get("location")).toBe("/docs")
  const docs = await gw.call("GET", "/docs")
  expect(docs.status).toBe(200)
  expect(docs.headers.get("content-type")).toStartWith("text/html")
  const spec = await gw.call("GET", "/openapi.json")
  expect(spec.status).toBe(200)
  const operations = Object.entries(spec.body.paths as Record<string, object>).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m} ${path}`))
  expect(operations.sort()).toEqual([
    "delete /api/event/{id}/waiting_room",
    "get /api/booking/event/{event_id}/sse",
    "get /api/booking/my_booking",
    "get /api/booking/{id}",
    "get /api/event",
    "get /api/event/{id}",
    "get /api/event/{id}/sections/{section}/subsection/{n}/seats",
    "get /api/event/{id}/sse",
    "get /api/event/{id}/waiting_room",
    "get /api/event/{id}/waiting_room/sse",
    "get /api/event/{id}/waiting_room/stats",
    "get /api/user",
    "get /health",
    "patch /api/booking/{id}",
    "post /api/booking",
    "post /api/booking/{id}/pay",
    "post /api/event",
    "post /api/event/{id}/waiting_room/join",
    "post /api/user",
    "post /api/user/login",
    "post /api/user/logout",
    "put /api/event/{id}/waiting_room",
  ])
  const createUser = spec.body.paths["/api/user"].post.requestBody.content["application/json"].schema
  expect(createUser.properties.email).toMatchObject({ type: "string", format: "email" })
  expect(createUser.required).toEqual(["email", "password", "name"])
})
