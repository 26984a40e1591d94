// The seat decisions of the batch step, with no I/O: given the touched subsections' seat maps
// and the bookings PostgreSQL already has, it decides each command in message order and says
// what the transaction must write. The batch step (batch-step.ts) loads before it and writes after it.
// Expiries are decided here too, in the same order: an `expire` command frees a hold only when
// PostgreSQL said, at load time, that the hold was still unpaid and past its deadline.
import type { Command, ReserveCommand } from "../shared/commands.ts"
import { commandKey } from "../shared/kafka.ts"
import { subsectionLabel } from "../shared/redis-keys.ts"
import { isTaken, seatIndex, seatOfIndex, setTaken, type SeatFinder } from "../shared/seat-finder.ts"
import type { Grid } from "./seat-state.ts"
import { formatSeatPosition, type Ticket } from "../shared/tickets.ts"

/** A booking's status, as PostgreSQL records it. */
export type BookingStatus = "pending_payment" | "failed" | "cancelled" | "completed" | "expired"

/** One booking's result, as published to its buyer. */
export type BookingOutcome = {
  booking_id: string
  buyer_id: number
  event_id: number
  section: string
  subsection: number
  status: BookingStatus
  tickets: Ticket[]
  error_message?: string
  /** The hold's deadline while pending_payment, and once expired; null otherwise. */
  expires_at: string | null
  replayed: boolean
}

/** What one batch step decided, for the consumer's commit, metrics and traces. */
export type BatchResult = {
  outcomes: BookingOutcome[]
  /** Commands that cannot be decided because their subsection or their buyer does not exist; they go to the dead-letter topic. */
  rejected: { command: Command; reason: string }[]
  reserved: number
  failed: number
  released: number
  expired: number
}

/** A ticket's holder before and after the batch: null = free, otherwise a booking id. */
export type SeatChange = { initial: string | null; final: string | null }

/** One touched subsection as the batch sees it: its seat map, updated decision by decision, and the seats that changed. */
export type SubsectionSeats = {
  key: string
  grid: Grid
  map: Uint8Array
  changes: Map<number, SeatChange>
  /** The whole map goes back to Redis: it was rebuilt from PostgreSQL or corrected by a replay. */
  rewrite: boolean
}

/** A subsection's seat map as loaded for the batch; `fromDb` when it was rebuilt from PostgreSQL rather than read from Redis. */
export type LoadedSeatMap = { grid: Grid; map: Uint8Array; fromDb: boolean }

/**
 * A booking of this batch that PostgreSQL already has (a replay, or the reserve before a
 * release), with the current state of the ticket at each seat it recorded.
 */
export type RecordedBooking = {
  id: string
  buyerId: number
  status: BookingStatus
  errorMessage?: string
  /** The hold's deadline (ISO), if it has one. */
  expiresAt: string | null
  /** PostgreSQL's clock had passed `expiresAt` when the batch loaded the booking. */
  due: boolean
  /** The key of the subsection its commands name. */
  key: string
  seats: { index: number; status: string; bookingId: string | null }[]
}

/** A booking as the batch decides it. */
export type Booking = {
  id: string
  buyerId: number
  status: BookingStatus
  /** Seats (bit indexes) this booking holds in the reserved state right now. */
  held: number[]
  /** Seats it was given when reserved (kept after a release, for the booking record). */
  chosen: number[]
  isNew: boolean
  cancelExisting: boolean
  /** A recorded hold this batch expires. */
  expireExisting: boolean
  expiresAt: string | null
  due: boolean
  command?: ReserveCommand
  errorMessage?: string
  outcome?: BookingOutcome
}

/** The decisions of one batch: every touched subsection's seats, every booking, and one outcome per booking in message order. */
export type BatchDecisions = {
  subsections: Map<string, SubsectionSeats>
  bookings: Map<string, Booking>
  outcomes: BookingOutcome[]
  reserved: number
  failed: number
  released: number
  expired: number
}

/** A booking row to insert. */
export type NewBooking = {
  id: string
  buyerId: number
  eventId: number
  section: string
  subsection: number
  quantity: number
  mode: ReserveCommand["mode"]
  /** "row-seat" of the seats given, or of the seats asked for when it failed. */
  seatPositions: string[]
  totalPrice: number
  status: BookingStatus
  errorMessage: string | null
  createdAt: string
  expiresAt: string | null
}

