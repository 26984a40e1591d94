import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test"
import { eventually } from "../../testing/helpers.ts"
import { startBookingStack, type BookingStack } from "../../testing/booking-stack.ts"
import { openSse, type SseClient, type SseFrame } from "../../testing/sse-client.ts"

let stack: BookingStack
let buyer: { cookie: string; user: { id: number } }
let other: { cookie: string; user: { id: number } }
const open: SseClient[] = []

beforeAll(async () => {
  stack = await startBookingStack()
  buyer = await stack.gw.signUp("buyer")
  other = await stack.gw.signUp("buyer")
})
// Every test leaves the hub as it found it: no subscription, no listener.
afterEach(async () => {
  for (const client of open.splice(0)) client.close()
  await eventually(async () => ((await live()).listeners === 0 ? true : undefined), 10_000, "every stream released")
})
afterAll(() => stack.stop())

const sse = async (path: string, cookie?: string) => {
  const client = await openSse(stack.base + path, cookie ? { cookie } : {})
  open.push(client)
  return client
}

const frameNames = (client: SseClient) => client.frames.map((f) => f.event)
// Read through /metrics when the gateway runs on Deno (testing/gateway.ts).
const live = () => stack.gw.liveStats()

describe("GET /api/event/:id/sse", () => {
  test("404 before streaming for an unknown event, 400 for a malformed id", async () => {
    const missing = await sse("/api/event/999999/sse")
    expect(missing.status).toBe(404)
    expect(missing.headers["content-type"]).toStartWith("application/json")
    expect(JSON.parse(missing.body())).toEqual({ detail: "Event not found: 999999" })
    expect((await stack.gw.call("GET", "/api/event/abc/sse")).body).toEqual({ detail: "Invalid event id" })
  })

  test("headers, initial_status, then status_update with the new counts after a booking and a payment", async () => {
    const eventId = await stack.createEvent()
    const client = await sse(`/api/event/${eventId}/sse`)
    expect(client.status).toBe(200)
    expect(client.headers).toMatchObject({ "content-type": "text/event-stream", "cache-control": "no-store", "x-accel-buffering": "no" })
    const initial = await client.next()
    expect(initial.event).toBe("initial_status")
    expect(initial.data).toEqual({
      event_type: "initial_status",
      event_id: eventId,
      stats: { available: 20, reserved: 0, sold: 0, total: 20 },
      name: "Live show",
      description: "A show",
      seller_id: stack.seller.user.id,
      is_active: true,
      status: "available",
      venue_name: "Hall",
      seating_config: { rows: 2, cols: 5, sections: [{ name: "A", price: 100, subsections: 2 }] },
      hold_seconds: stack.gw.config.holdSeconds,
      sections: [
        { event_id: eventId, section: "A", subsection: 1, price: 100, available: 10, reserved: 0, sold: 0 },
        { event_id: eventId, section: "A", subsection: 2, price: 100, available: 10, reserved: 0, sold: 0 },
      ],
    })

    const booking = await stack.book(buyer, eventId, 2)
    const reserved = await client.next(20_000)
    expect(reserved.event).toBe("status_update")
    expect(reserved.data).toEqual({
      event_type: "status_update",
      event_id: eventId,
      stats: { available: 18, reserved: 2, sold: 0, total: 20 },
      subsection_stats: { "A-1": { price: 100, available: 8, reserved: 2, sold: 0 } },
    })

    await stack.decided(buyer, booking.id)
    const paid = await stack.gw.call("POST", `/api/booking/${booking.id}/pay`, { cookie: buyer.cookie, body: { card_number: "4242" } })
    expect(paid.status).toBe(200)
    const sold = await client.next(10_000)
    expect(sold.data).toEqual({
      event_type: "status_update",
      event_id: eventId,
      stats: { available: 18, reserved: 0, sold: 2, total: 20 },
      subsection_stats: { "A-1": { price: 100, available: 8, reserved: 0, sold: 2 } },
    })
    expect(frameNames(client)).toEqual(["initial_status", "status_update", "status_update"])
  })

  test("updates are coalesced per event: a burst becomes a frame or two carrying the latest counts", async () => {
    const eventId = await stack.createEvent({ rows: 10, cols: 10, sections: ["A", "B"] })
    const client = await sse(`/api/event/${eventId}/sse`)
    await client.next()
    // 60 updates within a few milliseconds, as a busy sale's reserver batches would publish them.
    const pipeline = stack.gw.redis.pipeline()
    for (let i = 1; i <= 60; i++) {
      const label = i % 2 === 0 ? "A-1" : "B-2"
      pipeline.publish(stack.gw.keys.eventChannel(eventId), JSON.stringify({
        event_type: "status_update",
        event_id: eventId,
        stats: { available: 0, reserved: 0, sold: 0, total: 0 }, // ignored: totals are summed from the subsections
        subsection_stats: { [label]: { price: 100, available: 100 - i, reserved: i, sold: 0 } },
      }))
    }
    await pipeline.exec()
    const last = await client.waitFor((f) => f.data.subsection_stats?.["A-1"]?.reserved === 60, 5_000, "the last update")
    await Bun.sleep(600) // anything still to come would have been sent by now
    const updates = client.frames.filter((f) => f.event === "status_update")
    expect(updates.length).toBeLessThanOrEqual(3)
    expect(updates.at(-1)).toBe(last)
    const merged = Object.assign({}, ...updates.map((f) => f.data.subsection_stats))
    expect(merged).toEqual({ "A-1": { price: 100, available: 40, reserved: 60, sold: 0 }, "B-2": { price: 100, available: 41, reserved: 59, sold: 0 } })
    // Totals are the sum of the latest counts of every subsection, the untouched ones included.
    expect(last.data.stats).toEqual({ available: 281, reserved: 119, sold: 0, total: 400 })
  })

  test("a dropped Redis connection: the stream resumes and re-sends every subsection's counts", async () => {
    const eventId = await stack.createEvent()
    const client = await sse(`/api/event/${eventId}/sse`)
    await client.next()
    expect(await stack.gw.redis.client("KILL", "ID", String(await stack.gw.liveConnectionId()))).toBe(1)
    const resent = await client.next(10_000)
    expect(resent.data.subsection_stats).toEqual({
      "A-1": { price: 100, available: 10, reserved: 0, sold: 0 },
      "A-2": { price: 100, available: 10, reserved: 0, sold: 0 },
    })
    await stack.book(buyer, eventId, 1, { subsection: 2 })
    const after = await client.next(20_000)
    expect(after.data.subsection_stats).toEqual({ "A-2": { price: 100, available: 9, reserved: 1, sold: 0 } })
  })
})

