// The waiting room end to end on one gateway (real Redis, PostgreSQL, Kafka and a reserver): the
// seller's settings, joins in order, admission at the rate, the booking route's check and the stream.
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { eventually } from "../../testing/helpers.ts"
import { startBookingStack, type BookingStack } from "../../testing/booking-stack.ts"
import { openSse } from "../../testing/sse-client.ts"
import { parsePrometheusText } from "../../testing/prometheus-text.ts"

type User = { cookie: string; user: { id: number } }

let stack: BookingStack
let seller: User
let otherSeller: User
const buyers: User[] = []

beforeAll(async () => {
  stack = await startBookingStack()
  seller = stack.seller
  otherSeller = await stack.gw.signUp("seller")
  for (let i = 0; i < 40; i++) buyers.push(await stack.gw.signUp("buyer"))
})
afterAll(() => stack.stop())

const call = (method: string, path: string, user?: User, body?: unknown, headers: Record<string, string> = {}) =>
  stack.gw.call(method, path, { cookie: user?.cookie, body, headers })

const eventBody = (waitingRoom?: unknown) => ({
  name: "Big sale",
  description: "Everyone wants in",
  venue_name: "Dome",
  seating_config: { rows: 2, cols: 5, sections: [{ name: "A", price: 100, subsections: 1 }] },
  ...(waitingRoom === undefined ? {} : { waiting_room: waitingRoom }),
})

const createEvent = async (waitingRoom?: unknown) => {
  const res = await call("POST", "/api/event", seller, eventBody(waitingRoom))
  expect(res.status).toBe(201)
  return res.body as { id: number; waiting_room: unknown }
}

const booking = (eventId: number) => ({ event_id: eventId, section: "A", subsection: 1, seat_selection_mode: "best_available", seat_positions: [], quantity: 1 })

// The cookie a buyer holds after an answer that set one (session plus admission token).
const withCookie = (user: User, setCookie: string | null): User => (setCookie ? { ...user, cookie: `${user.cookie}; ${setCookie.split(";")[0]}` } : user)

describe("settings", () => {
  test("off by default: the event carries waiting_room null and joining is refused", async () => {
    const event = await createEvent()
    expect(event.waiting_room).toBeNull()
    expect((await call("GET", `/api/event/${event.id}`)).body.waiting_room).toBeNull()
    const join = await call("POST", `/api/event/${event.id}/waiting_room/join`, buyers[0])
    expect(join).toMatchObject({ status: 400, body: { detail: "Event has no waiting room" } })
    expect((await call("POST", "/api/booking", buyers[0], booking(event.id))).status).toBe(202)
  })

  test("set at creation, with admission_seconds defaulting to 600, and listed with the event", async () => {
    const event = await createEvent({ admit_per_second: 50 })
    expect(event.waiting_room).toEqual({ admit_per_second: 50, admission_seconds: 600 })
    expect((await call("GET", `/api/event/${event.id}`)).body.waiting_room).toEqual({ admit_per_second: 50, admission_seconds: 600 })
    const listed = (await call("GET", `/api/event?seller_id=${seller.user.id}`)).body as { id: number; waiting_room: unknown }[]
    expect(listed.find((e) => e.id === event.id)?.waiting_room).toEqual({ admit_per_second: 50, admission_seconds: 600 })
  })

  test("out-of-range settings are 400 with the contract's messages, at creation and on PUT", async () => {
    const event = await createEvent()
    for (const rate of [0, 100_001, 2.5]) {
      const created = await call("POST", "/api/event", seller, eventBody({ admit_per_second: rate }))
      expect(created).toMatchObject({ status: 400, body: { detail: "admit_per_second must be between 1 and 100000" } })
      const put = await call("PUT", `/api/event/${event.id}/waiting_room`, seller, { admit_per_second: rate })
      expect(put).toMatchObject({ status: 400, body: { detail: "admit_per_second must be between 1 and 100000" } })
    }
    for (const seconds of [9, 86_401]) {
      const created = await call("POST", "/api/event", seller, eventBody({ admit_per_second: 5, admission_seconds: seconds }))
      expect(created).toMatchObject({ status: 400, body: { detail: "admission_seconds must be between 10 and 86400" } })
      const put = await call("PUT", `/api/event/${event.id}/waiting_room`, seller, { admit_per_second: 5, admission_seconds: seconds })
      expect(put).toMatchObject({ status: 400, body: { detail: "admission_seconds must be between 10 and 86400" } })
    }
  })

  test("PUT and DELETE: the seller gets the event JSON; another seller 403, a buyer 403, an unknown event 404", async () => {
    const event = await createEvent()
    const put = await call("PUT", `/api/event/${event.id}/waiting_room`, seller, { admit_per_second: 10, admission_seconds: 60 })
    expect(put.status).toBe(200)
    expect(put.body).toMatchObject({ id: event.id, name: "Big sale", waiting_room: { admit_per_second: 10, admission_seconds: 60 } })
    const other = await call("PUT", `/api/event/${event.id}/waiting_room`, otherSeller, { admit_per_second: 10 })
    expect(other).toMatchObject({ status: 403, body: { detail: "Only the event's seller can change its waiting room" } })
    expect((await call("DELETE", `/api/event/${event.id}/waiting_room`, otherSeller)).body.detail).toBe("Only the event's seller can change its waiting room")
    expect((await call("PUT", `/api/event/${event.id}/waiting_room`, buyers[0], { admit_per_second: 10 })).body.detail).toBe("Only sellers can perform this action")
    const missing = await call("PUT", "/api/event/987654321/waiting_room", seller, { admit_per_second: 10 })
    expect(missing).toMatchObject({ status: 404, body: { detail: "Event not found: 987654321" } })
    expect((await call("DELETE", "/api/event/987654321/waiting_room", seller)).status).toBe(404)
    const off = await call("DELETE", `/api/event/${event.id}/waiting_room`, seller)
    expect(off.status).toBe(200)
    expect(off.body).toMatchObject({ id: event.id, waiting_room: null })
  })
})

