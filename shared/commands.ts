// The booking commands on the command topic: JSON, one schema, decoded and checked in one place.

import { MAX_TICKETS_PER_BOOKING } from "./tickets.ts"

/** A reservation request accepted by the gateway (202). */
export type ReserveCommand = {
  type: "reserve"
  booking_id: string
  buyer_id: number
  event_id: number
  section: string
  subsection: number
  quantity: number
  mode: "manual" | "best_available"
  /** Manual mode: the requested seats as [row, seat]; empty for best_available. */
  seats: [number, number][]
  /** Price of one seat in this subsection, so the reserver needs no lookup. */
  price: number
  created_at: string
}

/** A cancellation: free the seats held by a booking (applied after its reserve, same partition). */
export type ReleaseCommand = {
  type: "release"
  booking_id: string
  buyer_id: number
  event_id: number
  section: string
  subsection: number
}

/**
 * An expiry: free the seats of a booking whose hold ran out, unless it was paid or cancelled.
 * Produced by the partition's owner (reserver/expire-holds.ts) under the subsection's key, so it is
 * decided in the same order as the reserves and releases of that subsection.
 */
export type ExpireCommand = Omit<ReleaseCommand, "type"> & { type: "expire" }

export type Command = ReserveCommand | ReleaseCommand | ExpireCommand

/** The release command for a booking: the booking's id and the subsection its seats are in. */
export const releaseCommand = (bookingId: string, booking: Omit<ReleaseCommand, "type" | "booking_id">): ReleaseCommand => ({
  type: "release",
  booking_id: bookingId,
  buyer_id: booking.buyer_id,
  event_id: booking.event_id,
  section: booking.section,
  subsection: booking.subsection,
})

/** A message that cannot be a command; it goes to the dead-letter topic. */
export class InvalidCommandError extends Error {
  override name = "InvalidCommandError"
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const isPositiveInt = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0

/** Serialises a command for the command topic. */
export const encodeCommand = (command: Command): Buffer => Buffer.from(JSON.stringify(command))

/** Parses and checks a message value; throws InvalidCommandError with the reason. */
export function decodeCommand(value: Buffer | null): Command {
  if (!value) throw new InvalidCommandError("empty message")
  let raw: unknown
  try {
    raw = JSON.parse(value.toString("utf8"))
  } catch {
    throw new InvalidCommandError("not JSON")
  }
  if (typeof raw !== "object" || raw === null) throw new InvalidCommandError("not a JSON object")
  const c = raw as Record<string, unknown>
  const fail = (why: string): never => {
    throw new InvalidCommandError(why)
  }
  if (typeof c.booking_id !== "string" || !UUID.test(c.booking_id)) fail("booking_id must be a UUID")
  if (!isPositiveInt(c.buyer_id)) fail("buyer_id must be a positive integer")
  if (!isPositiveInt(c.event_id)) fail("event_id must be a positive integer")
  if (typeof c.section !== "string" || c.section.length < 1 || c.section.length > 10) fail("section must be 1-10 characters")
  if (!isPositiveInt(c.subsection)) fail("subsection must be a positive integer")
  if (c.type === "release") return c as ReleaseCommand
  if (c.type === "expire") return c as ExpireCommand
  if (c.type !== "reserve") fail(`unknown command type ${JSON.stringify(c.type)}`)
  if (!isPositiveInt(c.quantity) || c.quantity > MAX_TICKETS_PER_BOOKING) fail(`quantity must be 1-${MAX_TICKETS_PER_BOOKING}`)
  if (c.mode !== "manual" && c.mode !== "best_available") fail("mode must be manual or best_available")
  if (!Array.isArray(c.seats)) fail("seats must be a list")
  const seats = c.seats as unknown[]
  for (const s of seats) {
    if (!Array.isArray(s) || s.length !== 2 || !isPositiveInt(s[0]) || !isPositiveInt(s[1])) fail("seats must be [row, seat] pairs")
  }
  if (c.mode === "manual" && seats.length !== c.quantity) fail("manual seats must match quantity")
  if (c.mode === "best_available" && seats.length !== 0) fail("best_available takes no seats")
  if (!Number.isSafeInteger(c.price) || (c.price as number) < 0) fail("price must be a non-negative integer")
  if (typeof c.created_at !== "string" || Number.isNaN(Date.parse(c.created_at))) fail("created_at must be a timestamp")
  return c as ReserveCommand
}
