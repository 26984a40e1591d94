// Holds that expire, end to end: gateway, Kafka, the reserver's batch step and its hold expirer,
// PostgreSQL and Redis, as a buyer and the live streams see them.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test"
import { auditEvent } from "../testing/audit.ts"
import { startBookingStack, type BookingStack } from "../testing/booking-stack.ts"
import { eventually } from "../testing/helpers.ts"
import { openSse, type SseClient } from "../testing/sse-client.ts"

let stack: BookingStack
let buyer: { cookie: string; user: { id: number } }
let other: { cookie: string; user: { id: number } }
const open: SseClient[] = []

beforeAll(async () => {
  stack = await startBookingStack()
  buyer = await stack.gw.signUp("buyer")
  other = await stack.gw.signUp("buyer")
})
afterEach(() => {
  for (const client of open.splice(0)) client.close()
})
afterAll(() => stack.stop())

const sse = async (path: string, cookie?: string) => {
  const client = await openSse(stack.base + path, cookie ? { cookie } : {})
  open.push(client)
  return client
}
const get = (path: string, who = buyer) => stack.gw.call("GET", path, { cookie: who.cookie })
const pay = (id: string, who = buyer) => stack.gw.call("POST", `/api/booking/${id}/pay`, { cookie: who.cookie, body: { card_number: "4242" } })
const cancel = (id: string, who = buyer) => stack.gw.call("PATCH", `/api/booking/${id}`, { cookie: who.cookie })
const audit = (eventId: number) => auditEvent({ sql: stack.gw.sql, redis: stack.gw.redis, keys: stack.gw.keys }, eventId)
const statusOf = async (id: string, who = buyer) => (await get(`/api/booking/${id}`, who)).body.status as string

