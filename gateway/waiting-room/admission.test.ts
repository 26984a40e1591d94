import { expect, test } from "bun:test"
import { ValidationError } from "../../shared/errors.ts"
import { createHmac } from "node:crypto"
import {
  admissionTime,
  admittedUpTo,
  decodeSegment,
  encodeSegment,
  parseRoomSettings,
  roomStatus,
  signAdmission,
  verifyAdmission,
} from "./admission.ts"

const mac = (text: string) => createHmac("sha256", "secret-of-the-test").update(text).digest("base64url")

test("admits in join order at the segment's rate, never past the number who joined", () => {
  const segment = { base: 0, ms: 1_000, rate: 4 }
  expect(admittedUpTo(segment, 100, 1_000)).toBe(0)
  expect(admittedUpTo(segment, 100, 1_249)).toBe(0)
  expect(admittedUpTo(segment, 100, 1_250)).toBe(1)
  expect(admittedUpTo(segment, 100, 3_000)).toBe(8)
  expect(admittedUpTo(segment, 5, 3_000)).toBe(5)
  // Before the segment starts nothing more is admitted than its base.
  expect(admittedUpTo({ base: 7, ms: 5_000, rate: 4 }, 100, 1_000)).toBe(7)
})

test("a position's admission time is the instant admittedUpTo reaches it", () => {
  for (const segment of [{ base: 0, ms: 1_000.5, rate: 3 }, { base: 12, ms: 99_999.25, rate: 7 }, { base: 3, ms: 0, rate: 100_000 }]) {
    for (let p = segment.base + 1; p < segment.base + 50; p++) {
      const at = admissionTime(segment, p)
      expect(admittedUpTo(segment, Infinity, at)).toBeGreaterThanOrEqual(p)
      expect(admittedUpTo(segment, Infinity, at - 1)).toBeLessThan(p)
    }
  }
})

test("a segment survives its encoding", () => {
  const segment = { base: 42, ms: 1_733_280_000_123.5, rate: 250 }
  expect(decodeSegment(encodeSegment(segment))).toEqual(segment)
})

test("a waiting buyer sees how many are ahead and an honest wait; an admitted one the deadline", () => {
  const current = { base: 0, ms: 0, rate: 2 }
  const waiting = roomStatus({ eventId: 9, position: 11, joined: 20, now: 2_000, current, own: current, admissionSeconds: 60 })
  // At 2 s four are admitted (500 ms apart): positions 5..10 are ahead; position 11 is admitted at 5.5 s.
  expect(waiting).toEqual({ event_id: 9, position: 11, ahead: 6, admitted: false, admitted_until: null, estimated_wait_seconds: 4, admittedAt: null })
  const admitted = roomStatus({ eventId: 9, position: 3, joined: 20, now: 2_000, current, own: current, admissionSeconds: 60 })
  expect(admitted).toEqual({ event_id: 9, position: 3, ahead: 0, admitted: true, admitted_until: new Date(1_500 + 60_000).toISOString(), estimated_wait_seconds: 0, admittedAt: 1_500 })
  // Admitted under an earlier segment: the time comes from that one.
  const later = { base: 10, ms: 50_000, rate: 1 }
  expect(roomStatus({ eventId: 9, position: 3, joined: 20, now: 60_000, current: later, own: current, admissionSeconds: 60 }).admittedAt).toBe(1_500)
})

test("settings: the contract's ranges and messages, admission_seconds defaulting to 600", () => {
  expect(parseRoomSettings({ admit_per_second: 1 })).toEqual({ admit_per_second: 1, admission_seconds: 600 })
  expect(parseRoomSettings({ admit_per_second: 100_000, admission_seconds: 86_400 })).toEqual({ admit_per_second: 100_000, admission_seconds: 86_400 })
  const message = (input: unknown) => {
    try {
      parseRoomSettings(input)
    } catch (error) {
      return (error as ValidationError).message
    }
  }
  for (const rate of [0, 100_001, 1.5, "5", null, undefined]) expect(message({ admit_per_second: rate })).toBe("admit_per_second must be between 1 and 100000")
  for (const seconds of [9, 86_401, 10.5, "60"]) expect(message({ admit_per_second: 5, admission_seconds: seconds })).toBe("admission_seconds must be between 10 and 86400")
  expect(message("fast")).toBe("admit_per_second must be between 1 and 100000")
})

test("an admission token holds only with its own signature and claims", () => {
  const claim = { buyerId: 5, eventId: 77, epoch: 2, admittedAt: 1_733_280_000_123 }
  const token = signAdmission(claim, mac)
  expect(verifyAdmission(token, mac)).toEqual(claim)
  expect(verifyAdmission(token.replace("5.77", "6.77"), mac)).toBeUndefined()
  expect(verifyAdmission(token.slice(0, -2), mac)).toBeUndefined()
  expect(verifyAdmission(signAdmission(claim, (t) => mac(`other${t}`)), mac)).toBeUndefined()
  expect(verifyAdmission("garbage", mac)).toBeUndefined()
})
