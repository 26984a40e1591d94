import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { COOKIE_NAME } from "./auth.ts"
import { createTestGateway } from "../testing/gateway.ts"

let gw: Awaited<ReturnType<typeof createTestGateway>>
let seller: { user: { id: number }; cookie: string }
beforeAll(async () => {
  gw = await createTestGateway()
  seller = await gw.signUp("seller")
})
afterAll(() => gw.close())

const seating = { rows: 2, cols: 3, sections: [{ name: "B", price: 800, subsections: 1 }, { name: "A", price: 2000, subsections: 2 }], total_seats: 18 }
const eventBody = (overrides: Record<string, unknown> = {}) => ({ name: "Concert", description: "Loud", venue_name: "Arena", seating_config: seating, ...overrides })
const postEvent = (body: unknown, cookie = seller.cookie) => gw.call("POST", "/api/event", { body, cookie })
const create = async (overrides: Record<string, unknown> = {}) => {
  const res = await postEvent(eventBody(overrides))
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body
}

describe("POST /api/event", () => {
  test("a seller creates an available event; the answer echoes the seating configuration with its extra keys", async () => {
    const res = await postEvent(eventBody())
    expect(res.status).toBe(201)
    expect(res.body).toEqual({
      id: expect.any(Number),
      ...eventBody(),
      seller_id: seller.user.id,
      is_active: true,
      status: "available",
      stats: { available: 18, reserved: 0, sold: 0, total: 18 },
      hold_seconds: gw.config.holdSeconds,
      waiting_room: null,
    })
    const [{ tickets }] = await gw.sql<[{ tickets: number }]>`SELECT count(*)::int AS tickets FROM tickets WHERE event_id = ${res.body.id}`
    expect(tickets).toBe(18)
  })

  test("401 without a session or with a bad token, 403 for non-sellers and inactive sellers, checked before the body", async () => {
    expect(await gw.call("POST", "/api/event", { body: {} })).toMatchObject({ status: 401, body: { detail: "Not authenticated" } })
    expect(await postEvent(eventBody(), `${COOKIE_NAME}=x.y.z`)).toMatchObject({ status: 401, body: { detail: "Invalid token" } })
    for (const role of ["buyer", "admin"] as const) {
      const { cookie } = await gw.signUp(role)
      expect(await postEvent({}, cookie)).toMatchObject({ status: 403, body: { detail: "Only sellers can perform this action" } })
    }
    const inactive = `${COOKIE_NAME}=${gw.auth.issue({ ...seller.user, email: "s@x.com", name: "s", role: "seller", is_active: false })}`
    expect(await postEvent(eventBody(), inactive)).toMatchObject({ status: 403, body: { detail: "User is inactive" } })
  })

  test("each contract validation message, in the contract's order, and nothing is written", async () => {
    const section = { name: "A", price: 100, subsections: 1 }
    const grid = { rows: 1, cols: 1 }
    const cases: [Record<string, unknown>, string][] = [
      [{ seating_config: [] }, "Input should be a valid dictionary"],
      [{ seating_config: "25x20" }, "Input should be a valid dictionary"],
      [{ seating_config: grid }, "Invalid seating configuration: must contain sections"],
      [{ seating_config: { ...grid, sections: [] } }, "Invalid seating configuration: sections must be a non-empty list"],
      [{ seating_config: { ...grid, sections: [section, "B"] } }, "Invalid seating configuration: each section must be a dictionary"],
      [{ seating_config: { ...grid, sections: [{ price: 1, subsections: 1 }] } }, 'Invalid seating configuration: section missing required field "name"'],
      [{ seating_config: { ...grid, sections: [{ name: "A", subsections: 1 }] } }, 'Invalid seating configuration: section missing required field "price"'],
      [{ seating_config: { ...grid, sections: [{ name: "A", price: 1 }] } }, 'Invalid seating configuration: section missing required field "subsections"'],
      [{ seating_config: { ...grid, sections: [{ ...section, price: -1 }] } }, "Ticket price must over 0"],
      [{ seating_config: { ...grid, sections: [{ ...section, subsections: 0 }] } }, "Invalid seating configuration: subsections must be a positive integer"],
      [{ seating_config: { rows: 0, cols: 1, sections: [section] } }, "Invalid seating configuration: rows must be a positive integer"],
      [{ seating_config: { ...grid, sections: [section, section] } }, 'Invalid seating configuration: duplicate section name "A"'],
      [{ seating_config: { ...grid, sections: [{ ...section, price: 2 ** 31 }] } }, "Invalid seating configuration: price must be at most 2147483647"],
      // A seating problem is reported before blank texts.
      [{ name: " ", seating_config: { ...grid, sections: [] } }, "Invalid seating configuration: sections must be a non-empty list"],
      [{ name: " \t" }, "Event name cannot be empty"],
      [{ name: "", description: "" }, "Event name cannot be empty"],
      [{ description: "  " }, "Event description cannot be empty"],
      [{ venue_name: "" }, "Event venue_name cannot be empty"],
    ]
    const countEvents = async () => (await gw.sql<[{ events: number }]>`SELECT count(*)::int AS events FROM events`)[0].events
    const before = await countEvents()
    for (const [overrides, detail] of cases) {
      const res = await postEvent(eventBody(overrides))
      expect({ overrides, status: res.status, detail: res.body.detail }).toEqual({ overrides, status: 400, detail })
    }
    expect(await countEvents()).toBe(before)
  })

  test("a body of the wrong shape is a 400 schema error naming the field", async () => {
    const res = await postEvent({ ...eventBody(), name: 5, is_active: "yes" })
    expect(res.status).toBe(400)
    expect(res.body.errors.map((e: { field: string }) => e.field)).toEqual(["body.name", "body.is_active"])
  })
})

