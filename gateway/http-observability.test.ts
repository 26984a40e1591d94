import { expect, test } from "bun:test"
import { isTraced } from "./http-observability.ts"

test("API requests are traced; scrapes, health checks and SSE streams are not", () => {
  expect(isTraced("http://127.0.0.1:8200/api/booking")).toBe(true)
  expect(isTraced("http://127.0.0.1:8200/api/event/1?x=1")).toBe(true)
  expect(isTraced("http://127.0.0.1:8200/metrics")).toBe(false)
  expect(isTraced("http://127.0.0.1:8200/health")).toBe(false)
  expect(isTraced("http://127.0.0.1:8200/api/event/1/sse")).toBe(false)
  expect(isTraced("http://localhost/api/booking/event/1/sse?booking_id=01890a5d-ac96-774b-bcce-b302099a8057")).toBe(false)
})
