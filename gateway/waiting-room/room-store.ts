// The waiting rooms' shared state in Redis: per room a join counter, a hash buyer → position and the
// admission schedule's segments (admission.ts). A join is one script (atomic: idempotent per buyer,
// positions in arrival order across every gateway); time is Redis's TIME, so every gateway computes
// the same admissions without a ticker, and a restarted gateway finds everything where it was.
import type Redis from "ioredis"
import { createHash } from "node:crypto"
import type { RedisKeys } from "../../shared/redis-keys.ts"
import { decodeSegment, type RoomConfig, type Segment } from "./admission.ts"

const LIB = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function decode(m)
  local b, ms, r = string.match(m, '^([^:]+):([^:]+):([^:]+)$')
  return { base = tonumber(b), ms = tonumber(ms), rate = tonumber(r) }
end
local function encode(seg)
  return seg.base .. ':' .. string.format('%.3f', seg.ms) .. ':' .. seg.rate
end
local function current(segs)
  local m = redis.call('ZRANGE', segs, -1, -1)[1]
  if m then return decode(m), m end
  return nil, nil
end
local function upto(seg, seq, now)
  return math.min(seq, seg.base + math.max(0, math.floor((now - seg.ms) * seg.rate / 1000 + 1e-6)))
end
-- A new segment from now on at rate: it starts at the last admitted position, whose admission time
-- it keeps unless that lies more than one interval back (idle time earns no burst of admissions).
local function rebase(segs, seg, seq, now, rate)
  local b, t = 0, now - 1000 / rate
  if seg then
    b = upto(seg, seq, now)
    t = seg.ms + (b - seg.base) * 1000 / seg.rate
    -- Same rate and no idle gap: the schedule goes on as it is, and the set does not grow.
    if rate == seg.rate and t >= now - 1000 / rate then return encode(seg) end
  end
  local m = encode({ base = b, ms = math.max(t, now - 1000 / rate), rate = rate })
  redis.call('ZREMRANGEBYSCORE', segs, b, b)
  redis.call('ZADD', segs, b, m)
  return m
end
local function own(segs, p, fallback)
  return redis.call('ZREVRANGEBYSCORE', segs, '(' .. p, '-inf', 'LIMIT', 0, 1)[1] or fallback
end
`

// KEYS: seq, positions, segments; ARGV: buyer id, rate (used only when the room has no schedule yet).
const JOIN = `${LIB}
local now = now_ms()
local seq = tonumber(redis.call('GET', KEYS[1]) or '0')
local cur, m = current(KEYS[3])
if not cur then
  m = rebase(KEYS[3], nil, seq, now, tonumber(ARGV[2]))
  cur = decode(m)
end
local p = redis.call('HGET', KEYS[2], ARGV[1])
if not p then
  if upto(cur, seq, now) >= seq then
    m = rebase(KEYS[3], cur, seq, now, cur.rate)
    cur = decode(m)
  end
  seq = redis.call('INCR', KEYS[1])
  p = seq
  redis.call('HSET', KEYS[2], ARGV[1], p)
