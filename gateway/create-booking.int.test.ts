// A produce that fails after the broker may have appended the command (a time-out) must not let a retry
// with the same Idempotency-Key create a second booking: the retry re-sends the same booking id.
import { afterAll, beforeAll, expect, test } from "bun:test"
import type { Command } from "../shared/commands.ts"
import { createTestGateway } from "../testing/gateway.ts"

// What reached "the broker", and how the next sends end: appended then failed (a time-out), refused, or ok.
const sent: Command[] = []
let nextSends: ("timeout" | "refused" | "ok")[] = []
const commands = {
  async send(command: Command) {
    const outcome = nextSends.shift() ?? "ok"
    if (outcome === "refused") throw Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" })
    sent.push(command)
    if (outcome === "timeout") throw new Error("Request timed out")
  },
}

let gw: Awaited<ReturnType<typeof createTestGateway>>
let buyer: { cookie: string }
let eventId: number

beforeAll(async () => {
  gw = await createTestGateway({ commands })
  const seller = await gw.signUp("seller")
  buyer = await gw.signUp("buyer")
  eventId = await gw.createEvent(seller.cookie)
})
afterAll(() => gw.close())

const book = (key: string) =>
  gw.call("POST", "/api/booking", {
    cookie: buyer.cookie,
    headers: { "Idempotency-Key": key },
    body: { event_id: eventId, section: "A", subsection: 1, seat_selection_mode: "best_available", seat_positions: [], quantity: 1 },
  })

test("a retry after a produce time-out re-sends the same booking id, and a later repeat sends nothing", async () => {
  sent.length = 0
  nextSends = ["timeout"]
  const first = await book("after-timeout")
  expect(first.status).toBe(503)
  expect(sent).toHaveLength(1)

  const retry = await book("after-timeout")
  expect(retry.status).toBe(202)
  expect(sent.map((c) => c.booking_id)).toEqual([retry.body.id, retry.body.id])
  expect((await gw.call("GET", `/api/booking/${retry.body.id}`, { cookie: buyer.cookie })).body.status).toBe("processing")

  const again = await book("after-timeout")
  expect(again.body).toEqual(retry.body)
  expect(sent).toHaveLength(2)
})

test("while the broker stays away every repeat answers 503, then the first success is the one booking", async () => {
  sent.length = 0
  nextSends = ["refused", "refused"]
  expect((await book("broker-away")).status).toBe(503)
  expect((await book("broker-away")).status).toBe(503)
  expect(sent).toHaveLength(0)

  const ok = await book("broker-away")
  expect(ok.status).toBe(202)
  expect(sent.map((c) => c.booking_id)).toEqual([ok.body.id])
  expect((await book("broker-away")).body.id).toBe(ok.body.id)
  expect(sent).toHaveLength(1)
})