/** Everything the batch's transaction writes, derived from its decisions. */
export type BatchWrites = {
  newBookings: NewBooking[]
  /** Free tickets that become reserved; the update is guarded by `status = 'available'`. */
  reservedTickets: { key: string; ticketId: number; bookingId: string }[]
  /** Reserved tickets that change holder or become free; guarded by their holder before the batch. */
  movedTickets: { key: string; ticketId: number; from: string; to: string | null }[]
  /** Bookings already recorded that this batch cancels. */
  cancelledBookings: string[]
  /** Recorded holds this batch expires; the update is guarded by `status = 'pending_payment' AND expires_at <= now()`. */
  expiredBookings: string[]
  /** Per subsection, the change of its available and reserved counts (nonzero only). */
  statDeltas: { grid: Grid; available: number; reserved: number }[]
  /** Every touched subsection, whose counts the transaction reads back. */
  subsections: Grid[]
  eventIds: number[]
}

const keyOf = (c: { event_id: number; section: string; subsection: number }) => commandKey(c.event_id, c.section, c.subsection)

/**
 * Splits off the commands that cannot be decided: those naming a subsection not in `grids`, and
 * those of a buyer not in `buyers` (a command older than a data reset; it would fail the whole
 * batch's transaction on the foreign key).
 */
export function rejectUndecidable(commands: Command[], grids: ReadonlyMap<string, Grid>, buyers: ReadonlySet<number>) {
  const rejected: BatchResult["rejected"] = []
  const valid = commands.filter((c) => {
    if (!grids.has(keyOf(c))) {
      rejected.push({ command: c, reason: `Section ${subsectionLabel(c.section, c.subsection)} of event ${c.event_id} does not exist` })
      return false
    }
    if (!buyers.has(c.buyer_id)) {
      rejected.push({ command: c, reason: `Buyer ${c.buyer_id} does not exist` })
      return false
    }
    return true
  })
  return { valid, rejected }
}

/**
 * Decides `commands` (all of known subsections and buyers) in message order. A recorded booking
 * keeps the seats PostgreSQL gave it, and those seats' bits are set to what PostgreSQL says
 * (after a crash between the PostgreSQL commit and the Redis write, Redis may be behind for
 * exactly these seats); a new reserve picks seats from the map or fails; a release frees its
 * seats; an expiry frees the seats of a hold PostgreSQL found unpaid past its deadline. A new hold's
 * deadline is `now` plus its event's hold time. The maps in `seatMaps` are this batch's own and are
 * updated in place.
 */
export function decideBatch(commands: Command[], seatMaps: LoadedSeatMap[], recorded: RecordedBooking[], findSeats: SeatFinder, now: number): BatchDecisions {
  const subsections = new Map<string, SubsectionSeats>()
  for (const { grid, map, fromDb } of seatMaps) {
    const key = commandKey(grid.eventId, grid.section, grid.subsection)
    subsections.set(key, { key, grid, map, changes: new Map(), rewrite: fromDb })
  }
  const decisions: BatchDecisions = { subsections, bookings: recordedBookings(subsections, recorded), outcomes: [], reserved: 0, failed: 0, released: 0, expired: 0 }
  for (const command of commands) {
    const sub = subsections.get(keyOf(command))!
    if (command.type === "reserve") decideReserve(decisions, sub, command, findSeats, now)
    else if (command.type === "release") decideRelease(decisions, sub, command.booking_id)
    else decideExpiry(decisions, sub, command.booking_id)
  }
  const reported = new Set<string>()
  for (const command of commands) {
    const booking = decisions.bookings.get(command.booking_id)
    if (!booking?.outcome || reported.has(booking.id)) continue
    reported.add(booking.id)
    decisions.outcomes.push(finalOutcome(booking, subsections.get(keyOf(command))!))
  }
  return decisions
}

// Sets a bit to what PostgreSQL says; a bit that Redis had wrong sends the whole map back.
function correctSeat(sub: SubsectionSeats, index: number, taken: boolean) {
  if (isTaken(sub.map, index) === taken) return
  setTaken(sub.map, index, taken)
  sub.rewrite = true
}

