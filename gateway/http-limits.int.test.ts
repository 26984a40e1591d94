// What the gateway answers over a real connection to requests it will not serve: a body over the limit,
// a method it does not route, headers larger than Bun accepts. Bun's own behaviour is documented where it
// answers (or closes) before any handler runs, and so is Deno's where it differs (GATEWAY_RUNTIME=deno).
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { MAX_BODY_BYTES } from "./app.ts"
import { createTestGateway, gatewayRuntime } from "../testing/gateway.ts"
import { sendRaw } from "../testing/raw-http.ts"

let gw: Awaited<ReturnType<typeof createTestGateway>>
let port: number
beforeAll(async () => {
  gw = await createTestGateway()
  port = Number(new URL(gw.listen()).port)
})
afterAll(() => gw.close())

describe("request bodies over the limit", () => {
  test.each([
    [5_000_000, "Content-Length"],
    [5_000_000, "chunked"],
    [50_000_000, "Content-Length"],
    [50_000_000, "chunked"],
  ])("%d bytes with %s: 413 with the JSON detail, answered before the body is sent, no broken pipe", async (size, framing) => {
    const res = await sendRaw(port, { method: "POST", path: "/api/user/login", bodyBytes: size, chunked: framing === "chunked" })
    expect({ status: res.status, type: res.headers["content-type"], body: res.body, error: res.error }).toEqual({
      status: 413,
      type: "application/json",
      body: JSON.stringify({ detail: "Request body too large" }),
      error: undefined,
    })
    // Bun's promise. Deno's server may take in the whole body before the answer goes out: a chunked one in
    // every run here, one with a Content-Length in some, so on Deno only the answer itself is asserted.
    if (gatewayRuntime === "bun") expect(res.bytesSentBeforeAnswer).toBeLessThan(size)
  })

  test("a chunked body within the limit is read and parsed as usual", async () => {
    const res = await sendRaw(port, { method: "POST", path: "/api/user/login", bodyBytes: MAX_BODY_BYTES, chunked: true })
    // `{"a": "aaa…"}` has no email: the schema's 400, so the whole body was read and parsed.
    expect(res.status).toBe(400)
    expect(JSON.parse(res.body).errors.map((e: { field: string }) => e.field)).toEqual(["body.email", "body.password"])
  })
})

describe("methods the gateway does not route", () => {
  test("a method Bun knows (PROPFIND) on a known path is 405 with the JSON detail and Allow", async () => {
    for (const path of ["/", "/api/event"]) {
      const res = await sendRaw(port, { method: "PROPFIND", path })
      expect({ status: res.status, body: JSON.parse(res.body) }).toEqual({ status: 405, body: { detail: "Method Not Allowed" } })
      expect(res.headers.allow).toBe(path === "/" ? "GET" : "GET, POST")
    }
  })

  // Bun's HTTP parser knows a fixed list of methods (oven-sh/bun#6556) and drops a request with any other
  // before a handler could answer: the connection closes without a byte, so no 405 can be given. Deno passes
  // it to the gateway, which answers the contract's 405.
  test("a method Bun does not know (FOO): Bun closes the connection without an answer, Deno's gateway answers 405", async () => {
    const res = await sendRaw(port, { method: "FOO", path: "/api/event" })
    expect({ status: res.status, body: res.body }).toEqual(
      gatewayRuntime === "bun" ? { status: 0, body: "" } : { status: 405, body: JSON.stringify({ detail: "Method Not Allowed" }) },
    )
  })
})

describe("oversized headers", () => {
  // Bun refuses request headers over 16 KiB (its --max-http-header-size) itself, before any handler runs:
  // `431 Request Header Fields Too Large` with `Connection: close` and no body, so no JSON detail. Deno's
  // server refuses them too, as a bare `400 Bad Request`.
  test("a 100 KB cookie: the server's own 431 (Bun) or 400 (Deno), with no body", async () => {
    const res = await sendRaw(port, { method: "GET", path: "/api/user", headers: { cookie: `c=${"x".repeat(100_000)}` } })
    const status = gatewayRuntime === "bun" ? 431 : 400
    expect({ status: res.status, connection: res.headers.connection, body: res.body }).toEqual({ status, connection: "close", body: "" })
  })

  test("an 8 KB cookie is within Bun's limit and reaches the gateway", async () => {
    const res = await sendRaw(port, { method: "GET", path: "/api/user", headers: { cookie: `c=${"x".repeat(8_000)}` } })
    expect({ status: res.status, body: JSON.parse(res.body) }).toEqual({ status: 401, body: { detail: "Not authenticated" } })
  })
})
