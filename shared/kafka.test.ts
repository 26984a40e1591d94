import { describe, expect, test } from "bun:test"
import { commandKey, murmur2, partitionFor } from "./kafka.ts"

const bytes = (s: string) => new TextEncoder().encode(s)

describe("murmur2", () => {
  // Vectors from the Java client's UtilsTest.testMurmur2, so partitions match every Kafka client.
  test.each([
    ["21", -973932308],
    ["foobar", -790332482],
    ["a-little-bit-long-string", -985981536],
    ["a-little-bit-longer-string", -1486304829],
    ["lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971],
    ["abc", 479470107],
  ])("murmur2(%s) = %d", (input, expected) => {
    expect(murmur2(bytes(input))).toBe(expected)
  })

  test("partitionFor is stable and in range", () => {
    const key = commandKey(1, "A", 3)
    expect(key).toBe("1:A-3")
    const p = partitionFor(key, 12)
    expect(p).toBeGreaterThanOrEqual(0)
    expect(p).toBeLessThan(12)
    expect(partitionFor(key, 12)).toBe(p)
  })
})