describe("joining", () => {
  test("positions in join order from 1; a repeat keeps the place; reads answer the same; bad callers refused", async () => {
    const event = await createEvent({ admit_per_second: 1 })
    const path = `/api/event/${event.id}/waiting_room`
    const places = []
    for (const buyer of buyers.slice(0, 30)) places.push((await call("POST", `${path}/join`, buyer)).body)
    expect(places.map((p) => p.position)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1))
    for (const p of places) expect(Object.keys(p).sort()).toEqual(["admitted", "admitted_until", "ahead", "estimated_wait_seconds", "event_id", "position"])
    // The first is admitted at once; at one a second, the 30th cannot be yet.
    expect(places[0]).toMatchObject({ event_id: event.id, position: 1, ahead: 0, admitted: true })
    expect(Date.parse(places[0].admitted_until)).toBeGreaterThan(Date.now() + 500_000)
    const last = places[29]
    expect(last).toMatchObject({ position: 30, admitted: false, admitted_until: null })
    expect(last.ahead).toBeGreaterThan(0)
    expect(last.ahead).toBeLessThanOrEqual(29)
    // Honest: the ones ahead, at one a second.
    expect(last.estimated_wait_seconds).toBeGreaterThanOrEqual(last.ahead)
    expect(last.estimated_wait_seconds).toBeLessThanOrEqual(last.ahead + 2)

    const again = await call("POST", `${path}/join`, buyers[29])
    expect(again.body.position).toBe(30)
    const read = await call("GET", path, buyers[29])
    expect(read.status).toBe(200)
    expect(read.body.position).toBe(30)
    expect(read.body.ahead).toBeLessThanOrEqual(last.ahead)

    expect(await call("GET", path, buyers[35])).toMatchObject({ status: 404, body: { detail: "Not in the waiting room" } })
    expect(await call("POST", `${path}/join`, seller)).toMatchObject({ status: 403, body: { detail: "Only buyers can perform this action" } })
    expect((await call("POST", `${path}/join`)).status).toBe(401)
    expect(await call("POST", "/api/event/987654321/waiting_room/join", buyers[0])).toMatchObject({ status: 404, body: { detail: "Event not found: 987654321" } })
  })

  test("a new rate applies from now on, and nobody loses a place", async () => {
    const event = await createEvent({ admit_per_second: 1 })
    const path = `/api/event/${event.id}/waiting_room`
    for (const b of buyers.slice(0, 30)) await call("POST", `${path}/join`, b)
    expect((await call("GET", path, buyers[29])).body.admitted).toBe(false)
    const put = await call("PUT", path, seller, { admit_per_second: 100_000, admission_seconds: 30 })
    expect(put.body.waiting_room).toEqual({ admit_per_second: 100_000, admission_seconds: 30 })
    const last = await eventually(async () => {
      const read = (await call("GET", path, buyers[29])).body
      return read.admitted ? read : undefined
    }, 10_000, "the last admitted at the new rate")
    expect(last.position).toBe(30)
    expect((await call("POST", `${path}/join`, buyers[0])).body.position).toBe(1)
  })

  test("admission follows join order at the rate: admitted_until never closer together than 1/rate", async () => {
    const event = await createEvent({ admit_per_second: 20, admission_seconds: 60 })
    const path = `/api/event/${event.id}/waiting_room`
    await Promise.all(buyers.slice(0, 20).map((b) => call("POST", `${path}/join`, b)))
    const all = await eventually(async () => {
      const reads = await Promise.all(buyers.slice(0, 20).map((b) => call("GET", path, b)))
      const bodies = reads.map((r) => r.body)
      return bodies.every((b) => b.admitted) ? bodies : undefined
    }, 20_000, "all admitted")
    const times = all.sort((a, b) => a.position - b.position).map((b) => Date.parse(b.admitted_until))
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(50)
  })
})

