// The waiting buyers' live positions. One timer per gateway serves every stream: each tick reads the
// counts of every room it follows in one Redis round trip (at most every refreshMs), then works out
// each stream's place in memory from the room's schedule (admission.ts), so a position frame costs no
// Redis read of its own, however many streams are open.
import type { Logger } from "../../shared/log.ts"
import type { Metrics } from "../../shared/metrics.ts"
import type { EventCache } from "../event-cache.ts"
import type { RedisFanout } from "../live/redis-fanout.ts"
import { encodeFrame, type SseStream, type SseStreams } from "../live/sse-streams.ts"
import { admissionTime, admittedUpTo, roomStatus, type RoomConfig, type RoomStatus, type Segment } from "./admission.ts"
import type { RoomStore, StoredPlace } from "./room-store.ts"

/** What the room streams need. */
export type RoomStreamsDeps = { store: RoomStore; events: EventCache; streams: SseStreams; live: RedisFanout; metaChannel: string; metrics: Metrics; log: Logger }

type Watcher = { stream: SseStream; buyerId: number; position: number; lastAhead: number; lastSentAt: number }

// One per room this gateway follows: the room's counts as last read, and its streams.
type Feed = {
  eventId: number
  room: RoomConfig
  joined: number
  current: Segment | undefined
  /** Redis's clock minus this process's, as of the last read. */
  offsetMs: number
  readAt: number
  touchedAt: number
  watchers: Set<Watcher>
}

/** The room's counts at `now` (this process's clock). */
export type RoomCounts = { joined: number; admitted: number; waiting: number }

const closeFrame = (eventId: number) => encodeFrame("close", { event_type: "close", event_id: eventId })

/** The frame of a waiting buyer's place. */
export const positionFrame = (s: RoomStatus) =>
  encodeFrame("queue_position", { event_type: "queue_position", event_id: s.event_id, position: s.position, ahead: s.ahead, estimated_wait_seconds: s.estimated_wait_seconds })

/** The frame of an admission. */
export const admittedFrame = (eventId: number, admittedUntil: string) => encodeFrame("admitted", { event_type: "admitted", event_id: eventId, admitted_until: admittedUntil })

/**
 * The waiting rooms followed by this gateway: their streams, and their counts for /metrics and the live
 * page. A room is followed while it has streams, and for `followMs` after its last join or read here.
 */
