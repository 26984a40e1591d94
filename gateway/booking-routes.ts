import { Elysia, t } from "elysia"
import type { Sql } from "postgres"
import { releaseCommand } from "../shared/commands.ts"
import { AppError } from "../shared/errors.ts"
import type { Logger } from "../shared/log.ts"
import type { AuthUser, Auth } from "./auth.ts"
import { cancelPendingBooking, findBooking, listBookings, payBooking } from "./bookings-db.ts"
import { createBooking, PENDING_TTL_SECONDS, type CreateBookingDeps } from "./create-booking.ts"
import { eventIdSchema } from "./event-routes.ts"
import { READ_DEADLINE_MS, withDeadline } from "./gateway-clients.ts"
import { publishPayment } from "./publish-payment.ts"
import { readBooking as readBookingFrom, readPendingBooking } from "./read-booking.ts"

/** What the booking routes need. */
export type BookingRoutesDeps = CreateBookingDeps & { sql: Sql; auth: Auth; log: Logger }

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Parses a booking id (a UUID) from a path or query, or throws 400 `Invalid booking id`. */
export const parseBookingId = (raw: string): string => {
  if (!UUID.test(raw)) throw new AppError(400, "Invalid booking id")
  return raw.toLowerCase()
}

const notFound = () => new AppError(404, "Booking not found")

/** The body schema of POST /api/booking (also served by bench/elysia-overhead.ts). */
export const createBookingBody = t.Object({
  event_id: eventIdSchema,
  section: t.String({ minLength: 1, maxLength: 10 }),
  subsection: t.Integer(),
  seat_selection_mode: t.Union([t.Literal("manual"), t.Literal("best_available")]),
  seat_positions: t.Optional(t.Array(t.String(), { default: [], description: 'Manual mode: "row-seat" strings, e.g. "1-1"' })),
  quantity: t.Integer(),
})

const BOOKING_STATUSES = ["processing", "pending_payment", "completed", "cancelled", "failed", "expired"] as const

const holdExpired = () => new AppError(400, "Booking has expired")

const randomPaymentId = () => {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
  const bytes = crypto.getRandomValues(new Uint8Array(8))
  return `PAY_MOCK_${Array.from(bytes, (b) => alphabet[b % alphabet.length]).join("")}`
}