describe("GET /api/booking/event/:event_id/sse", () => {
  test("401 without a session; 404 for an unknown event or booking; 403 for another buyer's booking; 400 for a bad id", async () => {
    const eventId = await stack.createEvent()
    const anonymous = await sse(`/api/booking/event/${eventId}/sse`)
    expect({ status: anonymous.status, body: JSON.parse(anonymous.body()) }).toEqual({ status: 401, body: { detail: "Not authenticated" } })
    const call = (path: string, cookie = buyer.cookie) => stack.gw.call("GET", path, { cookie })
    expect((await call("/api/booking/event/999999/sse")).body).toEqual({ detail: "Event not found: 999999" })
    expect((await call(`/api/booking/event/${eventId}/sse?booking_id=01890a5d-ac96-774b-bcce-b302099a8057`)).body).toEqual({ detail: "Booking not found" })
    expect((await call(`/api/booking/event/${eventId}/sse?booking_id=nope`)).body).toEqual({ detail: "Invalid booking id" })
    const theirs = await stack.book(other, eventId, 1)
    const res = await call(`/api/booking/event/${eventId}/sse?booking_id=${theirs.id}`)
    expect({ status: res.status, body: res.body }).toEqual({ status: 403, body: { detail: "Not allowed to view this booking" } })
    const elsewhere = await stack.createEvent()
    expect((await call(`/api/booking/event/${elsewhere}/sse?booking_id=${theirs.id}`, other.cookie)).body).toEqual({ detail: "Booking not found" })
    await eventually(async () => ((await live()).listeners === 0 ? true : undefined), 5_000, "no listener left behind")
  })

  test("this user's outcomes for this event only, with tickets, and error_message when failed", async () => {
    const eventId = await stack.createEvent()
    const elsewhere = await stack.createEvent()
    const client = await sse(`/api/booking/event/${eventId}/sse`, buyer.cookie)
    expect(client.status).toBe(200)
    expect(client.headers["content-type"]).toBe("text/event-stream")
    await stack.book(other, eventId, ["1-1"]) // another buyer's booking
    await stack.book(buyer, elsewhere, ["1-1"]) // another event
    const mine = await stack.book(buyer, eventId, ["1-2", "1-3"])
    const taken = await stack.book(buyer, eventId, ["1-3"])
    const first = await client.next(20_000)
    expect(first).toMatchObject({ event: "status_update" })
    expect(first.data).toEqual({
      event_type: "booking_updated",
      event_id: eventId,
      booking_id: mine.id,
      section: "A",
      subsection: 1,
      status: "pending_payment",
      tickets: [
        { id: expect.any(Number), section: "A", subsection: 1, row: 1, seat: 2, price: 100, status: "reserved" },
        { id: expect.any(Number), section: "A", subsection: 1, row: 1, seat: 3, price: 100, status: "reserved" },
      ],
      expires_at: expect.any(String),
    })
    const second = await client.next(20_000)
    expect(second.data).toMatchObject({ booking_id: taken.id, status: "failed", error_message: "Seat 1-3 is already reserved", tickets: [] })
    await Bun.sleep(300)
    expect(client.frames).toHaveLength(2)
  })

  test("?booking_id= after the outcome: the current state first, then payment, then close", async () => {
    const eventId = await stack.createEvent()
    const booking = await stack.book(buyer, eventId, 2)
    await stack.decided(buyer, booking.id)
    const client = await sse(`/api/booking/event/${eventId}/sse?booking_id=${booking.id}`, buyer.cookie)
    const current = await client.next()
    expect(current.data).toMatchObject({ event_type: "booking_updated", booking_id: booking.id, status: "pending_payment" })
    expect(current.data.tickets.map((t: { status: string }) => t.status)).toEqual(["reserved", "reserved"])
    await stack.gw.call("POST", `/api/booking/${booking.id}/pay`, { cookie: buyer.cookie, body: { card_number: "4242" } })
    const completed = await client.next()
    expect(completed.data).toMatchObject({ booking_id: booking.id, status: "completed" })
    expect(completed.data.tickets.map((t: { status: string }) => t.status)).toEqual(["sold", "sold"])
    expect(await client.next()).toMatchObject({ event: "close", data: { booking_id: booking.id, status: "completed" } })
    await client.ended
    expect(frameNames(client)).toEqual(["status_update", "status_update", "close"])
  })

  test("?booking_id= of a booking that already failed: its state with error_message, then close at once", async () => {
    const eventId = await stack.createEvent()
    await stack.decided(buyer, (await stack.book(buyer, eventId, ["2-5"])).id)
    const failed = await stack.book(buyer, eventId, ["2-5"])
    await stack.decided(buyer, failed.id)
    const client = await sse(`/api/booking/event/${eventId}/sse?booking_id=${failed.id}`, buyer.cookie)
    await client.ended
    expect(client.frames.map((f: SseFrame) => [f.event, f.data.status])).toEqual([["status_update", "failed"], ["close", "failed"]])
    expect(client.frames[0]!.data.error_message).toBe("Seat 2-5 is already reserved")
  })

  test("?booking_id= right after the 202: every state once, ending with close on cancel", async () => {
    const eventId = await stack.createEvent()
    const booking = await stack.book(buyer, eventId, 1)
    const client = await sse(`/api/booking/event/${eventId}/sse?booking_id=${booking.id}`, buyer.cookie)
    await client.waitFor((f) => f.data.status === "pending_payment", 20_000, "pending_payment")
    expect((await stack.gw.call("PATCH", `/api/booking/${booking.id}`, { cookie: buyer.cookie })).status).toBe(200)
    await client.waitFor((f) => f.event === "close", 20_000, "close")
    await client.ended
    const states = client.frames.map((f) => f.data.status)
    // "processing" is there when the stream opened before the reserver decided.
    expect(states.filter((s) => s !== "processing")).toEqual(["pending_payment", "cancelled", "cancelled"])
    expect(new Set(states).size).toBe(states.length - 1) // no state twice, apart from the close frame's
  })
})