end
return { tonumber(p), seq, now, m, own(KEYS[3], p, m) }
`

// KEYS: seq, positions, segments; ARGV: buyer id. Nil when the buyer never joined.
const READ = `${LIB}
local p = redis.call('HGET', KEYS[2], ARGV[1])
if not p then return false end
local cur, m = current(KEYS[3])
if not cur then return false end
return { tonumber(p), tonumber(redis.call('GET', KEYS[1]) or '0'), now_ms(), m, own(KEYS[3], p, m) }
`

// KEYS: seq, segments; ARGV: rate. Starts the schedule, or continues it at a new rate from now.
const REBASE = `${LIB}
local cur = current(KEYS[2])
return rebase(KEYS[2], cur, tonumber(redis.call('GET', KEYS[1]) or '0'), now_ms(), tonumber(ARGV[1]))
`

/** One buyer's place as stored: position, how many joined, Redis's clock, the latest segment and the one covering the position. */
export type StoredPlace = { position: number; joined: number; now: number; current: Segment; own: Segment }

/** A room's counts as stored: how many joined, the latest segment and Redis's clock when read. */
export type StoredRoom = { joined: number; current: Segment | undefined; now: number }

// node:crypto rather than Bun's hasher, so the gateway also loads under Node (profiles/node/).
const sha1 = (text: string) => createHash("sha1").update(text).digest("hex")

// EVALSHA, loading the script once when Redis does not know it (a restarted Redis forgets them).
function script(redis: Redis, source: string) {
  const sha = sha1(source)
  return async (keys: string[], args: (string | number)[]): Promise<unknown> => {
    try {
      return await redis.evalsha(sha, keys.length, ...keys, ...args)
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error
      return redis.eval(source, keys.length, ...keys, ...args)
    }
  }
}

const toPlace = (reply: unknown): StoredPlace | undefined => {
  if (!Array.isArray(reply)) return undefined
  const [position, joined, now, current, own] = reply as [number, number, number, string, string]
  return { position, joined, now, current: decodeSegment(current), own: decodeSegment(own) }
}

/** The waiting rooms' Redis side. */
export function createRoomStore(redis: Redis, keys: RedisKeys) {
  const join = script(redis, JOIN)
  const read = script(redis, READ)
  const rebase = script(redis, REBASE)
  const roomKeys = (eventId: number, epoch: number) => [keys.roomSeq(eventId, epoch), keys.roomPositions(eventId, epoch), keys.roomSegments(eventId, epoch)]

  return {
    /** Joins the buyer (or finds the buyer's earlier place) and answers the place. */
    async join(eventId: number, room: RoomConfig, buyerId: number): Promise<StoredPlace> {
      return toPlace(await join(roomKeys(eventId, room.epoch), [buyerId, room.admit_per_second]))!
    },
    /** The buyer's place, or undefined when the buyer never joined this room. */
    async read(eventId: number, room: RoomConfig, buyerId: number): Promise<StoredPlace | undefined> {
      return toPlace(await read(roomKeys(eventId, room.epoch), [buyerId]))
    },
    /** Starts the room's schedule, or continues it at the room's (new) rate from now; nobody loses a place. */
    async reschedule(eventId: number, room: RoomConfig): Promise<void> {
      await rebase([keys.roomSeq(eventId, room.epoch), keys.roomSegments(eventId, room.epoch)], [room.admit_per_second])
    },
    /** Counts of several rooms in one round trip. */
    async rooms(list: { eventId: number; epoch: number }[]): Promise<StoredRoom[]> {
      const pipeline = redis.pipeline().time()
      for (const { eventId, epoch } of list) pipeline.get(keys.roomSeq(eventId, epoch)).zrange(keys.roomSegments(eventId, epoch), -1, -1)
      const replies = (await pipeline.exec()) ?? []
      for (const [error] of replies) if (error) throw error
      const [seconds, micros] = replies[0]![1] as [string, string]
      const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)
      return list.map((_, i) => {
        const joined = Number(replies[1 + 2 * i]![1] ?? 0)
        const [member] = replies[2 + 2 * i]![1] as string[]
        return { joined, current: member === undefined ? undefined : decodeSegment(member), now }
      })
    },
    /** Removes a room that was turned off (best effort: its keys carry an epoch no later room reuses). */
    async drop(eventId: number, epoch: number): Promise<void> {
      await redis.unlink(...roomKeys(eventId, epoch))
    },
    /** The cached settings of an event's room: a config, null for none, undefined when Redis has no copy. */
    async config(eventId: number): Promise<RoomConfig | null | undefined> {
      const raw = await redis.get(keys.roomConfig(eventId))
      return raw === null ? undefined : (JSON.parse(raw) as RoomConfig | null)
    },
    /** Caches an event's room settings (null: no room). */
    async saveConfig(eventId: number, room: RoomConfig | null): Promise<void> {
      await redis.set(keys.roomConfig(eventId), JSON.stringify(room))
    },
  }
}

/** The waiting rooms' Redis side. */
export type RoomStore = ReturnType<typeof createRoomStore>