describe("GET /api/event", () => {
  test("lists active available events only; ?seller_id lists that seller's events of any status", async () => {
    const shown = await create()
    const hidden = await create({ is_active: false })
    const soldOut = await create()
    await gw.sql`UPDATE events SET status = 'sold_out' WHERE id = ${soldOut.id}`
    const other = await gw.signUp("seller")
    const othersEvent = (await postEvent(eventBody(), other.cookie)).body

    const ids = (list: { id: number }[]) => list.map((e) => e.id)
    const publicList = await gw.call("GET", "/api/event")
    expect(publicList.status).toBe(200)
    expect(ids(publicList.body)).toEqual(expect.arrayContaining([shown.id, othersEvent.id]))
    expect(ids(publicList.body)).not.toContain(hidden.id)
    expect(ids(publicList.body)).not.toContain(soldOut.id)
    expect(publicList.body.find((e: { id: number }) => e.id === shown.id)).toEqual(shown)

    const mine = await gw.call("GET", `/api/event?seller_id=${seller.user.id}`)
    expect(ids(mine.body)).toEqual(expect.arrayContaining([shown.id, hidden.id, soldOut.id]))
    expect(ids(mine.body)).not.toContain(othersEvent.id)
    expect(mine.body.find((e: { id: number }) => e.id === hidden.id)).toMatchObject({ is_active: false, status: "available" })
  })

  test("a seller_id that is not an integer is 400", async () => {
    for (const bad of ["abc", "1.5", "", "1e3"]) {
      const res = await gw.call("GET", `/api/event?seller_id=${bad}`)
      expect(res).toMatchObject({ status: 400, body: { detail: "seller_id must be an integer" } })
    }
  })
})