describe("holds that expire", () => {
  test("an event carries its hold time; out of range or not an integer is 400; absent, the server's default", async () => {
    const eventId = await stack.createEvent({ holdSeconds: 7 })
    expect((await get(`/api/event/${eventId}`)).body.hold_seconds).toBe(7)
    expect((await get(`/api/event?seller_id=${stack.seller.user.id}`)).body.find((e: { id: number }) => e.id === eventId).hold_seconds).toBe(7)
    const byDefault = await stack.createEvent()
    expect((await get(`/api/event/${byDefault}`)).body.hold_seconds).toBe(stack.gw.config.holdSeconds)
    for (const bad of [0, 86_401, 1.5, "60", null, -1]) {
      const res = await stack.gw.call("POST", "/api/event", {
        cookie: stack.seller.cookie,
        body: { name: "n", description: "d", venue_name: "v", seating_config: { rows: 1, cols: 1, sections: [{ name: "A", price: 1, subsections: 1 }] }, hold_seconds: bad },
      })
      expect([bad, res.status, res.body.detail]).toEqual([bad, 400, "hold_seconds must be between 1 and 86400"])
    }
  })

  test("an unpaid hold expires: seats free and bookable, counts, sold out → available, both streams, and it cannot be paid or cancelled", async () => {
    const eventId = await stack.createEvent({ rows: 1, cols: 2, subsections: 1, holdSeconds: 1 })
    const eventStream = await sse(`/api/event/${eventId}/sse`)
    expect((await eventStream.next()).data).toMatchObject({ event_type: "initial_status", hold_seconds: 1 })

    const booking = await stack.book(buyer, eventId, 2)
    const bookingStream = await sse(`/api/booking/event/${eventId}/sse?booking_id=${booking.id}`, buyer.cookie)
    const held = await stack.decided(buyer, booking.id)
    expect(held.status).toBe("pending_payment")
    // The deadline starts when the reserver decides, not when the request arrived.
    const deadline = Date.parse(held.expires_at)
    expect(deadline).toBeGreaterThanOrEqual(Date.parse(booking.created_at) + 1_000)
    expect((await get(`/api/event/${eventId}`)).body).toMatchObject({ status: "sold_out", stats: { available: 0, reserved: 2 } })

    const expired = await eventually(async () => {
      const res = await get(`/api/booking/${booking.id}`)
      return res.body.status === "expired" ? res.body : undefined
    }, 20_000, "the hold expired")
    expect(expired).toMatchObject({ status: "expired", expires_at: held.expires_at, tickets: [] })
    const expiredFrame = await bookingStream.waitFor((f) => f.data?.status === "expired", 10_000, "booking_updated expired")
    expect(expiredFrame.data).toMatchObject({ event_type: "booking_updated", booking_id: booking.id, status: "expired", expires_at: held.expires_at, tickets: [] })
    await bookingStream.waitFor((f) => f.event === "close", 10_000, "the watched booking's stream closed")
    await eventStream.waitFor((f) => f.event === "status_update" && f.data.stats.available === 2, 10_000, "the freed seats on the event stream")

    expect((await get(`/api/event/${eventId}`)).body).toMatchObject({ status: "available", stats: { available: 2, reserved: 0, sold: 0, total: 2 } })
    const seats = (await get(`/api/event/${eventId}/sections/A/subsection/1/seats`)).body
    expect(seats.tickets.map((t: { status: string }) => t.status)).toEqual(["available", "available"])
    const listed = (await get("/api/booking/my_booking?booking_status=expired")).body as { id: string; expires_at: string }[]
    expect(listed.find((b) => b.id === booking.id)?.expires_at).toBe(held.expires_at)

    expect((await pay(booking.id)).body).toEqual({ detail: "Booking has expired" })
    expect((await cancel(booking.id)).body).toEqual({ detail: "Booking has expired" })

    // The freed seats are bookable at once.
    const again = await stack.book(other, eventId, ["1-1", "1-2"])
    expect(await stack.decided(other, again.id)).toMatchObject({ status: "pending_payment", seat_positions: ["1-1", "1-2"] })
    expect(await audit(eventId)).toEqual([])
  }, 60_000)

  test("a paid or cancelled hold never expires; expires_at is null once it left pending_payment", async () => {
    const eventId = await stack.createEvent({ rows: 1, cols: 4, subsections: 1, holdSeconds: 2 })
    const paid = await stack.book(buyer, eventId, 2)
    const cancelled = await stack.book(buyer, eventId, 2)
    await stack.decided(buyer, paid.id)
    await stack.decided(buyer, cancelled.id)
    expect((await pay(paid.id)).status).toBe(200)
    expect((await cancel(cancelled.id)).status).toBe(200)
    await Bun.sleep(3_000)
    await eventually(async () => ((await statusOf(cancelled.id)) === "cancelled" ? true : undefined), 10_000, "the cancel applied")
    const [p, c] = [(await get(`/api/booking/${paid.id}`)).body, (await get(`/api/booking/${cancelled.id}`)).body]
    expect([p.status, p.expires_at, c.status, c.expires_at]).toEqual(["completed", null, "cancelled", null])
    expect((await get(`/api/event/${eventId}`)).body.stats).toEqual({ available: 2, reserved: 0, sold: 2, total: 4 })
    expect(await audit(eventId)).toEqual([])
  }, 60_000)

  test("payments right at the deadline: each hold ends completed (paid, seats sold) or expired (refused, seats free), never both", async () => {
    const eventId = await stack.createEvent({ rows: 4, cols: 5, subsections: 1, holdSeconds: 2 })
    const bookings = []
    for (let i = 0; i < 10; i++) bookings.push(await stack.book(buyer, eventId, 2))
    const held = await Promise.all(bookings.map((b) => stack.decided(buyer, b.id)))
    expect(held.every((b) => b.status === "pending_payment")).toBe(true)
    // Each pays within ±40 ms of its deadline.
    const answers = await Promise.all(
      held.map(async (b, i) => {
        await Bun.sleep(Math.max(0, Date.parse(b.expires_at) - Date.now() + ((i % 5) - 2) * 20))
        const res = await pay(b.id)
        return { id: b.id as string, status: res.status, detail: res.body.detail as string | undefined }
      }),
    )
    for (const a of answers) expect([a.status, a.detail]).toBeOneOf([[200, undefined], [400, "Booking has expired"]])
    const final = await eventually(async () => {
      const all = await Promise.all(answers.map((a) => get(`/api/booking/${a.id}`)))
      return all.every((r) => r.body.status !== "pending_payment") ? all.map((r) => r.body) : undefined
    }, 20_000, "every hold settled")
    for (const [i, a] of answers.entries()) {
      const b = final[i]!
      if (a.status === 200) expect([b.status, b.tickets.map((t: { status: string }) => t.status)]).toEqual(["completed", ["sold", "sold"]])
      else expect([b.status, b.tickets]).toEqual(["expired", []])
    }
    const paidCount = answers.filter((a) => a.status === 200).length
    expect((await get(`/api/event/${eventId}`)).body.stats).toEqual({ available: 20 - 2 * paidCount, reserved: 0, sold: 2 * paidCount, total: 20 })
    expect(await audit(eventId)).toEqual([])
  }, 60_000)
})