function recordedBookings(subsections: Map<string, SubsectionSeats>, recorded: RecordedBooking[]): Map<string, Booking> {
  const bookings = new Map<string, Booking>()
  for (const b of recorded) {
    const sub = subsections.get(b.key)!
    const held: number[] = []
    for (const seat of b.seats) {
      correctSeat(sub, seat.index, seat.status !== "available")
      if (seat.status === "reserved" && seat.bookingId === b.id) held.push(seat.index)
    }
    bookings.set(b.id, {
      id: b.id,
      buyerId: b.buyerId,
      status: b.status,
      held,
      chosen: held,
      isNew: false,
      cancelExisting: false,
      expireExisting: false,
      expiresAt: b.expiresAt,
      due: b.due,
      errorMessage: b.errorMessage,
    })
  }
  return bookings
}

// Records a seat's new holder, remembering who held it before the batch.
function recordChange(sub: SubsectionSeats, index: number, before: string | null, holder: string | null) {
  const change = sub.changes.get(index)
  if (change) change.final = holder
  else sub.changes.set(index, { initial: before, final: holder })
}

function decideReserve(decisions: BatchDecisions, sub: SubsectionSeats, command: ReserveCommand, findSeats: SeatFinder, now: number) {
  const known = decisions.bookings.get(command.booking_id)
  if (known) {
    // Already decided (a replay, or the same message delivered twice): keep that result.
    known.outcome ??= outcomeOf(known, command, !known.isNew)
    return
  }
  const { rows, cols } = sub.grid
  let seats: number[] | null = null
  let failure: string | undefined
  if (command.mode === "manual") {
    for (const [row, seat] of command.seats) {
      if (row > rows || seat > cols) {
        failure = `Seat ${row}-${seat} does not exist`
        break
      }
      if (isTaken(sub.map, seatIndex(row, seat, cols))) {
        failure = `Seat ${row}-${seat} is already reserved`
        break
      }
    }
    if (!failure) seats = command.seats.map(([row, seat]) => seatIndex(row, seat, cols))
  } else {
    seats = findSeats(sub.map, rows, cols, command.quantity)
    if (!seats) failure = `No ${command.quantity} seats available`
  }
  const booking: Booking = {
    id: command.booking_id,
    buyerId: command.buyer_id,
    status: seats ? "pending_payment" : "failed",
    held: seats ?? [],
    chosen: seats ?? [],
    isNew: true,
    cancelExisting: false,
    expireExisting: false,
    // The deadline starts at the decision: a booking still processing holds nothing and cannot expire.
    expiresAt: seats ? new Date(now + sub.grid.holdSeconds * 1000).toISOString() : null,
    due: false,
    command,
    errorMessage: failure,
  }
  for (const index of booking.held) {
    recordChange(sub, index, null, booking.id)
    setTaken(sub.map, index, true)
  }
  booking.outcome = outcomeOf(booking, command, false)
  decisions.bookings.set(booking.id, booking)
  if (seats) decisions.reserved++
  else decisions.failed++
}

function decideRelease(decisions: BatchDecisions, sub: SubsectionSeats, bookingId: string) {
  const booking = decisions.bookings.get(bookingId)
  // No reserve was ever seen for it (dead-lettered), or it failed, was paid or expired: nothing to free.
  if (!booking || booking.status === "failed" || booking.status === "completed" || booking.status === "expired") return
  // Still held past its deadline: the gateway refused this cancel (`Booking has expired`), so the hold expires instead.
  if (booking.status === "pending_payment" && booking.due) return decideExpiry(decisions, sub, bookingId)
  freeSeats(sub, booking)
  if (booking.held.length > 0 || booking.status !== "cancelled") decisions.released++
  booking.held = []
  booking.status = "cancelled"
  if (!booking.isNew) booking.cancelExisting = true
  booking.outcome = plainOutcome(booking, sub)
}

// Frees the seats a booking holds.
function freeSeats(sub: SubsectionSeats, booking: Booking) {
  for (const index of booking.held) {
    recordChange(sub, index, booking.id, null)
    setTaken(sub.map, index, false)
  }
}

const plainOutcome = (booking: Booking, sub: SubsectionSeats): BookingOutcome => {
  const { eventId, section, subsection } = sub.grid
  const expires_at = booking.status === "expired" ? booking.expiresAt : null
  return { booking_id: booking.id, buyer_id: booking.buyerId, event_id: eventId, section, subsection, status: booking.status, tickets: [], expires_at, replayed: false }
}