describe("GET /api/event/:id", () => {
  test("answers the event with its sections ordered by section then subsection, counts from the stats", async () => {
    const event = await create()
    await gw.sql`UPDATE subsection_stats SET available = 2, reserved = 3, sold = 1 WHERE event_id = ${event.id} AND section = 'A' AND subsection = 2`
    const res = await gw.call("GET", `/api/event/${event.id}`)
    expect(res.status).toBe(200)
    const counts = { available: 6, reserved: 0, sold: 0 }
    expect(res.body).toEqual({
      ...event,
      stats: { available: 14, reserved: 3, sold: 1, total: 18 },
      sections: [
        { event_id: event.id, section: "A", subsection: 1, price: 2000, ...counts },
        { event_id: event.id, section: "A", subsection: 2, price: 2000, available: 2, reserved: 3, sold: 1 },
        { event_id: event.id, section: "B", subsection: 1, price: 800, ...counts },
      ],
    })
  })

  test("an unknown id is 404 Event not found, a malformed one 400 Invalid event id", async () => {
    expect(await gw.call("GET", "/api/event/999999")).toMatchObject({ status: 404, body: { detail: "Event not found: 999999" } })
    for (const bad of ["abc", "1.5", "12345678901234567890"]) {
      expect(await gw.call("GET", `/api/event/${bad}`)).toMatchObject({ status: 400, body: { detail: "Invalid event id" } })
    }
  })

  test("every id JavaScript holds exactly is looked up; a larger one is 400 Invalid event id, never a database error", async () => {
    for (const id of [Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER]) {
      expect(await gw.call("GET", `/api/event/${id}`)).toMatchObject({ status: 404, body: { detail: `Event not found: ${id}` } })
    }
    for (const bad of ["9007199254740992", "9223372036854775807", "9223372036854775808"]) {
      expect(await gw.call("GET", `/api/event/${bad}`)).toMatchObject({ status: 400, body: { detail: "Invalid event id" } })
    }
  })
})

describe("GET /api/event/:id/sections/:section/subsection/:n/seats", () => {
  test("lists every seat of the subsection ordered by row then seat, with its counts", async () => {
    const event = await create({ seating_config: { ...seating, sections: [{ name: "VIP 1", price: 900, subsections: 1 }] } })
    const [first] = await gw.sql`
      UPDATE tickets SET status = 'reserved' WHERE event_id = ${event.id} AND row = 2 AND seat = 1 RETURNING id`
    await gw.sql`UPDATE subsection_stats SET available = 5, reserved = 1 WHERE event_id = ${event.id}`
    const res = await gw.call("GET", `/api/event/${event.id}/sections/VIP%201/subsection/1/seats`)
    expect(res.status).toBe(200)
    const { tickets, ...summary } = res.body
    expect(summary).toEqual({ event_id: event.id, section: "VIP 1", subsection: 1, price: 900, total: 6, available: 5, reserved: 1, sold: 0 })
    expect(tickets.map((t: { row: number; seat: number }) => `${t.row}-${t.seat}`)).toEqual(["1-1", "1-2", "1-3", "2-1", "2-2", "2-3"])
    expect(tickets[3]).toEqual({ id: Number(first!.id), event_id: event.id, section: "VIP 1", subsection: 1, row: 2, seat: 1, price: 900, status: "reserved" })
    expect(tickets.filter((t: { status: string }) => t.status === "available")).toHaveLength(5)
  })

  test("404 for an unknown event, then for an unknown section or subsection", async () => {
    const event = await create()
    const seats = (id: unknown, section: string, n: string) => gw.call("GET", `/api/event/${id}/sections/${section}/subsection/${n}/seats`)
    expect(await seats(999999, "A", "1")).toMatchObject({ status: 404, body: { detail: "Event not found: 999999" } })
    expect(await seats(event.id, "Z", "1")).toMatchObject({ status: 404, body: { detail: "Section Z-1 does not exist" } })
    expect(await seats(event.id, "A", "3")).toMatchObject({ status: 404, body: { detail: "Section A-3 does not exist" } })
    expect(await seats(event.id, "A", "x")).toMatchObject({ status: 404, body: { detail: "Section A-x does not exist" } })
    expect(await seats("x", "A", "1")).toMatchObject({ status: 400, body: { detail: "Invalid event id" } })
  })

  test("a subsection number an integer column cannot hold is an unknown subsection, never a database error", async () => {
    const event = await create()
    const seats = (n: string) => gw.call("GET", `/api/event/${event.id}/sections/A/subsection/${n}/seats`)
    for (const n of ["2147483647", "2147483648", "-2147483649", "99999999999"]) {
      expect(await seats(n)).toMatchObject({ status: 404, body: { detail: `Section A-${n} does not exist` } })
    }
  })
})
