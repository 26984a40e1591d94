// What goes over the Redis pub/sub channels of redis-keys.ts (eventChannel, userChannel), as JSON.
// The reserver publishes both after each batch; the gateway's pay route publishes both after a payment.

import type { SeatCounts, Ticket } from "./tickets.ts"

/** Seat counts and price of one subsection. */
export type SubsectionCounts = SeatCounts & { price: number }

/** Seat counts of a whole event; `total` is the sum of the other three. */
export type EventCounts = SeatCounts & { total: number }

/** An event's counts with their total, from the three counts alone (no other field carried along). */
export const eventCounts = ({ available, reserved, sold }: SeatCounts): EventCounts => ({ available, reserved, sold, total: available + reserved + sold })

/** On a buyer's channel: one of the buyer's bookings changed status. */
export type BookingUpdatedMessage = {
  event_type: "booking_updated"
  booking_id: string
  event_id: number
  section: string
  subsection: number
  status: string
  tickets: Ticket[]
  /** The hold's deadline while pending_payment, and once expired; null otherwise (absent from older reservers). */
  expires_at?: string | null
  error_message?: string
}

/** On an event's channel: counts after a change, for the subsections it touched (keyed `A-1`). */
export type StatusUpdateMessage = {
  event_type: "status_update"
  event_id: number
  /** The event's sale status (`available`, `sold_out`, ...) when the counts were read. */
  status?: string
  stats: EventCounts
  subsection_stats: Record<string, SubsectionCounts>
}
