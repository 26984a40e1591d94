import { AppError } from "../../shared/errors.ts"
import type { BookingUpdatedMessage } from "../../shared/live-messages.ts"
import type { Logger } from "../../shared/log.ts"
import type { AuthUser } from "../auth.ts"
import type { BookingRecord } from "../bookings-db.ts"
import { parseMessage, type RedisFanout } from "./redis-fanout.ts"
import { readBooking, type ReadBookingDeps } from "../read-booking.ts"
import { encodeFrame, type SseStream, type SseStreams } from "./sse-streams.ts"

/** What the booking streams need. */
export type BookingStreamsDeps = ReadBookingDeps & { live: RedisFanout; streams: SseStreams; log: Logger }

/** Statuses a booking never leaves; a stream watching one booking ends when it reaches one. */
export const TERMINAL_STATUSES: ReadonlySet<string> = new Set(["completed", "cancelled", "failed", "expired"])

const fromRecord = (b: BookingRecord): BookingUpdatedMessage => ({
  event_type: "booking_updated",
  booking_id: b.id,
  event_id: b.event_id,
  section: b.section,
  subsection: b.subsection,
  status: b.status,
  tickets: b.tickets ?? [],
  expires_at: b.expires_at,
  ...(b.error_message !== undefined ? { error_message: b.error_message } : {}),
})

const frameOf = (m: BookingUpdatedMessage) =>
  encodeFrame("status_update", {
    event_type: "booking_updated",
    event_id: m.event_id,
    booking_id: m.booking_id,
    section: m.section,
    subsection: m.subsection,
    status: m.status,
    tickets: m.tickets,
    expires_at: m.expires_at ?? null,
    ...(m.status === "failed" ? { error_message: m.error_message ?? "" } : {}),
  })

/**
 * A user's booking streams: the outcomes of the user's bookings of one event, from the user's
 * channel. Watching one booking, the stream starts with that booking's current state and ends with
 * `event: close` once it reaches a terminal status.
 */
export function createBookingStreams(deps: BookingStreamsDeps) {
  const { keys, live, streams, log } = deps

  return {
    /** Opens the stream; throws the contract's 404/403 before streaming when `bookingId` is not the user's. */
    async open(user: AuthUser, eventId: number, bookingId: string | undefined, request: Request): Promise<Response> {
      let stream: SseStream | undefined
      const early: BookingUpdatedMessage[] = []
      let lastStatus: string | undefined

      const deliver = (m: BookingUpdatedMessage) => {
        const watched = m.booking_id === bookingId
        // The first read and a message that raced it may say the same thing.
        if (watched && m.status === lastStatus) return
        if (watched) lastStatus = m.status
        stream!.send(frameOf(m))
        if (watched && TERMINAL_STATUSES.has(m.status)) {
          stream!.send(encodeFrame("close", { event_type: "close", booking_id: m.booking_id, status: m.status }))
          stream!.close()
        }
      }

      // Subscribe before reading, so an outcome published meanwhile is in `early` if not in the read.
      const channel = keys.userChannel(user.id)
      const unsubscribe = await live.subscribe(channel, (raw) => {
        const m = parseMessage<BookingUpdatedMessage>(raw, log, channel)
        if (m?.event_type !== "booking_updated" || m.event_id !== eventId) return
        if (stream) deliver(m)
        else early.push(m)
      })
      let current: BookingUpdatedMessage | undefined
      try {
        if (bookingId !== undefined) {
          const booking = await readBooking(deps, bookingId)
          if (!booking || booking.event_id !== eventId) throw new AppError(404, "Booking not found")
          if (booking.buyer_id !== user.id) throw new AppError(403, "Not allowed to view this booking")
          current = fromRecord(booking)
        }
      } catch (error) {
        unsubscribe()
        throw error
      }
      // Outcomes published while Redis was unreachable are lost: read the watched booking again.
      const stopResync =
        bookingId === undefined
          ? () => {}
          : live.onResync(() => {
              readBooking(deps, bookingId).then(
                (booking) => booking && deliver(fromRecord(booking)),
                (error) => log.warn("booking stream resync failed", { booking_id: bookingId, error }),
              )
            })
      const opened = streams.open(request, () => {
        stopResync()
        unsubscribe()
      })
      stream = opened.stream
      if (current) deliver(current)
      for (const m of early.splice(0)) deliver(m)
      return opened.response
    },
  }
}

/** The booking streams of one gateway. */
export type BookingStreams = ReturnType<typeof createBookingStreams>