describe("booking through the room", () => {
  test("the admitted book (token cookie, or Redis without it); the rest get 403 after body validation", async () => {
    const event = await createEvent({ admit_per_second: 1, admission_seconds: 600 })
    const path = `/api/event/${event.id}/waiting_room`
    const first = await call("POST", `${path}/join`, buyers[0])
    expect(first.body.admitted).toBe(true)
    const cookie = first.headers.get("set-cookie")
    expect(cookie).toStartWith(`waiting_room_${event.id}=`)
    expect(cookie).toContain("HttpOnly")
    for (const b of buyers.slice(1, 30)) await call("POST", `${path}/join`, b)

    expect((await call("POST", "/api/booking", withCookie(buyers[0]!, cookie), booking(event.id))).status).toBe(202)
    // Without the cookie the gateway asks Redis, and hands the token back.
    const fallback = await call("POST", "/api/booking", buyers[0], booking(event.id))
    expect(fallback.status).toBe(202)
    expect(fallback.headers.get("set-cookie")).toStartWith(`waiting_room_${event.id}=`)

    const late = buyers[29]!
    expect(await call("POST", "/api/booking", late, booking(event.id))).toMatchObject({ status: 403, body: { detail: "Not admitted from the waiting room" } })
    // Never joined, and a token of another buyer: refused alike.
    expect((await call("POST", "/api/booking", buyers[35], booking(event.id))).status).toBe(403)
    expect((await call("POST", "/api/booking", withCookie(late, cookie), booking(event.id))).status).toBe(403)
    // The body's own checks come first.
    expect(await call("POST", "/api/booking", late, { ...booking(event.id), quantity: 9 })).toMatchObject({ status: 400, body: { detail: "quantity must be between 1 and 4" } })
    expect(await call("POST", "/api/booking", late, { ...booking(event.id), section: "Z" })).toMatchObject({ status: 400, body: { detail: "Section Z-1 does not exist" } })

    // Off: everyone books. On again: a new room, where earlier admissions do not count.
    expect((await call("DELETE", path, seller)).status).toBe(200)
    await eventually(async () => ((await call("POST", "/api/booking", late, booking(event.id))).status === 202 ? true : undefined), 10_000, "room off")
    expect((await call("PUT", path, seller, { admit_per_second: 1 })).status).toBe(200)
    const refused = await eventually(async () => {
      const res = await call("POST", "/api/booking", withCookie(buyers[0]!, cookie), booking(event.id))
      return res.status === 403 ? res : undefined
    }, 10_000, "old token refused")
    expect(refused.body.detail).toBe("Not admitted from the waiting room")
    expect((await call("POST", `${path}/join`, buyers[5])).body.position).toBe(1)
  })

  test("a token is checked in memory: the booking needs no Redis read of the room", async () => {
    const event = await createEvent({ admit_per_second: 1 })
    const join = await call("POST", `/api/event/${event.id}/waiting_room/join`, buyers[2]!)
    const holder = withCookie(buyers[2]!, join.headers.get("set-cookie"))
    // Without the room's place in Redis only the token can vouch for the buyer.
    await stack.gw.redis.del(stack.gw.keys.roomPositions(event.id, 1))
    expect((await call("POST", "/api/booking", holder, booking(event.id))).status).toBe(202)
    expect((await call("POST", "/api/booking", buyers[2], booking(event.id))).status).toBe(403)
  })

  test("an admission runs out at admitted_until", async () => {
    const event = await createEvent({ admit_per_second: 1, admission_seconds: 10 })
    const join = await call("POST", `/api/event/${event.id}/waiting_room/join`, buyers[1]!)
    const holder = withCookie(buyers[1]!, join.headers.get("set-cookie"))
    expect((await call("POST", "/api/booking", holder, booking(event.id))).status).toBe(202)
    await Bun.sleep(Math.max(0, Date.parse(join.body.admitted_until) - Date.now()) + 50)
    expect(await call("POST", "/api/booking", holder, booking(event.id))).toMatchObject({ status: 403, body: { detail: "Not admitted from the waiting room" } })
    expect((await call("POST", "/api/booking", buyers[1], booking(event.id))).status).toBe(403)
  }, 30_000)
})