describe("at scale", () => {
  test("1,000 event streams on one gateway all receive the update that follows a booking", async () => {
    const eventId = await stack.createEvent()
    const clients: SseClient[] = []
    const started = performance.now()
    for (let i = 0; i < 1_000; i += 100) {
      clients.push(...(await Promise.all(Array.from({ length: 100 }, () => openSse(`${stack.base}/api/event/${eventId}/sse`)))))
    }
    await Promise.all(clients.map((c) => c.waitFor((f) => f.event === "initial_status", 30_000)))
    const opened = performance.now() - started
    expect(await live()).toMatchObject({ channels: 1, listeners: 1 }) // one feed for the event, whatever the number of streams
    const metrics = (await stack.gw.call("GET", "/metrics")).body as string
    expect(metrics).toContain("\nsse_streams_open 1000\n")
    expect(metrics).toContain("\nsse_event_feeds 1\n")

    const booked = performance.now()
    await stack.book(buyer, eventId, 3)
    const received = await Promise.all(clients.map((c) => c.waitFor((f) => f.event === "status_update", 60_000, "the update")))
    const times = received.map((f) => f.at).sort((a, b) => a - b)
    const ms = (n: number) => `${n.toFixed(1)} ms`
    console.log(
      `[sse fan-out] 1,000 streams opened in ${ms(opened)}; update received by all: first ${ms(times[0]! - booked)} after the booking, ` +
        `last ${ms(times.at(-1)! - booked)}; spread first→last ${ms(times.at(-1)! - times[0]!)}`,
    )
    for (const f of received) expect(f.data.stats).toEqual({ available: 17, reserved: 3, sold: 0, total: 20 })
    for (const c of clients) c.close()
    await eventually(async () => ((await live()).channels === 0 ? true : undefined), 10_000, "all 1,000 streams released")
  })

  test("opening and closing many streams leaves no subscription or listener behind", async () => {
    const events = [await stack.createEvent(), await stack.createEvent(), await stack.createEvent()]
    expect(await live()).toEqual({ channels: 0, listeners: 0 })
    for (let round = 0; round < 3; round++) {
      const clients = await Promise.all(
        Array.from({ length: 150 }, (_, i) =>
          i % 3 === 2
            ? openSse(`${stack.base}/api/booking/event/${events[i % 3]}/sse`, { cookie: (i % 2 ? buyer : other).cookie })
            : openSse(`${stack.base}/api/event/${events[i % 3]}/sse`),
        ),
      )
      await Promise.all(clients.filter((_, i) => i % 3 !== 2).map((c) => c.next()))
      expect((await live()).channels).toBe(2 + 2) // two event channels, two users' channels
      // Half go at once, half after a moment; some before their first frame was read.
      for (const c of clients.slice(0, 75)) c.close()
      await Bun.sleep(20)
      for (const c of clients.slice(75)) c.close()
      await eventually(async () => ((await live()).listeners === 0 ? true : undefined), 10_000, `round ${round}: listeners gone`)
      expect(await live()).toEqual({ channels: 0, listeners: 0 })
      expect(Number(((await stack.gw.redis.pubsub("NUMSUB", stack.gw.keys.eventChannel(events[0]!))) as [string, number])[1])).toBe(0)
    }
  })
})
