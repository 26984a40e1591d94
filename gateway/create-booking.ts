import type Redis from "ioredis"
import type { ReserveCommand } from "../shared/commands.ts"
import { AppError, unavailableError, ValidationError } from "../shared/errors.ts"
import { subsectionLabel, type RedisKeys } from "../shared/redis-keys.ts"
import type { Tracing } from "../shared/tracing.ts"
import type { AuthUser } from "./auth.ts"
import type { CommandProducer } from "./command-producer.ts"
import type { EventCache } from "./event-cache.ts"
import type { AdmissionCheck } from "./waiting-room/room-routes.ts"
import { randomUUIDv7 } from "./runtime.ts"
import { formatSeatPosition, MAX_TICKETS_PER_BOOKING, parseSeatPosition } from "../shared/tickets.ts"

/** The request body of POST /api/booking (already schema-checked). */
export type BookingRequest = {
  event_id: number
  section: string
  subsection: number
  seat_selection_mode: "manual" | "best_available"
  seat_positions?: string[]
  quantity: number
}

/** The 202 answer. */
export type AcceptedBooking = {
  id: string
  buyer_id: number
  event_id: number
  section: string
  subsection: number
  quantity: number
  total_price: number
  status: "processing"
  created_at: string
  paid_at: null
}

/** What the gateway keeps in Redis for a booking the reserver has not decided yet. */
export type PendingBooking = Omit<AcceptedBooking, "status" | "paid_at"> & {
  seat_selection_mode: BookingRequest["seat_selection_mode"]
  seat_positions: string[]
  cancel_requested?: boolean
}

export type CreateBookingDeps = { redis: Redis; keys: RedisKeys; events: EventCache; commands: CommandProducer; tracing?: Tracing; admission?: AdmissionCheck }

/** The request's cookies for the waiting room's admission check, and where to put a cookie it answers. */
export type BookingCookies = { header: string | null; set: (cookie: string) => void }

/** How long an undecided booking stays readable; the reserver decides in milliseconds unless it is down. */
export const PENDING_TTL_SECONDS = 24 * 3600
const IDEMPOTENCY_TTL_SECONDS = 24 * 3600

const invalid = (field: string, message: string): never => {
  throw new ValidationError([{ field, message }])
}

// The contract's checks on the body alone, in its order.
function checkSelection(body: BookingRequest): [number, number][] {
  const positions = body.seat_positions ?? []
  if (body.seat_selection_mode === "best_available") {
    if (positions.length > 0) invalid("body.seat_positions", "seat_positions must be empty for best_available selection")
    if (body.quantity < 1 || body.quantity > MAX_TICKETS_PER_BOOKING) invalid("body.quantity", `quantity must be between 1 and ${MAX_TICKETS_PER_BOOKING}`)
    return []
  }
  if (positions.length === 0) invalid("body.seat_positions", "seat_positions is required for manual selection")
  if (positions.length !== body.quantity) {
    invalid("body.quantity", "quantity must match the number of selected seat positions for manual selection")
  }
  if (positions.length > MAX_TICKETS_PER_BOOKING) invalid("body.seat_positions", `Maximum ${MAX_TICKETS_PER_BOOKING} tickets per booking`)
  return positions.map((position) => {
    const parsed = parseSeatPosition(position)
    if (!parsed) return invalid("body.seat_positions", "Invalid seat format. Expected: row-seat (e.g., 1-1, 2-3)")
    const [row, seat] = parsed
    if (row < 1 || seat < 1) invalid("body.seat_positions", "Row and seat numbers must be positive")
    return [row, seat]
  })
}

// Every contract check on the body against the event, then the fail-fast availability check.
async function checkBooking(deps: CreateBookingDeps, buyer: AuthUser, body: BookingRequest, cookies?: BookingCookies) {
  const seats = checkSelection(body)
  const meta = await deps.events.meta(body.event_id)
  if (!meta) throw new AppError(404, `Event not found: ${body.event_id}`)
  const section = await deps.events.section(body.event_id, body.section)
  const label = subsectionLabel(body.section, body.subsection)
  if (!section || body.subsection < 1 || body.subsection > section.subsections) invalid("body.section", `Section ${label} does not exist`)
  const seen = new Set<string>()
  for (const [row, seat] of seats) {
    if (row > meta.rows || seat > meta.cols) invalid("body.seat_positions", `Seat ${row}-${seat} does not exist`)
    const position = formatSeatPosition(row, seat)
    if (seen.has(position)) invalid("body.seat_positions", `Duplicate seat ${position}`)
    seen.add(position)
  }
  // An event with a waiting room takes bookings from admitted buyers only; in memory, from their token, as a rule.
  if (deps.admission) {
    const cookie = await deps.admission(buyer, body.event_id, cookies?.header ?? null)
    if (cookie) cookies?.set(cookie)
  }
  if (meta.status === "sold_out") throw new AppError(400, "No available seats: event is sold out")
  if (!meta.is_active || meta.status !== "available") throw new AppError(400, "Event is not available for booking")

  // Committed free seats only: this may accept a request that later fails, never reject one that
  // fits. The cached count spares a Redis round trip per request; a shortage is confirmed fresh.
  const cached = await deps.events.freeSeats(body.event_id, label)
  if (cached !== null && cached < body.quantity) {
    const free = await deps.events.freeSeatsNow(body.event_id, label)
    if (free !== null && free < body.quantity) throw new AppError(400, `No available seats: insufficient seats available in section ${label}`)
  }
  return { seats, price: section!.price }
}

