import type { Sql } from "postgres"
import type { StatusUpdateMessage, SubsectionCounts } from "../../shared/live-messages.ts"
import type { Logger } from "../../shared/log.ts"
import { parseSubsectionLabel, subsectionLabel, type RedisKeys } from "../../shared/redis-keys.ts"
import { findEvent, listSections, type EventJson, type SectionJson } from "../events-db.ts"
import { parseMessage, type RedisFanout } from "./redis-fanout.ts"
import { encodeFrame, type SseStream, type SseStreams } from "./sse-streams.ts"

/** What the public event streams need. */
export type EventStreamsDeps = { sql: Sql; keys: RedisKeys; live: RedisFanout; streams: SseStreams; log: Logger }

// One per event with clients in this process: the Redis subscription, the event's current counts
// and the clients. Updates are merged here and each frame is encoded once for every client.
type Feed = {
  eventId: number
  clients: Set<SseStream>
  /** Requests waiting for the feed to load; they keep it alive like clients do. */
  waiting: number
  loaded: Promise<boolean>
  event?: Omit<EventJson, "stats">
  sections: Map<string, SectionJson>
  /** Messages that arrived while the first read was under way, applied after it. */
  early: StatusUpdateMessage[]
  /** Subsections changed since the last frame. */
  changed: Set<string>
  /** The encoded initial_status for the current counts; dropped at each change. */
  initial?: Uint8Array
  timer?: Timer
  lastSent: number
  stop: () => void
}

/**
 * The public event streams: `initial_status`, then `status_update` frames coalesced per event to at
 * most one per `windowMs`, each with the latest counts of every subsection that changed in the window.
 */
