import { expect, test } from "bun:test"
import type { Command } from "../shared/commands.ts"
import type { BatchResult } from "./decide-batch.ts"
import { createBatchCoalescer } from "./coalesce-batches.ts"
import { release, reserve } from "../testing/fixtures.ts"

const commands = (count: number): Command[] => Array.from({ length: count }, () => reserve({ event_id: 1, buyer_id: 1 }))

// A fake batch step that records what it was given and answers every reserve as reserved.
const recordingApply = () => {
  const steps: Command[][] = []
  let running = 0
  let mostAtOnce = 0
  const apply = async (batch: Command[]): Promise<BatchResult> => {
    steps.push(batch)
    mostAtOnce = Math.max(mostAtOnce, ++running)
    await Bun.sleep(5)
    running--
    const outcomes = batch.map((c) => ({
      booking_id: c.booking_id,
      buyer_id: c.buyer_id,
      event_id: c.event_id,
      section: c.section,
      subsection: c.subsection,
      status: c.type === "reserve" ? ("pending_payment" as const) : ("cancelled" as const),
      tickets: [],
      expires_at: null,
      replayed: false,
    }))
    return { outcomes, rejected: [], reserved: batch.filter((c) => c.type === "reserve").length, failed: 0, released: batch.filter((c) => c.type === "release").length, expired: 0 }
  }
  return { apply, steps, mostAtOnce: () => mostAtOnce }
}

test("batches of one turn are merged up to the limit; the rest run as further steps at the same time", async () => {
  const fake = recordingApply()
  const coalesced = createBatchCoalescer(fake.apply, 5)
  const batches = [commands(2), commands(2), commands(2), commands(6), commands(1)]
  const results = await Promise.all(batches.map((batch) => coalesced(batch)))
  expect(fake.steps.map((step) => step.length)).toEqual([4, 2, 6, 1])
  expect(fake.mostAtOnce()).toBe(4)
  // Each partition gets its own share of its step's result, in its own order.
  results.forEach((result, i) => {
    expect(result.outcomes.map((o) => o.booking_id)).toEqual(batches[i]!.map((c) => c.booking_id))
    expect(result.reserved).toBe(batches[i]!.length)
  })
})

test("without a limit every batch of the turn shares one step; a later turn gets a step of its own", async () => {
  const fake = recordingApply()
  const coalesced = createBatchCoalescer(fake.apply)
  const first = commands(3)
  const second = [release(reserve({ event_id: 1, buyer_id: 2 }))]
  const [a, b] = await Promise.all([coalesced(first), coalesced(second)])
  expect(fake.steps.map((step) => step.length)).toEqual([4])
  expect([a.reserved, a.released, b.reserved, b.released]).toEqual([3, 0, 0, 1])
  await coalesced(commands(1))
  expect(fake.steps.map((step) => step.length)).toEqual([4, 1])
})

test("a failed step rejects the batches merged into it, and only those", async () => {
  const fake = recordingApply()
  const poisoned = reserve({ event_id: 1, buyer_id: 666 })
  const coalesced = createBatchCoalescer(async (batch) => {
    if (batch.includes(poisoned)) throw new Error("postgres went away")
    return fake.apply(batch)
  }, 3)
  const settled = await Promise.allSettled([coalesced(commands(1)), coalesced(commands(2)), coalesced([poisoned]), coalesced(commands(1))])
  expect(settled.map((s) => s.status)).toEqual(["fulfilled", "fulfilled", "rejected", "rejected"])
})

test("every traced batch merged into a step marks each phase of each attempt, with the step's shape; merging is unchanged", async () => {
  const fake = recordingApply()
  // A step that fails its first attempt, as a stale seat map makes it, then succeeds.
  let attempts = 0
  const coalesced = createBatchCoalescer(async (batch, phases) => {
    for (;;) {
      const marks = phases?.()
      marks?.next("load")
      marks?.next("decide")
      if (attempts++ === 0) {
        marks?.end(new Error("stale"))
        continue
      }
      marks?.end()
      return fake.apply(batch)
    }
  }, 5)
  const seen: string[][] = [[], []]
  const tracer = (i: number) => (step: { batches: number; commands: number }) => {
    seen[i]!.push(`start ${step.batches}/${step.commands}`)
    return { next: (phase: string) => seen[i]!.push(phase), end: (error?: unknown) => seen[i]!.push(error ? "failed" : "end") }
  }
  await Promise.all([coalesced(commands(2), tracer(0)), coalesced(commands(3), tracer(1)), coalesced(commands(1))])
  expect(fake.steps.map((step) => step.length)).toEqual([5, 1])
  for (const marks of seen) expect(marks).toEqual(["start 2/5", "load", "decide", "failed", "start 2/5", "load", "decide", "end"])
})