// An expiry applies only to a hold PostgreSQL found unpaid and past its deadline when the batch
// loaded it; anything else (paid, cancelled, already expired, a replay, a hold not yet due) is left as it is.
function decideExpiry(decisions: BatchDecisions, sub: SubsectionSeats, bookingId: string) {
  const booking = decisions.bookings.get(bookingId)
  if (!booking || booking.isNew || booking.status !== "pending_payment" || !booking.due) return
  freeSeats(sub, booking)
  booking.held = []
  booking.status = "expired"
  booking.expireExisting = true
  decisions.expired++
  booking.outcome = plainOutcome(booking, sub)
}

function outcomeOf(booking: Booking, command: ReserveCommand, replayed: boolean): BookingOutcome {
  return {
    booking_id: booking.id,
    buyer_id: command.buyer_id,
    event_id: command.event_id,
    section: command.section,
    subsection: command.subsection,
    status: booking.status,
    tickets: [],
    ...(booking.errorMessage ? { error_message: booking.errorMessage } : {}),
    expires_at: null,
    replayed,
  }
}

// The outcome as the batch leaves the booking: a booking reserved then released in one batch is published once, cancelled.
function finalOutcome(booking: Booking, sub: SubsectionSeats): BookingOutcome {
  const { section, subsection, cols, price, ticketIds } = sub.grid
  const seats = booking.status === "pending_payment" ? booking.held : []
  return {
    ...booking.outcome!,
    status: booking.status,
    expires_at: booking.status === "pending_payment" || booking.status === "expired" ? booking.expiresAt : null,
    tickets: seats.map((index) => {
      const { row, seat } = seatOfIndex(index, cols)
      return { id: ticketIds[index]!, section, subsection, row, seat, price, status: "reserved" }
    }),
  }
}

/**
 * The rows the batch's transaction writes: new bookings, tickets that change holder (a seat
 * reserved and freed again within the batch writes nothing), recorded bookings cancelled, and
 * each subsection's count change.
 */
export function writesOf(decisions: BatchDecisions): BatchWrites {
  const writes: BatchWrites = { newBookings: [], reservedTickets: [], movedTickets: [], cancelledBookings: [], expiredBookings: [], statDeltas: [], subsections: [], eventIds: [] }
  for (const sub of decisions.subsections.values()) {
    const { ticketIds } = sub.grid
    let available = 0
    for (const [index, change] of sub.changes) {
      if (change.initial === change.final) continue
      if (change.initial === null) {
        writes.reservedTickets.push({ key: sub.key, ticketId: ticketIds[index]!, bookingId: change.final! })
        available--
      } else {
        writes.movedTickets.push({ key: sub.key, ticketId: ticketIds[index]!, from: change.initial, to: change.final })
        if (change.final === null) available++
      }
    }
    if (available !== 0) writes.statDeltas.push({ grid: sub.grid, available, reserved: -available })
    writes.subsections.push(sub.grid)
  }
  for (const b of decisions.bookings.values()) {
    if (b.cancelExisting) writes.cancelledBookings.push(b.id)
    if (b.expireExisting) writes.expiredBookings.push(b.id)
    if (!b.isNew) continue
    const c = b.command!
    const cols = decisions.subsections.get(keyOf(c))!.grid.cols
    // A failed booking records the seats it asked for; any other the seats it was given.
    const positions = b.status === "failed" ? c.seats : b.chosen.map((i) => {
      const p = seatOfIndex(i, cols)
      return [p.row, p.seat] as const
    })
    writes.newBookings.push({
      id: b.id,
      buyerId: c.buyer_id,
      eventId: c.event_id,
      section: c.section,
      subsection: c.subsection,
      quantity: c.quantity,
      mode: c.mode,
      seatPositions: positions.map(([row, seat]) => formatSeatPosition(row, seat)),
      totalPrice: b.status === "failed" ? 0 : c.price * c.quantity,
      status: b.status,
      errorMessage: b.errorMessage ?? null,
      createdAt: c.created_at,
      expiresAt: b.status === "pending_payment" ? b.expiresAt : null,
    })
  }
  writes.eventIds = [...new Set(writes.subsections.map((g) => g.eventId))]
  return writes
}

/** An event is sold out when its last seat is reserved, and available again when one is freed. */
export const eventStatusFor = (available: number): "sold_out" | "available" => (available === 0 ? "sold_out" : "available")
