import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { eventually, uniqueName } from "../testing/helpers.ts"
import { startBookingStack, type BookingStack } from "../testing/booking-stack.ts"
import type { TestResponse } from "../testing/gateway.ts"

let stack: BookingStack
let gw: BookingStack["gw"]
let seller: { cookie: string; user: { id: number } }
let buyer: { cookie: string; user: { id: number } }
let other: { cookie: string; user: { id: number } }

beforeAll(async () => {
  stack = await startBookingStack()
  gw = stack.gw
  seller = stack.seller
  buyer = await gw.signUp("buyer")
  other = await gw.signUp("buyer")
})
afterAll(() => stack.stop())

const createEvent = async (config: object = { rows: 2, cols: 5, sections: [{ name: "A", price: 100, subsections: 2 }] }, extra: object = {}) => {
  const res = await gw.call("POST", "/api/event", {
    cookie: seller.cookie,
    body: { name: "Show", description: "A show", venue_name: "Hall", seating_config: config, ...extra },
  })
  expect(res.status).toBe(201)
  return res.body.id as number
}

const book = (body: object, cookie = buyer.cookie, headers: Record<string, string> = {}) =>
  gw.call("POST", "/api/booking", { cookie, body, headers })

const bestAvailable = (eventId: number, quantity: number, section = "A", subsection = 1) =>
  ({ event_id: eventId, section, subsection, seat_selection_mode: "best_available", seat_positions: [], quantity })

const manual = (eventId: number, seats: string[], quantity = seats.length) =>
  ({ event_id: eventId, section: "A", subsection: 1, seat_selection_mode: "manual", seat_positions: seats, quantity })

const decided = (id: string, cookie = buyer.cookie) =>
  eventually(async () => {
    const res = await gw.call("GET", `/api/booking/${id}`, { cookie })
    return res.body.status !== "processing" ? (res.body as Record<string, any>) : undefined
  }, 20_000, `booking ${id} decided`)

const seatsOf = (booking: Record<string, any>) => (booking.tickets as { row: number; seat: number }[]).map((t) => `${t.row}-${t.seat}`)

const expectError = (res: TestResponse, status: number, detail: string) => {
  expect({ status: res.status, detail: res.body.detail }).toEqual({ status, detail })
}