/** Bookings: create (202, decided asynchronously), read, list, cancel and pay. */
export function bookingRoutes(deps: BookingRoutesDeps) {
  const { sql, redis, keys, auth } = deps

  const readPending = (id: string) => readPendingBooking(deps, id)
  // A PostgreSQL that stopped answering (frozen, or killed with queries in flight) would hold a read
  // forever: postgres.js has no query timeout, so the answer gets a deadline of its own.
  const readBooking = (id: string) => withDeadline(readBookingFrom(deps, id), READ_DEADLINE_MS)

  const release = (b: { id: string; buyer_id: number; event_id: number; section: string; subsection: number }) => releaseCommand(b.id, b)

  const cancel = async (user: AuthUser, id: string) => {
    const booking = await readBooking(id)
    if (!booking) throw notFound()
    if (booking.buyer_id !== user.id) throw new AppError(403, "Only the buyer can cancel this booking")
    const refuse = (status: string) => {
      if (status === "completed") throw new AppError(400, "Cannot cancel a completed booking")
      if (status === "failed") throw new AppError(400, "Cannot cancel failed booking")
      if (status === "cancelled") throw new AppError(400, "Booking is already cancelled")
      if (status === "expired") throw holdExpired()
    }
    refuse(booking.status)
    if (booking.status === "processing") {
      const pending = await readPending(id)
      if (pending?.cancel_requested) throw new AppError(400, "Booking is already cancelled")
      // The release shares the reserve's partition, so the reserver applies it after the reserve.
      await deps.commands.send(release(booking))
      if (pending) await redis.set(keys.pendingBooking(id), JSON.stringify({ ...pending, cancel_requested: true }), "EX", PENDING_TTL_SECONDS)
      return { status: "cancelled", cancelled_tickets: booking.quantity }
    }
    // The release goes out first: if the guarded update below then loses to a payment, the
    // reserver finds the booking completed and frees nothing; if it loses to the hold's deadline,
    // the reserver finds the hold due and expires it; either way no seat is stranded.
    await deps.commands.send(release(booking))
    if (!(await cancelPendingBooking(sql, id))) {
      const now = await findBooking(sql, id)
      if (now?.status === "pending_payment") throw holdExpired()
      if (now && now.status !== "cancelled") refuse(now.status)
    }
    return { status: "cancelled", cancelled_tickets: booking.quantity }
  }

  const pay = async (user: AuthUser, id: string) => {
    const booking = await readBooking(id)
    if (!booking) throw notFound()
    if (booking.buyer_id !== user.id) throw new AppError(403, "Only the buyer can pay for this booking")
    const refuse = (status: string): never => {
      if (status === "completed") throw new AppError(400, "Booking already paid")
      if (status === "cancelled") throw new AppError(400, "Cannot pay for cancelled booking")
      // Still pending_payment after the guarded update failed: the deadline had passed.
      if (status === "expired" || status === "pending_payment") throw holdExpired()
      throw new AppError(400, "Booking is not in a payable state")
    }
    if (booking.status !== "pending_payment") refuse(booking.status)
    const paid = await payBooking(sql, id)
    if (!paid) return refuse((await findBooking(sql, id))?.status ?? "unknown")
    await publishPayment(deps, booking, paid)
    return { booking_id: id, payment_id: randomPaymentId(), status: "completed", paid_at: paid.paid_at.toISOString() }
  }

  return new Elysia({ detail: { tags: ["Bookings"] } })
    .get(
      "/api/booking/my_booking",
      ({ request, query }) => {
        const user = auth.authenticate(request)
        const status = query.booking_status || undefined
        return withDeadline(listBookings(sql, user, status), READ_DEADLINE_MS)
      },
      {
        query: t.Object({ booking_status: t.Optional(t.Union([...BOOKING_STATUSES.map((s) => t.Literal(s)), t.Literal("")])) }),
        detail: { summary: "A buyer's bookings, or a seller's events' bookings, oldest first" },
      },
    )
    .get(
      "/api/booking/:id",
      async ({ request, params }) => {
        const id = parseBookingId(params.id)
        const user = auth.authenticate(request)
        const booking = await readBooking(id)
        if (!booking) throw notFound()
        if (booking.buyer_id !== user.id && booking.seller_id !== user.id) throw new AppError(403, "Not allowed to view this booking")
        const { seller_id: _, ...json } = booking
        return json
      },
      { detail: { summary: "One booking with its tickets; `processing` until the reserver decides" } },
    )
    .patch("/api/booking/:id", async ({ request, params }) => cancel(auth.require(request, "buyer"), parseBookingId(params.id)), {
      detail: { summary: "Cancel a booking; its seats become bookable again" },
    })
    .post(
      "/api/booking/:id/pay",
      async ({ request, params, body }) => {
        const user = auth.require(request, "buyer")
        if (!body?.card_number?.trim()) throw new AppError(400, "Card number is required for payment")
        return pay(user, parseBookingId(params.id))
      },
      {
        body: t.Object({ card_number: t.Optional(t.String()) }),
        detail: { summary: "Mock payment: booking completed, tickets sold" },
      },
    )
    // Derived before body validation, so an anonymous or non-buyer request gets 401/403, never a 400.
    .derive(({ request }) => ({ buyer: auth.require(request, "buyer") }))
    .post(
      "/api/booking",
      // set.status rather than status(202, …): Elysia's web-standard adapter (Deno) applies a status() only
      // when it maps the answer, after the tracing plugin has read the span's status code.
      async ({ buyer, body, request, set }) => {
        const accepted = await createBooking(deps, buyer, body, request.headers.get("idempotency-key") ?? undefined, {
          header: request.headers.get("cookie"),
          set: (cookie) => void (set.headers["set-cookie"] = cookie),
        })
        set.status = 202
        return accepted
      },
      { body: createBookingBody, detail: { summary: "Request seats; 202 once the request is durably queued" } },
    )
}