export function createRoomStreams(deps: RoomStreamsDeps, { tickMs = 100, refreshMs = 1_000, positionMs = 1_000, silenceMs = 4_000, followMs = 60_000 } = {}) {
  const { store, events, streams, log } = deps
  const feeds = new Map<number, Feed>()
  const gauges = {
    joined: deps.metrics.gauge("waiting_room_joined", "Buyers who joined the event's waiting room (as last read by this gateway).", ["event_id"]),
    admitted: deps.metrics.gauge("waiting_room_admitted", "Buyers the event's waiting room has admitted.", ["event_id"]),
    waiting: deps.metrics.gauge("waiting_room_waiting", "Buyers still waiting in the event's waiting room.", ["event_id"]),
    streams: deps.metrics.gauge("waiting_room_streams", "Waiting-room position streams open in this process."),
  }
  let timer: Timer | undefined
  let refreshing = false
  // While rooms are followed: a seller's change is announced on the meta channel (after the event cache's
  // own listener has dropped the cached settings), and the room is read again at the next tick.
  let unsubscribe: Promise<() => void> | undefined
  const onChange = (eventId: string) => {
    const feed = feeds.get(Number(eventId))
    if (feed) feed.readAt = 0
  }

  const counts = (feed: Feed, now = Date.now()): RoomCounts => {
    const admitted = feed.current ? admittedUpTo(feed.current, feed.joined, now + feed.offsetMs) : 0
    return { joined: feed.joined, admitted, waiting: feed.joined - admitted }
  }

  const record = (feed: Feed) => {
    const c = counts(feed)
    const label = String(feed.eventId)
    gauges.joined.labels(label).set(c.joined)
    gauges.admitted.labels(label).set(c.admitted)
    gauges.waiting.labels(label).set(c.waiting)
  }

  const endAll = (feed: Feed) => {
    for (const w of feed.watchers) {
      w.stream.send(closeFrame(feed.eventId))
      w.stream.close()
    }
  }

  // One round trip for every room due; a room turned off or reopened (new epoch) ends its streams.
  const refresh = async (now: number) => {
    const due = [...feeds.values()].filter((f) => now - f.readAt >= refreshMs)
    if (due.length === 0 || refreshing) return
    refreshing = true
    // A failed read is tried again after refreshMs, not at every tick (the streams go on from the last one).
    for (const feed of due) feed.readAt = now
    try {
      const rooms = await Promise.all(due.map((f) => events.room(f.eventId)))
      const live = due.filter((feed, i) => {
        const room = rooms[i]
        if (room && room.epoch === feed.room.epoch) return (feed.room = room)
        endAll(feed)
        feeds.delete(feed.eventId)
        return false
      })
      const sent = Date.now()
      const read = await store.rooms(live.map((f) => ({ eventId: f.eventId, epoch: f.room.epoch })))
      const received = Date.now()
      live.forEach((feed, i) => {
        feed.joined = read[i]!.joined
        feed.current = read[i]!.current ?? feed.current
        feed.offsetMs = read[i]!.now - (sent + received) / 2
        feed.readAt = received
        record(feed)
      })
    } catch (error) {
      log.warn("waiting room refresh failed", { error })
    } finally {
      refreshing = false
    }
  }

  const admit = (feed: Feed, w: Watcher, admittedAt: number) => {
    w.stream.send(admittedFrame(feed.eventId, new Date(admittedAt + feed.room.admission_seconds * 1000).toISOString()))
    w.stream.send(closeFrame(feed.eventId))
    w.stream.close()
  }

  // Admitted before the latest segment began (the rate changed meanwhile): its admission time is in an earlier segment.
  const admitFromStore = (feed: Feed, w: Watcher) => {
    feed.watchers.delete(w)
    store.read(feed.eventId, feed.room, w.buyerId).then(
      (place) => (place ? admit(feed, w, admissionTime(place.own, w.position)) : w.stream.close()),
      (error) => {
        log.warn("waiting room read failed", { error, eventId: feed.eventId })
        w.stream.close()
      },
    )
  }

  const tick = () => {
    const now = Date.now()
    void refresh(now)
    for (const feed of feeds.values()) {
      if (feed.watchers.size === 0 && now - feed.touchedAt > followMs) {
        feeds.delete(feed.eventId)
        continue
      }
      const current = feed.current
      if (!current) continue
      const redisNow = now + feed.offsetMs
      const upTo = admittedUpTo(current, Number.MAX_SAFE_INTEGER, redisNow)
      for (const w of feed.watchers) {
        if (w.position <= upTo) {
          if (w.position > current.base) admit(feed, w, admissionTime(current, w.position))
          else admitFromStore(feed, w)
          continue
        }
        const ahead = w.position - upTo - 1
        const since = now - w.lastSentAt
        if (since >= silenceMs || (since >= positionMs && ahead !== w.lastAhead)) {
          w.lastAhead = ahead
          w.lastSentAt = now
          const wait = Math.max(0, Math.ceil((admissionTime(current, w.position) - redisNow) / 1000))
          w.stream.send(positionFrame({ event_id: feed.eventId, position: w.position, ahead, admitted: false, admitted_until: null, estimated_wait_seconds: wait }))
        }
      }
    }
    if (feeds.size === 0 && timer) {
      clearInterval(timer)
      timer = undefined
      void unsubscribe?.then((off) => off(), () => {})
      unsubscribe = undefined
    }
  }

  // Follows the room, with the counts a join or read just brought back from Redis.
  const follow = (eventId: number, room: RoomConfig, place: { joined: number; current: Segment; now: number }): Feed => {
    const now = Date.now()
    let feed = feeds.get(eventId)
    if (!feed || feed.room.epoch !== room.epoch) {
      if (feed) endAll(feed)
      feed = { eventId, room, joined: 0, current: undefined, offsetMs: 0, readAt: now, touchedAt: now, watchers: new Set() }
      feeds.set(eventId, feed)
    }
    feed.room = room
    feed.touchedAt = now
    // Joins arrive out of order across connections; counts only grow.
    if (place.joined >= feed.joined) {
      feed.joined = place.joined
      feed.current = place.current
      feed.offsetMs = place.now - now
    }
    record(feed)
    timer ??= setInterval(tick, tickMs)
    if (!unsubscribe) {
      const subscribing = deps.live.subscribe(deps.metaChannel, onChange)
      unsubscribe = subscribing
      // Tried again by the next join or stream; the periodic read covers the meantime.
      subscribing.catch((error: unknown) => {
        log.warn("waiting room could not follow the meta channel", { error })
        if (unsubscribe === subscribing) unsubscribe = undefined
      })
    }
    return feed
  }

  return {
    /** Notes a join or read so that the room's counts are followed. */
    touch(eventId: number, room: RoomConfig, place: StoredPlace): void {
      follow(eventId, room, place)
    },
    /** Opens the buyer's stream: the place now, positions while waiting, then `admitted` and `close`. */
    open(request: Request, eventId: number, room: RoomConfig, buyerId: number, place: StoredPlace, headers: Record<string, string>): Response {
      const status = roomStatus({ eventId, position: place.position, joined: place.joined, now: place.now, current: place.current, own: place.own, admissionSeconds: room.admission_seconds })
      const feed = follow(eventId, room, place)
      const watcher: Watcher = { stream: undefined!, buyerId, position: place.position, lastAhead: status.ahead, lastSentAt: Date.now() }
      const { stream, response } = streams.open(request, () => feed.watchers.delete(watcher))
      watcher.stream = stream
      for (const [name, value] of Object.entries(headers)) response.headers.append(name, value)
      if (status.admitted) {
        stream.send(admittedFrame(eventId, status.admitted_until!))
        stream.send(closeFrame(eventId))
        stream.close()
      } else {
        feed.watchers.add(watcher)
        stream.send(positionFrame(status))
      }
      return response
    },
    /** The room's counts, from the last read if it is recent. */
    async counts(eventId: number, room: RoomConfig): Promise<RoomCounts> {
      let feed = feeds.get(eventId)
      if (!feed || feed.room.epoch !== room.epoch || Date.now() - feed.readAt > refreshMs) {
        const sent = Date.now()
        const [read] = await store.rooms([{ eventId, epoch: room.epoch }])
        const received = Date.now()
        if (!read!.current) return { joined: 0, admitted: 0, waiting: 0 }
        feed = follow(eventId, room, { joined: read!.joined, current: read!.current, now: read!.now + (received - sent) / 2 })
        feed.readAt = received
      }
      return counts(feed)
    },
    /** Stops following every room (at shutdown; the streams themselves end with the gateway's). */
    stop(): void {
      feeds.clear()
      clearInterval(timer)
      timer = undefined
      void unsubscribe?.then((off) => off(), () => {})
      unsubscribe = undefined
    },
    /** Streams open and rooms followed, for tests and metrics. */
    stats() {
      let open = 0
      for (const feed of feeds.values()) open += feed.watchers.size
      gauges.streams.set(open)
      return { streams: open, rooms: feeds.size }
    },
  }
}

/** The waiting-room streams of one gateway. */
export type RoomStreams = ReturnType<typeof createRoomStreams>
