import { expect, test } from "bun:test"
import { createHoldDeadlines, type Hold } from "./hold-deadlines.ts"

const hold = (bookingId: string, dueAt: number, partition = 0): Hold => ({ bookingId, buyerId: 1, eventId: 1, section: "A", subsection: 1, partition, dueAt })
const ids = (holds: Hold[]) => holds.map((h) => h.bookingId)

test("pops exactly the holds due, earliest first, whatever order they were added in", () => {
  const deadlines = createHoldDeadlines(() => new Set([0]))
  const order = [50, 10, 40, 20, 30, 60, 5]
  for (const at of order) deadlines.add(hold(`b${at}`, at))
  expect(ids(deadlines.popDue(4))).toEqual([])
  expect(ids(deadlines.popDue(30))).toEqual(["b5", "b10", "b20", "b30"])
  expect(deadlines.size()).toBe(3)
  expect(ids(deadlines.popDue(1_000))).toEqual(["b40", "b50", "b60"])
  expect(ids(deadlines.popDue(1_000))).toEqual([])
})

test("a hold added twice is popped once; a moved deadline replaces the old one", () => {
  const deadlines = createHoldDeadlines(() => new Set([0]))
  deadlines.add(hold("a", 10))
  deadlines.add(hold("a", 10))
  deadlines.add(hold("b", 10))
  deadlines.add(hold("b", 100))
  expect(deadlines.size()).toBe(2)
  expect(ids(deadlines.popDue(50))).toEqual(["a"])
  expect(ids(deadlines.popDue(100))).toEqual(["b"])
})

test("only the owned partitions' holds are kept, and a rebalance drops the others", () => {
  let owned = new Set([0, 1])
  const deadlines = createHoldDeadlines(() => owned)
  deadlines.add(hold("p0", 1, 0))
  deadlines.add(hold("p1", 2, 1))
  deadlines.add(hold("p2", 3, 2))
  expect(deadlines.size()).toBe(2)
  owned = new Set([1, 2])
  deadlines.keepPartitions(owned)
  deadlines.add(hold("p2", 3, 2))
  expect(ids(deadlines.popDue(10))).toEqual(["p1", "p2"])
})

test("many holds come out in deadline order", () => {
  const deadlines = createHoldDeadlines(() => new Set([0]))
  const due = Array.from({ length: 5_000 }, (_, i) => (i * 7919) % 5_000)
  for (const at of due) deadlines.add(hold(`b${at}`, at))
  const popped = deadlines.popDue(10_000).map((h) => h.dueAt)
  expect(popped).toEqual([...due].sort((a, b) => a - b))
})