describe("POST /api/booking checks, in contract order", () => {
  let eventId: number
  beforeAll(async () => {
    eventId = await createEvent()
  })

  test("401 without a session and 403 for a seller", async () => {
    expectError(await gw.call("POST", "/api/booking", { body: bestAvailable(eventId, 1) }), 401, "Not authenticated")
    expectError(await book(bestAvailable(eventId, 1), seller.cookie), 403, "Only buyers can perform this action")
  })

  test.each([
    [{ seat_positions: [] }, "seat_positions is required for manual selection"],
    [{ seat_positions: ["1-1"], quantity: 2 }, "quantity must match the number of selected seat positions for manual selection"],
    [{ seat_positions: ["1-1", "1-2", "1-3", "1-4", "1-5"], quantity: 5 }, "Maximum 4 tickets per booking"],
    [{ seat_positions: ["1x1"], quantity: 1 }, "Invalid seat format. Expected: row-seat (e.g., 1-1, 2-3)"],
    [{ seat_positions: ["0-1"], quantity: 1 }, "Row and seat numbers must be positive"],
    [{ seat_positions: ["3-1"], quantity: 1 }, "Seat 3-1 does not exist"],
    [{ seat_positions: ["1-6"], quantity: 1 }, "Seat 1-6 does not exist"],
    [{ seat_positions: ["1-1", "1-1"], quantity: 2 }, "Duplicate seat 1-1"],
  ])("manual %j → %s", async (fields, detail) => {
    const res = await book({ ...manual(eventId, []), quantity: 1, ...fields })
    expectError(res, 400, detail)
    expect(res.body.errors.length).toBeGreaterThan(0)
  })

  test.each([
    [{ seat_positions: ["1-1"] }, "seat_positions must be empty for best_available selection"],
    [{ quantity: 0 }, "quantity must be between 1 and 4"],
    [{ quantity: 5 }, "quantity must be between 1 and 4"],
  ])("best_available %j → %s", async (fields, detail) => {
    expectError(await book({ ...bestAvailable(eventId, 1), ...fields }), 400, detail)
  })

  test("unknown event, section and subsection", async () => {
    expectError(await book(bestAvailable(999_999, 1)), 404, "Event not found: 999999")
    expectError(await book(bestAvailable(eventId, 1, "Z", 1)), 400, "Section Z-1 does not exist")
    expectError(await book(bestAvailable(eventId, 1, "A", 3)), 400, "Section A-3 does not exist")
  })

  test("an event_id a bigint column cannot hold, or JavaScript cannot hold exactly, is 400 Invalid event id as in a path", async () => {
    for (const event_id of [1e19, -1e19, 2 ** 63, 2 ** 53]) {
      expect(await book(bestAvailable(event_id, 1))).toMatchObject({
        status: 400,
        body: { detail: "body.event_id: Invalid event id", errors: [{ field: "body.event_id", message: "Invalid event id" }] },
      })
    }
    expectError(await book(bestAvailable(Number.MAX_SAFE_INTEGER, 1)), 404, `Event not found: ${Number.MAX_SAFE_INTEGER}`)
  })

  test("schema problems are 400 with every field listed", async () => {
    const res = await book({ event_id: "x", section: "A", seat_selection_mode: "any", quantity: 1 })
    expect(res.status).toBe(400)
    expect(res.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(["body.event_id", "body.seat_selection_mode", "body.subsection"])
  })

  test("an inactive event is not available for booking", async () => {
    const inactive = await createEvent(undefined, { is_active: false })
    expectError(await book(bestAvailable(inactive, 1)), 400, "Event is not available for booking")
  })

  test("fail fast on committed free seats, and the sold-out message once the event is full", async () => {
    const small = await createEvent({ rows: 1, cols: 3, sections: [{ name: "A", price: 100, subsections: 1 }] })
    expectError(await book(bestAvailable(small, 4)), 400, "No available seats: insufficient seats available in section A-1")
    const first = await book(bestAvailable(small, 3))
    expect(first.status).toBe(202)
    expect((await decided(first.body.id)).status).toBe("pending_payment")
    await eventually(async () => ((await book(bestAvailable(small, 1))).body.detail === "No available seats: event is sold out" ? true : undefined), 10_000, "sold out")
  })
})

describe("booking lifecycle end to end", () => {
  test("202 is readable at once as processing, then pending_payment with the first free run", async () => {
    const eventId = await createEvent()
    const res = await book(bestAvailable(eventId, 2))
    expect(res.status).toBe(202)
    expect(res.body).toMatchObject({ buyer_id: buyer.user.id, event_id: eventId, section: "A", subsection: 1, quantity: 2, total_price: 200, status: "processing", paid_at: null })
    expect(res.body.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    const booking = await decided(res.body.id)
    expect(booking).toMatchObject({ status: "pending_payment", event_name: "Show", venue_name: "Hall", seat_positions: ["1-1", "1-2"], seat_selection_mode: "best_available" })
    expect(seatsOf(booking)).toEqual(["1-1", "1-2"])
    const seats = await gw.call("GET", `/api/event/${eventId}/sections/A/subsection/1/seats`)
    expect(seats.body).toMatchObject({ available: 8, reserved: 2, sold: 0, total: 10 })
  })

  test("manual conflict fails all or nothing; cancel makes the seats bookable again", async () => {
    const eventId = await createEvent()
    const a = await book(manual(eventId, ["1-2", "1-3"]))
    expect((await decided(a.body.id)).status).toBe("pending_payment")
    const b = await book(manual(eventId, ["1-1", "1-2"]), other.cookie)
    const failed = await decided(b.body.id, other.cookie)
    expect(failed).toMatchObject({ status: "failed", error_message: "Seat 1-2 is already reserved", tickets: [] })
    const cancel = await gw.call("PATCH", `/api/booking/${a.body.id}`, { cookie: buyer.cookie })
    expect(cancel).toMatchObject({ status: 200, body: { status: "cancelled", cancelled_tickets: 2 } })
    const again = await eventually(async () => {
      const res = await book(manual(eventId, ["1-1", "1-2"]), other.cookie)
      const outcome = await decided(res.body.id, other.cookie)
      return outcome.status === "pending_payment" ? outcome : undefined
    }, 20_000, "seats free again")
    expect(seatsOf(again)).toEqual(["1-1", "1-2"])
  })

  test("cancel while processing: the seats end up free", async () => {
    const eventId = await createEvent()
    const res = await book(bestAvailable(eventId, 4))
    const cancel = await gw.call("PATCH", `/api/booking/${res.body.id}`, { cookie: buyer.cookie })
    expect(cancel.body).toEqual({ status: "cancelled", cancelled_tickets: 4 })
    await eventually(async () => ((await decided(res.body.id)).status === "cancelled" ? true : undefined), 20_000, "cancelled")
    await eventually(async () => {
      const seats = await gw.call("GET", `/api/event/${eventId}/sections/A/subsection/1/seats`)
      return seats.body.available === 10 ? true : undefined
    }, 10_000, "all seats free")
  })

  test("pay completes the booking and sells its tickets; pay and cancel raced, exactly one wins", async () => {
    const eventId = await createEvent()
    const res = await book(bestAvailable(eventId, 2))
    await decided(res.body.id)
    expectError(await gw.call("POST", `/api/booking/${res.body.id}/pay`, { cookie: buyer.cookie, body: { card_number: " " } }), 400, "Card number is required for payment")
    const paid = await gw.call("POST", `/api/booking/${res.body.id}/pay`, { cookie: buyer.cookie, body: { card_number: "4242" } })
    expect(paid.status).toBe(200)
    expect(paid.body).toMatchObject({ booking_id: res.body.id, status: "completed" })
    expect(paid.body.payment_id).toMatch(/^PAY_MOCK_[A-Z0-9]{8}$/)
    const booking = await decided(res.body.id)
    expect(booking.status).toBe("completed")
    expect(booking.tickets.every((t: { status: string }) => t.status === "sold")).toBe(true)
    expectError(await gw.call("POST", `/api/booking/${res.body.id}/pay`, { cookie: buyer.cookie, body: { card_number: "4242" } }), 400, "Booking already paid")
    expectError(await gw.call("PATCH", `/api/booking/${res.body.id}`, { cookie: buyer.cookie }), 400, "Cannot cancel a completed booking")

    for (let i = 0; i < 5; i++) {
      const race = await book(bestAvailable(eventId, 1))
      await decided(race.body.id)
      const [payRes, cancelRes] = await Promise.all([
        gw.call("POST", `/api/booking/${race.body.id}/pay`, { cookie: buyer.cookie, body: { card_number: "4242" } }),
        gw.call("PATCH", `/api/booking/${race.body.id}`, { cookie: buyer.cookie }),
      ])
      expect([payRes.status, cancelRes.status].filter((s) => s === 200).length).toBe(1)
      const final = await eventually(async () => {
        const b = await decided(race.body.id)
        const settled = b.status === "completed" ? b.tickets.every((t: { status: string }) => t.status === "sold") : b.tickets.length === 0
        return settled ? b : undefined
      }, 20_000, "race settled")
      expect(final.status).toBe(payRes.status === 200 ? "completed" : "cancelled")
    }
    const stats = await gw.call("GET", `/api/event/${eventId}`)
    const a1 = stats.body.sections.find((s: { subsection: number }) => s.subsection === 1)
    const sold = await gw.sql`SELECT count(*)::int AS n FROM tickets WHERE event_id = ${eventId} AND status = 'sold'`
    expect(a1.sold).toBe(sold[0]!.n)
  })

  test("cancel and pay errors, in contract order", async () => {
    const eventId = await createEvent()
    const res = await book(bestAvailable(eventId, 1))
    const id = res.body.id
    expectError(await gw.call("PATCH", `/api/booking/${id}`, { cookie: other.cookie }), 403, "Only the buyer can cancel this booking")
    expectError(await gw.call("POST", `/api/booking/${id}/pay`, { cookie: other.cookie, body: { card_number: "1" } }), 403, "Only the buyer can pay for this booking")
    await decided(id)
    expect((await gw.call("PATCH", `/api/booking/${id}`, { cookie: buyer.cookie })).status).toBe(200)
    expectError(await gw.call("PATCH", `/api/booking/${id}`, { cookie: buyer.cookie }), 400, "Booking is already cancelled")
    expectError(await gw.call("POST", `/api/booking/${id}/pay`, { cookie: buyer.cookie, body: { card_number: "1" } }), 400, "Cannot pay for cancelled booking")

    const failing = await book(manual(eventId, ["2-5"]))
    const taken = await book(manual(eventId, ["2-5"]), other.cookie)
    await decided(failing.body.id)
    expect((await decided(taken.body.id, other.cookie)).status).toBe("failed")
    expectError(await gw.call("PATCH", `/api/booking/${taken.body.id}`, { cookie: other.cookie }), 400, "Cannot cancel failed booking")
    expectError(await gw.call("POST", `/api/booking/${taken.body.id}/pay`, { cookie: other.cookie, body: { card_number: "1" } }), 400, "Booking is not in a payable state")

    const unknown = "01890a5d-ac96-774b-bcce-b302099a8057"
    expectError(await gw.call("PATCH", `/api/booking/${unknown}`, { cookie: buyer.cookie }), 404, "Booking not found")
    expectError(await gw.call("POST", `/api/booking/${unknown}/pay`, { cookie: buyer.cookie, body: { card_number: "1" } }), 404, "Booking not found")
    expectError(await gw.call("GET", `/api/booking/${unknown}`, { cookie: buyer.cookie }), 404, "Booking not found")
    expectError(await gw.call("GET", "/api/booking/not-a-uuid", { cookie: buyer.cookie }), 400, "Invalid booking id")
    expectError(await gw.call("PATCH", "/api/booking/123", { cookie: buyer.cookie }), 400, "Invalid booking id")
    expectError(await gw.call("GET", `/api/booking/${id}`), 401, "Not authenticated")
  })

  test("visibility: the buyer and the event's seller may read a booking, nobody else", async () => {
    const eventId = await createEvent()
    const res = await book(bestAvailable(eventId, 1))
    expect((await gw.call("GET", `/api/booking/${res.body.id}`, { cookie: seller.cookie })).status).toBe(200)
    expectError(await gw.call("GET", `/api/booking/${res.body.id}`, { cookie: other.cookie }), 403, "Not allowed to view this booking")
    const otherSeller = await gw.signUp("seller")
    expectError(await gw.call("GET", `/api/booking/${res.body.id}`, { cookie: otherSeller.cookie }), 403, "Not allowed to view this booking")
  })

  test("Idempotency-Key: a repeat returns the first answer and books nothing new", async () => {
    const eventId = await createEvent()
    const key = uniqueName("idem")
    const [a, b] = await Promise.all([
      book(bestAvailable(eventId, 1), buyer.cookie, { "Idempotency-Key": key }),
      book(bestAvailable(eventId, 1), buyer.cookie, { "Idempotency-Key": key }),
    ])
    const c = await book(bestAvailable(eventId, 1), buyer.cookie, { "Idempotency-Key": key })
    expect(a.status).toBe(202)
    expect(new Set([a.body.id, b.body.id, c.body.id]).size).toBe(1)
    await decided(a.body.id)
    const rows = await gw.sql`SELECT count(*)::int AS n FROM bookings WHERE event_id = ${eventId}`
    expect(rows[0]!.n).toBe(1)
    // Another buyer's identical key is another booking.
    const d = await book(bestAvailable(eventId, 1), other.cookie, { "Idempotency-Key": key })
    expect(d.body.id).not.toBe(a.body.id)
  })

  test("my_booking: own bookings oldest first, status filter, a seller sees its events' bookings", async () => {
    const eventId = await createEvent()
    const buyerX = await gw.signUp("buyer")
    const ids: string[] = []
    for (let i = 0; i < 3; i++) ids.push((await book(bestAvailable(eventId, 1), buyerX.cookie)).body.id)
    for (const id of ids) await decided(id, buyerX.cookie)
    await gw.call("PATCH", `/api/booking/${ids[1]}`, { cookie: buyerX.cookie })
    await eventually(async () => ((await decided(ids[1]!, buyerX.cookie)).status === "cancelled" ? true : undefined))
    const mine = await gw.call("GET", "/api/booking/my_booking", { cookie: buyerX.cookie })
    expect(mine.body.map((b: { id: string }) => b.id)).toEqual(ids)
    const pending = await gw.call("GET", "/api/booking/my_booking?booking_status=pending_payment", { cookie: buyerX.cookie })
    expect(pending.body.map((b: { id: string }) => b.id)).toEqual([ids[0], ids[2]])
    const sellers = await gw.call("GET", "/api/booking/my_booking", { cookie: seller.cookie })
    expect(sellers.body.map((b: { id: string }) => b.id)).toEqual(expect.arrayContaining(ids))
    expectError(await gw.call("GET", "/api/booking/my_booking"), 401, "Not authenticated")
  })
})
