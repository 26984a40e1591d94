import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { parsePrometheusText } from "../testing/prometheus-text.ts"
import { createLogger } from "../shared/log.ts"
import { eventually } from "../testing/helpers.ts"
import { createTestGateway } from "../testing/gateway.ts"

const lines: string[] = []
let gw: Awaited<ReturnType<typeof createTestGateway>>

beforeAll(async () => {
  gw = await createTestGateway({ log: createLogger("gateway", "debug", {}, (line) => lines.push(line)) })
})
afterAll(() => gw.close())

const scrape = async () => {
  const res = await gw.call("GET", "/metrics")
  expect(res.status).toBe(200)
  expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8")
  return parsePrometheusText(res.body as string)
}

describe("request metrics", () => {
  test("count by route pattern and the status actually answered, errors included", async () => {
    const before = await scrape()
    const count = (m: typeof before, method: string, route: string, status: string) => m.value("http_requests_total", { method, route, status }) ?? 0
    await gw.call("GET", "/health")
    await gw.call("GET", "/api/booking/01a21213-2a8a-7454-b4af-7c16385178b0") // 401: no session
    await gw.call("GET", "/api/booking/another-id") // 400: not a booking id
    await gw.call("GET", "/no/such/path") // 404
    await gw.call("DELETE", "/api/user") // 405
    await gw.call("POST", "/api/user", { body: "{not json" }) // 400
    // Elysia runs afterResponse hooks once the answer is out, so the last one may still be pending.
    const after = await eventually(async () => {
      const m = await scrape()
      return count(m, "POST", "/api/user", "400") > count(before, "POST", "/api/user", "400") ? m : undefined
    }, 5_000, "the last request counted")
    expect(count(after, "GET", "/health", "200") - count(before, "GET", "/health", "200")).toBe(1)
    expect(count(after, "GET", "/api/booking/:id", "401") - count(before, "GET", "/api/booking/:id", "401")).toBe(1)
    expect(count(after, "GET", "/api/booking/:id", "400") - count(before, "GET", "/api/booking/:id", "400")).toBe(1)
    expect(count(after, "GET", "unmatched", "404") - count(before, "GET", "unmatched", "404")).toBe(1)
    expect(count(after, "DELETE", "unmatched", "405") - count(before, "DELETE", "unmatched", "405")).toBe(1)
    expect(count(after, "POST", "/api/user", "400") - count(before, "POST", "/api/user", "400")).toBe(1)
    expect(after.value("http_request_duration_seconds_count", { method: "GET", route: "/api/booking/:id" })).toBeGreaterThanOrEqual(2)
    expect(after.samples.some((s) => s.labels.route?.includes("another-id") || s.labels.route === "/no/such/path")).toBe(false)
    expect(after.value("sse_streams_open")).toBe(0)
  })

  test("at debug level, one JSON line per request with route and status; none at info", async () => {
    await gw.call("GET", "/logged/once")
    const logged = await eventually(() => {
      const found = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === "request" && l.path === "/logged/once")
      return found.length > 0 ? found : undefined
    }, 5_000, "the request's log line")
    expect(logged).toEqual([expect.objectContaining({ level: "debug", method: "GET", route: "unmatched", status: 404, ms: expect.any(Number) })])
    const info: string[] = []
    const atInfo = await createTestGateway({ log: createLogger("gateway", "info", {}, (line) => info.push(line)) })
    try {
      await atInfo.call("GET", "/health")
      await atInfo.call("GET", "/no/such/path")
      await Bun.sleep(100)
    } finally {
      await atInfo.close()
    }
    expect(info).toEqual([])
  })
})
