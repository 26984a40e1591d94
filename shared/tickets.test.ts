import { describe, expect, test } from "bun:test"
import { formatSeatPosition, parseSeatPosition } from "./tickets.ts"

describe("seat positions", () => {
  test("a position reads back as the row and seat it was written from", () => {
    expect(parseSeatPosition(formatSeatPosition(12, 7))).toEqual([12, 7])
    expect(parseSeatPosition(" 2-3 ")).toEqual([2, 3])
  })

  test("signs are kept so that a non-positive seat is told apart from a malformed one", () => {
    expect(parseSeatPosition("-1-2")).toEqual([-1, 2])
    expect(parseSeatPosition("0-0")).toEqual([0, 0])
  })

  test("anything but two integers joined by one dash is no position", () => {
    for (const bad of ["", "1", "1-", "-1", "a-1", "1-2-3", "1.5-2", "1 - 2"]) expect(parseSeatPosition(bad)).toBeUndefined()
  })
})