describe("live", () => {
  test("the stream: queue_position at once, then admitted with the deadline, then close", async () => {
    const event = await createEvent({ admit_per_second: 2, admission_seconds: 60 })
    const path = `/api/event/${event.id}/waiting_room`
    for (const b of buyers.slice(0, 4)) await call("POST", `${path}/join`, b)
    const notJoined = await openSse(`${stack.base}${path}/sse`, { cookie: buyers[10]!.cookie })
    expect(notJoined.status).toBe(404)
    expect(JSON.parse(notJoined.body()).detail).toBe("Not in the waiting room")

    const client = await openSse(`${stack.base}${path}/sse`, { cookie: buyers[3]!.cookie })
    expect(client.status).toBe(200)
    expect(client.headers["content-type"]).toBe("text/event-stream")
    const first = await client.next()
    if (first.event === "queue_position") {
      expect(first.data).toMatchObject({ event_type: "queue_position", event_id: event.id, position: 4 })
      expect(Object.keys(first.data).sort()).toEqual(["ahead", "estimated_wait_seconds", "event_id", "event_type", "position"])
    }
    const admitted = await client.waitFor((f) => f.event === "admitted", 20_000)
    expect(admitted.data).toEqual({ event_type: "admitted", event_id: event.id, admitted_until: expect.any(String) })
    const read = await call("GET", path, buyers[3])
    expect(read.body.admitted_until).toBe(admitted.data.admitted_until)
    await client.waitFor((f) => f.event === "close")
    await client.ended
    expect(client.frames.map((f) => f.event).slice(-2)).toEqual(["admitted", "close"])

    // Already admitted: admitted and close straight away.
    const again = await openSse(`${stack.base}${path}/sse`, { cookie: buyers[0]!.cookie })
    expect((await again.next()).event).toBe("admitted")
    expect((await again.next()).event).toBe("close")
  }, 30_000)

  test("a room turned off ends its waiting streams with close", async () => {
    const event = await createEvent({ admit_per_second: 1 })
    const path = `/api/event/${event.id}/waiting_room`
    for (const b of buyers.slice(0, 25)) await call("POST", `${path}/join`, b)
    const client = await openSse(`${stack.base}${path}/sse`, { cookie: buyers[24]!.cookie })
    expect((await client.next()).event).toBe("queue_position")
    expect((await call("DELETE", path, seller)).status).toBe(200)
    await client.waitFor((f) => f.event === "close", 10_000)
    await client.ended
    expect(client.frames.some((f) => f.event === "admitted")).toBe(false)
    expect(await call("GET", `${path}/stats`)).toMatchObject({ status: 400, body: { detail: "Event has no waiting room" } })
  })

  test("a waiting stream gets a queue_position frame at least every 5 s", async () => {
    const event = await createEvent({ admit_per_second: 1, admission_seconds: 60 })
    const path = `/api/event/${event.id}/waiting_room`
    for (const b of buyers.slice(0, 25)) await call("POST", `${path}/join`, b)
    const client = await openSse(`${stack.base}${path}/sse`, { cookie: buyers[24]!.cookie })
    const first = await client.next()
    expect(first.event).toBe("queue_position")
    const second = await client.next(6_000)
    expect(second.event).toBe("queue_position")
    expect(second.data.position).toBe(25)
    expect(second.data.ahead).toBeLessThan(first.data.ahead)
    client.close()
  }, 20_000)

  test("counts: the stats route and /metrics show joined, admitted and waiting per event", async () => {
    const event = await createEvent({ admit_per_second: 1 })
    for (const b of buyers.slice(0, 12)) await call("POST", `/api/event/${event.id}/waiting_room/join`, b)
    const stats = (await call("GET", `/api/event/${event.id}/waiting_room/stats`)).body
    expect(stats).toMatchObject({ event_id: event.id, admit_per_second: 1, joined: 12 })
    expect(stats.admitted + stats.waiting).toBe(12)
    expect(stats.admitted).toBeGreaterThanOrEqual(1)
    const metrics = parsePrometheusText((await call("GET", "/metrics")).body)
    const value = (name: string) => metrics.value(name, { event_id: String(event.id) })
    expect(value("waiting_room_joined")).toBe(12)
    expect(value("waiting_room_admitted")! + value("waiting_room_waiting")!).toBe(12)
  })
})