export function createEventStreams(deps: EventStreamsDeps, windowMs = 250) {
  const { sql, keys, live, streams, log } = deps
  const feeds = new Map<number, Feed>()

  const totals = (feed: Feed) => {
    let available = 0
    let reserved = 0
    let sold = 0
    for (const s of feed.sections.values()) {
      available += s.available
      reserved += s.reserved
      sold += s.sold
    }
    return { available, reserved, sold, total: available + reserved + sold }
  }

  const initialFrame = (feed: Feed): Uint8Array =>
    (feed.initial ??= encodeFrame("initial_status", {
      event_type: "initial_status",
      event_id: feed.eventId,
      stats: totals(feed),
      name: feed.event!.name,
      description: feed.event!.description,
      seller_id: feed.event!.seller_id,
      is_active: feed.event!.is_active,
      status: feed.event!.status,
      venue_name: feed.event!.venue_name,
      seating_config: feed.event!.seating_config,
      hold_seconds: feed.event!.hold_seconds,
      sections: [...feed.sections.values()],
    }))

  const flush = (feed: Feed) => {
    feed.timer = undefined
    if (feed.changed.size === 0) return
    feed.lastSent = performance.now()
    const subsectionStats: Record<string, SubsectionCounts> = {}
    for (const label of feed.changed) {
      const section = feed.sections.get(label)
      if (section) subsectionStats[label] = { price: section.price, available: section.available, reserved: section.reserved, sold: section.sold }
    }
    feed.changed.clear()
    const frame = encodeFrame("status_update", { event_type: "status_update", event_id: feed.eventId, stats: totals(feed), subsection_stats: subsectionStats })
    for (const client of feed.clients) client.send(frame)
  }

  // The first change after a quiet window goes out on the next turn of the event loop (merging one
  // reserver batch's messages); later ones wait for the window to pass.
  const schedule = (feed: Feed) => {
    feed.initial = undefined
    // A resync's read can finish after the last client left.
    if (feed.timer || feed.changed.size === 0 || feeds.get(feed.eventId) !== feed) return
    feed.timer = setTimeout(flush, Math.max(0, feed.lastSent + windowMs - performance.now()), feed)
  }

  // Totals are summed from the subsections rather than taken from the message: messages about
  // different subsections come from different reserver partitions and may arrive out of order.
  const apply = (feed: Feed, message: StatusUpdateMessage) => {
    for (const [label, counts] of Object.entries(message.subsection_stats ?? {})) {
      const known = feed.sections.get(label)
      if (known) Object.assign(known, counts)
      else {
        feed.sections.set(label, { event_id: feed.eventId, ...parseSubsectionLabel(label), ...counts })
      }
      feed.changed.add(label)
    }
    if (message.status && feed.event) feed.event.status = message.status as EventJson["status"]
    schedule(feed)
  }

  const onMessage = (feed: Feed, raw: string) => {
    const message = parseMessage<StatusUpdateMessage>(raw, log, keys.eventChannel(feed.eventId))
    if (!message) return
    if (feed.event) apply(feed, message)
    else feed.early.push(message)
  }

  // Reads the event and its counts from PostgreSQL; false when there is no such event.
  const read = async (feed: Feed): Promise<boolean> => {
    const [event, sections] = await Promise.all([findEvent(sql, feed.eventId), listSections(sql, feed.eventId)])
    if (!event) return false
    const { stats: _, ...fields } = event
    feed.event = fields
    feed.sections = new Map(sections.map((s) => [subsectionLabel(s.section, s.subsection), s]))
    return true
  }

  // After a reconnect, messages may have been lost: read everything again and send every subsection.
  const resync = async (feed: Feed) => {
    try {
      if (!(await read(feed))) return
      for (const label of feed.sections.keys()) feed.changed.add(label)
      schedule(feed)
    } catch (error) {
      log.warn("event stream resync failed", { event_id: feed.eventId, error })
    }
  }

  const release = (feed: Feed) => {
    if (feed.clients.size > 0 || feed.waiting > 0 || feeds.get(feed.eventId) !== feed) return
    feeds.delete(feed.eventId)
    feed.stop()
  }

  // Subscribe first, then read: a change committed after the read is in a message, and one committed
  // before it is in the read; applying early messages after the read may briefly show a count the
  // read had already passed, until that subsection's next message, which always follows.
  const createFeed = (eventId: number): Feed => {
    const feed: Feed = {
      eventId,
      clients: new Set(),
      waiting: 0,
      loaded: Promise.resolve(false),
      sections: new Map(),
      early: [],
      changed: new Set(),
      lastSent: -Infinity,
      stop: () => {},
    }
    let unsubscribe: (() => void) | undefined
    let stopped = false
    const stopResync = live.onResync(() => void resync(feed))
    feed.stop = () => {
      stopped = true
      clearTimeout(feed.timer)
      stopResync()
      unsubscribe?.()
    }
    feed.loaded = (async () => {
      const off = await live.subscribe(keys.eventChannel(eventId), (raw) => onMessage(feed, raw))
      if (stopped) off()
      else unsubscribe = off
      if (!(await read(feed))) return false
      for (const message of feed.early.splice(0)) apply(feed, message)
      return true
    })()
    // A failed load (no such event, or an error) leaves the map at once, so the next request tries again.
    const discard = () => {
      if (feeds.get(eventId) !== feed) return
      feeds.delete(eventId)
      feed.stop()
    }
    feed.loaded.then((found) => found || discard(), discard)
    feeds.set(eventId, feed)
    return feed
  }

  return {
    /** Opens a stream of the event's counts, or answers undefined when there is no such event. */
    async open(eventId: number, request: Request): Promise<Response | undefined> {
      const feed = feeds.get(eventId) ?? createFeed(eventId)
      feed.waiting++
      let found: boolean
      try {
        found = await feed.loaded
      } finally {
        feed.waiting--
      }
      if (!found) return undefined
      const { stream, response } = streams.open(request, () => {
        feed.clients.delete(stream)
        release(feed)
      })
      feed.clients.add(stream)
      stream.send(initialFrame(feed))
      return response
    },
    /** Events with at least one stream open in this process. */
    get feeds(): number {
      return feeds.size
    },
  }
}

/** The public event streams of one gateway. */
export type EventStreams = ReturnType<typeof createEventStreams>
