import { Elysia, t } from "elysia"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import type { Sql } from "postgres"
import { AppError } from "../../shared/errors.ts"
import type { Logger } from "../../shared/log.ts"
import type { Metrics } from "../../shared/metrics.ts"
import type { RedisKeys } from "../../shared/redis-keys.ts"
import type Redis from "ioredis"
import type { Auth } from "../auth.ts"
import { parseBookingId } from "../booking-routes.ts"
import { createBookingStreams } from "./booking-streams.ts"
import type { EventCache } from "../event-cache.ts"
import { parseEventId } from "../event-routes.ts"
import { sseStreamsOpen } from "../http-observability.ts"
import { createEventStreams } from "./event-streams.ts"
import type { RedisFanout } from "./redis-fanout.ts"
import { createSseStreams } from "./sse-streams.ts"

/** What the live routes need. */
export type LiveRoutesDeps = { sql: Sql; redis: Redis; keys: RedisKeys; auth: Auth; events: EventCache; live: RedisFanout; log: Logger; metrics: Metrics }

// The live seat page, plain HTML with an inline script: the event stream updates each subsection's
// bar at once, and the seat grids of changed subsections are fetched again (one fetch in flight per
// subsection, so a busy sale costs one request per subsection at a time). Large events start with
// their grids folded; opening one loads it. Its script reads the event id from the address.
// import.meta.url rather than Bun's import.meta.dir, so the gateway also loads under Node (profiles/node/).
const livePageFile = fileURLToPath(new URL("./live-page.html", import.meta.url))

/** Server-sent events (an event's seat counts; a user's booking outcomes) and the live seat page. */
export function liveRoutes(deps: LiveRoutesDeps) {
  // Read once, when the routes are built: the page is the same for every event.
  const livePage = readFileSync(livePageFile, "utf8")
  const streams = createSseStreams()
  const eventStreams = createEventStreams({ ...deps, streams })
  const bookingStreams = createBookingStreams({ ...deps, streams })
  // Open streams would keep the server from stopping; when the hub closes they end, and clients reconnect elsewhere.
  deps.live.onClose(() => streams.closeAll())

  const gauges = {
    streams: sseStreamsOpen(deps.metrics),
    feeds: deps.metrics.gauge("sse_event_feeds", "Events with a stream open in this process; each coalesces its updates once for all its streams."),
    channels: deps.metrics.gauge("live_updates_channels", "Redis pub/sub channels this process subscribes to."),
    listeners: deps.metrics.gauge("live_updates_listeners", "Local listeners on those channels."),
  }
  deps.metrics.onCollect(() => {
    const { channels, listeners } = deps.live.stats()
    gauges.streams.set(streams.size)
    gauges.feeds.set(eventStreams.feeds)
    gauges.channels.set(channels)
    gauges.listeners.set(listeners)
  })

  return new Elysia({ detail: { tags: ["Live updates"] } })
    .get(
      "/api/event/:id/sse",
      async ({ params, request }) => {
        const id = parseEventId(params.id)
        const response = await eventStreams.open(id, request)
        if (!response) throw new AppError(404, `Event not found: ${id}`)
        return response
      },
      { detail: { summary: "Server-sent events: initial_status, then status_update with the latest counts (at most a few a second)" } },
    )
    .get(
      "/api/booking/event/:event_id/sse",
      async ({ params, query, request }) => {
        const user = deps.auth.authenticate(request)
        const eventId = parseEventId(params.event_id)
        const bookingId = query.booking_id === undefined ? undefined : parseBookingId(query.booking_id)
        if (!(await deps.events.meta(eventId))) throw new AppError(404, `Event not found: ${eventId}`)
        return bookingStreams.open(user, eventId, bookingId, request)
      },
      {
        query: t.Object({ booking_id: t.Optional(t.String({ description: "Send this booking's state first; close once it is final" })) }),
        detail: { summary: "Server-sent events: the outcomes of this user's bookings of the event" },
      },
    )
    .get(
      "/events/:id",
      ({ params }) => {
        parseEventId(params.id)
        return new Response(livePage, { headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-cache" } })
      },
      { detail: { hide: true } },
    )
}
