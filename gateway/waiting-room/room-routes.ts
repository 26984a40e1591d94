import { Elysia, t } from "elysia"
import type Redis from "ioredis"
import type { Sql } from "postgres"
import type { Config } from "../../shared/config.ts"
import { AppError } from "../../shared/errors.ts"
import type { Logger } from "../../shared/log.ts"
import type { Metrics } from "../../shared/metrics.ts"
import type { RedisKeys } from "../../shared/redis-keys.ts"
import { readCookie, type Auth, type AuthUser } from "../auth.ts"
import type { EventCache } from "../event-cache.ts"
import { parseEventId } from "../event-routes.ts"
import type { RedisFanout } from "../live/redis-fanout.ts"
import type { SseStreams } from "../live/sse-streams.ts"
import { admissionCookieName, parseRoomSettings, roomStatus, signAdmission, verifyAdmission, type RoomConfig, type RoomStatus } from "./admission.ts"
import { changeRoom } from "./room-settings.ts"
import { createRoomStore, type StoredPlace } from "./room-store.ts"
import { createRoomStreams } from "./room-streams.ts"

/** What the waiting room needs. */
export type WaitingRoomDeps = { config: Config; sql: Sql; redis: Redis; keys: RedisKeys; auth: Auth; events: EventCache; live: RedisFanout; metrics: Metrics; log: Logger }

const notAdmitted = () => new AppError(403, "Not admitted from the waiting room")

/** Checks, on POST /api/booking, that the buyer may book the event; answers a Set-Cookie to send back, if any. */
export type AdmissionCheck = (buyer: AuthUser, eventId: number, cookieHeader: string | null) => Promise<string | undefined>

