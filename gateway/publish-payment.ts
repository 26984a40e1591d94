import type Redis from "ioredis"
import { eventCounts, type BookingUpdatedMessage, type StatusUpdateMessage } from "../shared/live-messages.ts"
import type { Logger } from "../shared/log.ts"
import { subsectionLabel, type RedisKeys } from "../shared/redis-keys.ts"
import type { BookingRecord, PaidBooking } from "./bookings-db.ts"

/**
 * Tells the live streams about a payment, as the reserver does for its outcomes: the booking, now
 * completed with its tickets sold, on the buyer's channel; the new counts on the event's channel.
 * The payment stands whatever happens here, so a Redis failure is logged, not thrown.
 */
export async function publishPayment(deps: { redis: Redis; keys: RedisKeys; log: Logger }, booking: BookingRecord, paid: PaidBooking): Promise<void> {
  const { redis, keys } = deps
  const update: BookingUpdatedMessage = {
    event_type: "booking_updated",
    booking_id: booking.id,
    event_id: booking.event_id,
    section: booking.section,
    subsection: booking.subsection,
    status: "completed",
    expires_at: null,
    tickets: (booking.tickets ?? []).map((ticket) => ({ ...ticket, status: "sold" })),
  }
  const counts: StatusUpdateMessage = {
    event_type: "status_update",
    event_id: booking.event_id,
    stats: eventCounts(paid.event),
    subsection_stats: { [subsectionLabel(booking.section, booking.subsection)]: paid.subsection },
  }
  try {
    await redis
      .pipeline()
      .publish(keys.userChannel(booking.buyer_id), JSON.stringify(update))
      .publish(keys.eventChannel(booking.event_id), JSON.stringify(counts))
      .exec()
  } catch (error) {
    deps.log.warn("payment not announced to live streams", { booking_id: booking.id, error })
  }
}
