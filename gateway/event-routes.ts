import { Elysia, t } from "elysia"
import { AppError, ValidationError } from "../shared/errors.ts"
import type { Auth } from "./auth.ts"
import { createEvent, type CreateEventDeps } from "./create-event.ts"
import { eventExists, findEvent, findSeatList, listPublicEvents, listSections, listSellerEvents } from "./events-db.ts"

/** What the event routes need. */
export type EventRoutesDeps = CreateEventDeps & { auth: Auth }

// Ids are bigint columns: every integer JavaScript holds exactly fits one. Subsection numbers are integer columns.
const MAX_ID = Number.MAX_SAFE_INTEGER
const MAX_INT4 = 2_147_483_647

// A decimal integer within ±max, or undefined: a larger one would reach PostgreSQL as an out-of-range error.
const parseInteger = (raw: string, max = MAX_ID): number | undefined => {
  if (!/^-?\d{1,16}$/.test(raw)) return undefined
  const value = Number(raw)
  return Math.abs(value) <= max ? value : undefined
}

/** The schema of an event id in a body: an integer a bigint column holds, or 400 `Invalid event id` as in a path. */
export const eventIdSchema = t.Integer({ minimum: -MAX_ID, maximum: MAX_ID, error: "Invalid event id" })

/** Parses an event id from a path, or throws 400 `Invalid event id`. */
export const parseEventId = (raw: string): number => {
  const id = parseInteger(raw)
  if (id === undefined) throw new AppError(400, "Invalid event id")
  return id
}

const eventNotFound = (id: number) => new AppError(404, `Event not found: ${id}`)

const createEventBody = t.Object({
  name: t.String({ description: "Not blank" }),
  description: t.String({ description: "Not blank" }),
  venue_name: t.String({ description: "Not blank" }),
  is_active: t.Optional(t.Boolean({ default: true })),
  hold_seconds: t.Optional(t.Unknown({ description: "Seconds a pending_payment booking holds its seats: an integer 1-86400; the server's HOLD_SECONDS when absent" })),
  seating_config: t.Unknown({
    description: 'Compact layout, e.g. {"rows": 25, "cols": 20, "sections": [{"name": "A", "price": 2000, "subsections": 2}]}; extra keys are kept',
  }),
  waiting_room: t.Optional(t.Unknown({ description: 'Optional: {"admit_per_second": 1-100000, "admission_seconds": 10-86400 (default 600)}' })),
})

/** Event creation (sellers) and the public event, section and seat queries under /api/event. */
export function eventRoutes(deps: EventRoutesDeps) {
  const { sql, auth } = deps
  return new Elysia({ detail: { tags: ["Events"] } })
    .get(
      "/api/event",
      ({ query }) => {
        if (query.seller_id === undefined) return listPublicEvents(sql)
        const sellerId = parseInteger(query.seller_id)
        if (sellerId === undefined) throw new ValidationError([{ field: "query.seller_id", message: "seller_id must be an integer" }])
        return listSellerEvents(sql, sellerId)
      },
      {
        query: t.Object({ seller_id: t.Optional(t.String({ description: "An integer: list this seller's events, any status" })) }),
        detail: { summary: "Active events on sale, or one seller's events" },
      },
    )
    .get(
      "/api/event/:id",
      async ({ params }) => {
        const id = parseEventId(params.id)
        const [event, sections] = await Promise.all([findEvent(sql, id), listSections(sql, id)])
        if (event === undefined) throw eventNotFound(id)
        return { ...event, sections }
      },
      { detail: { summary: "One event with its sections' prices and counts" } },
    )
    .get(
      "/api/event/:id/sections/:section/subsection/:n/seats",
      async ({ params }) => {
        const id = parseEventId(params.id)
        const subsection = parseInteger(params.n, MAX_INT4)
        const seats = subsection === undefined ? undefined : await findSeatList(sql, id, params.section, subsection)
        if (seats !== undefined) return seats
        if (!(await eventExists(sql, id))) throw eventNotFound(id)
        throw new AppError(404, `Section ${params.section}-${params.n} does not exist`)
      },
      { detail: { summary: "Every seat of one subsection, ordered by row then seat" } },
    )
    // Derived before body validation, so an anonymous or non-seller request gets 401/403, never a 400.
    // Local to this instance and to the routes below it.
    .derive(({ request }) => ({ seller: auth.require(request, "seller") }))
    // set.status, not status(201, …), for the span's status code on Deno (see booking-routes.ts).
    .post("/api/event", async ({ seller, body, set }) => {
      const event = await createEvent(deps, seller.id, body)
      set.status = 201
      return event
    }, {
      parse: "json",
      body: createEventBody,
      detail: { summary: "Create an event with one ticket per seat (sellers only)" },
    })
}
