// The waiting room's decisions, as plain data in and out: who is admitted at a given moment, when a
// position was or will be admitted, the buyer's answer, the settings' validation and the admission
// token. The Redis side (room-store.ts) only stores what these functions read.
import { timingSafeEqual } from "node:crypto"
import { ValidationError } from "../../shared/errors.ts"

/** A seller's waiting-room settings, as the API shows them. */
export type RoomSettings = { admit_per_second: number; admission_seconds: number }

/** The settings plus the room's epoch: a room turned on again is a new room, and older admissions stop counting. */
export type RoomConfig = RoomSettings & { epoch: number }

/**
 * A stretch of the admission schedule: position `base` was admitted at `ms` (Redis time, milliseconds),
 * and each next position `1000 / rate` ms after the one before, until the next segment starts. A new
 * segment starts when the rate changes, and when a buyer joins a room that had admitted everyone (so
 * idle time never piles up into a burst of admissions).
 */
export type Segment = { base: number; ms: number; rate: number }

/** Default admission_seconds when a request leaves it out. */
export const DEFAULT_ADMISSION_SECONDS = 600

// Floating-point slack: a position is admitted at the millisecond its admission time is reached.
const EPSILON = 1e-6

/** Encodes a segment as a sorted-set member (the score is its base). */
export const encodeSegment = (s: Segment): string => `${s.base}:${s.ms}:${s.rate}`

/** Reads a segment back from its member. */
export function decodeSegment(member: string): Segment {
  const [base, ms, rate] = member.split(":")
  return { base: Number(base), ms: Number(ms), rate: Number(rate) }
}

/** How many of the `joined` buyers the schedule has admitted at `now`. */
export const admittedUpTo = (current: Segment, joined: number, now: number): number =>
  Math.min(joined, current.base + Math.max(0, Math.floor(((now - current.ms) * current.rate) / 1000 + EPSILON)))

/** When `position` is admitted under `segment` (whole milliseconds, rounded up so that admittedUpTo agrees at that instant). */
export const admissionTime = (segment: Segment, position: number): number =>
  Math.ceil(segment.ms + ((position - segment.base) * 1000) / segment.rate - EPSILON)

/** What a buyer sees: the join and read answers of the contract. */
export type RoomStatus = {
  event_id: number
  position: number
  ahead: number
  admitted: boolean
  admitted_until: string | null
  estimated_wait_seconds: number
}

/**
 * The buyer's answer from the stored state: `own` is the segment that covers the position (the latest
 * one with a base below it), `current` the latest; admitted buyers get their admission time.
 */
export function roomStatus(input: { eventId: number; position: number; joined: number; now: number; current: Segment; own: Segment; admissionSeconds: number }): RoomStatus & { admittedAt: number | null } {
  const { eventId, position, joined, now, current, own, admissionSeconds } = input
  const upTo = admittedUpTo(current, joined, now)
  if (position <= upTo) {
    const admittedAt = admissionTime(own, position)
    return {
      event_id: eventId,
      position,
      ahead: 0,
      admitted: true,
      admitted_until: new Date(admittedAt + admissionSeconds * 1000).toISOString(),
      estimated_wait_seconds: 0,
      admittedAt,
    }
  }
  // The schedule as it stands: exact unless the seller changes the rate before then.
  const wait = Math.max(0, Math.ceil((admissionTime(current, position) - now) / 1000))
  return { event_id: eventId, position, ahead: Math.max(0, position - upTo - 1), admitted: false, admitted_until: null, estimated_wait_seconds: wait, admittedAt: null }
}

const outOfRange = (value: unknown, min: number, max: number) => typeof value !== "number" || !Number.isInteger(value) || value < min || value > max

/** Validates a `waiting_room` body; throws the contract's 400 messages. */
export function parseRoomSettings(input: unknown, field = "body.waiting_room"): RoomSettings {
  const body = (typeof input === "object" && input !== null ? input : {}) as Record<string, unknown>
  if (outOfRange(body.admit_per_second, 1, 100_000)) {
    throw new ValidationError([{ field: `${field}.admit_per_second`, message: "admit_per_second must be between 1 and 100000" }])
  }
  const admission = body.admission_seconds ?? DEFAULT_ADMISSION_SECONDS
  if (outOfRange(admission, 10, 86_400)) {
    throw new ValidationError([{ field: `${field}.admission_seconds`, message: "admission_seconds must be between 10 and 86400" }])
  }
  return { admit_per_second: body.admit_per_second as number, admission_seconds: admission as number }
}

/** The settings a client sees (the epoch is the gateway's business). */
export const publicSettings = (room: RoomConfig | null): RoomSettings | null =>
  room && { admit_per_second: room.admit_per_second, admission_seconds: room.admission_seconds }

/** What an admission token says: this buyer was admitted to this room of this event at `admittedAt` (ms). */
export type AdmissionClaim = { buyerId: number; eventId: number; epoch: number; admittedAt: number }

/** Signs a claim with `mac` (an HMAC under the gateway's secret): `<buyer>.<event>.<epoch>.<admittedAt>.<mac>`. */
export function signAdmission(claim: AdmissionClaim, mac: (text: string) => string): string {
  const payload = `${claim.buyerId}.${claim.eventId}.${claim.epoch}.${claim.admittedAt}`
  return `${payload}.${mac(`waiting-room:${payload}`)}`
}

/** The claim of a token whose signature holds, or undefined. */
export function verifyAdmission(token: string, mac: (text: string) => string): AdmissionClaim | undefined {
  const cut = token.lastIndexOf(".")
  if (cut < 0) return undefined
  const payload = token.slice(0, cut)
  const expected = Buffer.from(mac(`waiting-room:${payload}`))
  const given = Buffer.from(token.slice(cut + 1))
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined
  const parts = payload.split(".").map(Number)
  if (parts.length !== 4 || !parts.every(Number.isSafeInteger)) return undefined
  const [buyerId, eventId, epoch, admittedAt] = parts as [number, number, number, number]
  return { buyerId, eventId, epoch, admittedAt }
}

/** The admission cookie's name for one event (a buyer may wait in several rooms). */
export const admissionCookieName = (eventId: number) => `waiting_room_${eventId}`