/** The waiting room of one gateway: the buyers' and sellers' routes and the booking route's admission check. */
export function createWaitingRoom(deps: WaitingRoomDeps, streams: SseStreams) {
  const { auth, events } = deps
  const store = createRoomStore(deps.redis, deps.keys)
  const live = createRoomStreams({ store, events, streams, live: deps.live, metaChannel: deps.keys.metaChannel, metrics: deps.metrics, log: deps.log })
  deps.metrics.onCollect(() => void live.stats())
  deps.live.onClose(() => live.stop())
  const secure = deps.config.cookieSecure ? "; Secure" : ""

  const statusOf = (eventId: number, room: RoomConfig, place: StoredPlace) =>
    roomStatus({ eventId, position: place.position, joined: place.joined, now: place.now, current: place.current, own: place.own, admissionSeconds: room.admission_seconds })

  // The admission token travels as a cookie, so the booking route can check it in memory.
  const admissionCookie = (buyerId: number, eventId: number, room: RoomConfig, admittedAt: number, now: number): string | undefined => {
    const left = Math.floor((admittedAt + room.admission_seconds * 1000 - now) / 1000)
    if (left <= 0) return undefined
    const token = signAdmission({ buyerId, eventId, epoch: room.epoch, admittedAt }, auth.mac)
    return `${admissionCookieName(eventId)}=${token}; HttpOnly; Path=/api; SameSite=Lax; Max-Age=${left}${secure}`
  }

  const roomOf = async (eventId: number): Promise<RoomConfig> => {
    if (!(await events.meta(eventId))) throw new AppError(404, `Event not found: ${eventId}`)
    const room = await events.room(eventId)
    if (!room) throw new AppError(400, "Event has no waiting room")
    return room
  }

  // The buyer routes' common checks, in the contract's order: session and role, event, room.
  const buyerAndRoom = async (request: Request, rawId: string) => {
    const buyer = auth.require(request, "buyer")
    const eventId = parseEventId(rawId)
    return { buyer, eventId, room: await roomOf(eventId) }
  }

  // The buyer's answer, with the admission cookie once admitted.
  const answer = (buyer: AuthUser, eventId: number, room: RoomConfig, place: StoredPlace, set: { headers: Record<string, unknown> }): RoomStatus => {
    live.touch(eventId, room, place)
    const { admittedAt, ...status } = statusOf(eventId, room, place)
    const cookie = admittedAt === null ? undefined : admissionCookie(buyer.id, eventId, room, admittedAt, place.now)
    if (cookie) set.headers["set-cookie"] = cookie
    return status
  }

  const placeOf = async (buyer: AuthUser, eventId: number, room: RoomConfig): Promise<StoredPlace> => {
    const place = await store.read(eventId, room, buyer.id)
    if (!place) throw new AppError(404, "Not in the waiting room")
    return place
  }

  const check: AdmissionCheck = async (buyer, eventId, cookieHeader) => {
    const room = await events.room(eventId)
    if (!room) return undefined
    const token = cookieHeader === null ? undefined : readCookie(cookieHeader, admissionCookieName(eventId))
    const claim = token ? verifyAdmission(token, auth.mac) : undefined
    if (claim && claim.buyerId === buyer.id && claim.eventId === eventId && claim.epoch === room.epoch) {
      if (Date.now() < claim.admittedAt + room.admission_seconds * 1000) return undefined
      throw notAdmitted()
    }
    // No token of this room (a client that keeps no cookies, or one admitted on a stream): ask Redis.
    const place = await store.read(eventId, room, buyer.id)
    if (!place) throw notAdmitted()
    const { admittedAt } = statusOf(eventId, room, place)
    if (admittedAt === null || place.now >= admittedAt + room.admission_seconds * 1000) throw notAdmitted()
    return admissionCookie(buyer.id, eventId, room, admittedAt, place.now)
  }

  // Any JSON: parseRoomSettings gives the contract's messages, after the seller check.
  const settingsBody = t.Unknown({ description: '{"admit_per_second": 1-100000, "admission_seconds": 10-86400 (default 600)}' })

  const routes = new Elysia({ detail: { tags: ["Waiting room"] } })
    .put(
      "/api/event/:id/waiting_room",
      async ({ request, params, body }) => {
        const seller = auth.require(request, "seller")
        const eventId = parseEventId(params.id)
        return changeRoom(deps, seller.id, eventId, parseRoomSettings(body, "body"))
      },
      { parse: "json", body: settingsBody, detail: { summary: "Turn the event's waiting room on or change it (its seller only)" } },
    )
    .delete(
      "/api/event/:id/waiting_room",
      async ({ request, params }) => changeRoom(deps, auth.require(request, "seller").id, parseEventId(params.id), null),
      { detail: { summary: "Turn the event's waiting room off (its seller only)" } },
    )
    .post(
      "/api/event/:id/waiting_room/join",
      async ({ request, params, set }) => {
        const { buyer, eventId, room } = await buyerAndRoom(request, params.id)
        return answer(buyer, eventId, room, await store.join(eventId, room, buyer.id), set)
      },
      { detail: { summary: "Join the event's waiting room (a repeat keeps the place)" } },
    )
    .get(
      "/api/event/:id/waiting_room",
      async ({ request, params, set }) => {
        const { buyer, eventId, room } = await buyerAndRoom(request, params.id)
        return answer(buyer, eventId, room, await placeOf(buyer, eventId, room), set)
      },
      { detail: { summary: "The buyer's place in the waiting room" } },
    )
    .get(
      "/api/event/:id/waiting_room/sse",
      async ({ request, params }) => {
        const { buyer, eventId, room } = await buyerAndRoom(request, params.id)
        const place = await placeOf(buyer, eventId, room)
        const { admittedAt } = statusOf(eventId, room, place)
        const cookie = admittedAt === null ? undefined : admissionCookie(buyer.id, eventId, room, admittedAt, place.now)
        return live.open(request, eventId, room, buyer.id, place, cookie ? { "set-cookie": cookie } : {})
      },
      { detail: { summary: "Server-sent events: queue_position frames while waiting, then admitted and close" } },
    )
    .get(
      "/api/event/:id/waiting_room/stats",
      async ({ params }) => {
        const eventId = parseEventId(params.id)
        const room = await roomOf(eventId)
        return { event_id: eventId, admit_per_second: room.admit_per_second, admission_seconds: room.admission_seconds, ...(await live.counts(eventId, room)) }
      },
      { detail: { summary: "The waiting room's counts: joined, admitted, waiting (public; the live page shows them)" } },
    )

  return { routes, check, stats: () => live.stats() }
}

/** The waiting room of one gateway. */
export type WaitingRoom = ReturnType<typeof createWaitingRoom>