/**
 * Accepts a booking: every contract check, the fail-fast availability check, a
 * `processing` record readable at once, and the reserve command durably in Kafka.
 * With an Idempotency-Key, a repeat returns the first answer and creates nothing.
 */
export async function createBooking(deps: CreateBookingDeps, buyer: AuthUser, body: BookingRequest, idempotencyKey?: string, cookies?: BookingCookies): Promise<AcceptedBooking> {
  const { seats, price } = deps.tracing
    ? await deps.tracing.inSpan(
        "booking.check",
        { attributes: { "booking.event_id": body.event_id, "booking.section": body.section, "booking.subsection": body.subsection, "booking.quantity": body.quantity } },
        () => checkBooking(deps, buyer, body, cookies),
      )
    : await checkBooking(deps, buyer, body, cookies)

  const accepted: AcceptedBooking = {
    id: randomUUIDv7(),
    buyer_id: buyer.id,
    event_id: body.event_id,
    section: body.section,
    subsection: body.subsection,
    quantity: body.quantity,
    total_price: price * body.quantity,
    status: "processing",
    created_at: new Date().toISOString(),
    paid_at: null,
  }
  const idemKey = idempotencyKey ? deps.keys.idempotency(buyer.id, idempotencyKey) : undefined
  if (idemKey) {
    // Claiming the key with the answer itself: a concurrent repeat reads the same booking id.
    const claimed = await deps.redis.set(idemKey, JSON.stringify(accepted), "EX", IDEMPOTENCY_TTL_SECONDS, "NX")
    if (claimed === null) {
      const first = await deps.redis.get(idemKey)
      if (first) return repeatAnswer(deps, idemKey, JSON.parse(first) as IdempotentAnswer)
    }
  }
  const { status: _, paid_at: __, ...fields } = accepted
  const pending: PendingBooking = {
    ...fields,
    seat_selection_mode: body.seat_selection_mode,
    seat_positions: seats.map(([r, s]) => formatSeatPosition(r, s)),
  }
  const command: ReserveCommand = {
    type: "reserve",
    booking_id: accepted.id,
    buyer_id: buyer.id,
    event_id: body.event_id,
    section: body.section,
    subsection: body.subsection,
    quantity: body.quantity,
    mode: body.seat_selection_mode,
    seats,
    price,
    created_at: accepted.created_at,
  }
  try {
    await deliver(deps, command, pending)
  } catch (error) {
    await deps.redis.del(deps.keys.pendingBooking(accepted.id)).catch(() => {})
    // A produce that timed out may still have been appended, so the key keeps this booking id and its
    // command: a repeat sends the same command again (the reserver decides a booking id once) instead
    // of a second booking.
    if (idemKey) {
      const unsent: IdempotentAnswer = { ...accepted, unsent: { command, pending } }
      await deps.redis.set(idemKey, JSON.stringify(unsent), "KEEPTTL").catch(() => {})
    }
    throw unavailableError("Booking service temporarily unavailable, please retry", error)
  }
  return accepted
}

/** What an Idempotency-Key holds: the first answer, plus its command while no send of it has succeeded. */
type IdempotentAnswer = AcceptedBooking & { unsent?: { command: ReserveCommand; pending: PendingBooking } }

// Writes the readable `processing` record, then hands the command to Kafka (resolves on acks=all).
async function deliver(deps: CreateBookingDeps, command: ReserveCommand, pending: PendingBooking) {
  await deps.redis.set(deps.keys.pendingBooking(command.booking_id), JSON.stringify(pending), "EX", PENDING_TTL_SECONDS)
  await deps.commands.send(command)
}

// A repeat of an Idempotency-Key: the first answer, once its command is surely in Kafka.
async function repeatAnswer(deps: CreateBookingDeps, idemKey: string, first: IdempotentAnswer): Promise<AcceptedBooking> {
  const { unsent, ...answer } = first
  if (!unsent) return answer
  try {
    await deliver(deps, unsent.command, unsent.pending)
  } catch (error) {
    throw unavailableError("Booking service temporarily unavailable, please retry", error)
  }
  await deps.redis.set(idemKey, JSON.stringify(answer), "KEEPTTL").catch(() => {})
  return answer
}
