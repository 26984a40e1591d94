import { describe, expect, test } from "bun:test"
import { eventually, testLogger } from "../testing/helpers.ts"
import { createConsumerWatchdog, type PartitionOffsets, type WatchedConsumer } from "./consumer-watchdog.ts"

// A stand-in member: the watchdog's logic is pure scheduling over offsets, so no broker is needed here
// (consumer-watchdog.int.test.ts crashes a real kafkajs member).
type Fake = WatchedConsumer & { crash(restart: boolean): void; busy: number; stopped: boolean }
function fakeConsumer(startFails = false): Fake {
  let listener: ((error: Error, restart: boolean) => void) | undefined
  const fake: Fake = {
    busy: 0,
    stopped: false,
    start: async () => {
      if (startFails) throw new Error("broker unreachable")
    },
    stop: async () => {
      fake.stopped = true
    },
    onCrash: (l) => (listener = l),
    inFlight: () => fake.busy,
    crash: (restart) => listener?.(new Error("The coordinator is not aware of this member"), restart),
  }
  return fake
}

function setup(options: { startFails?: (n: number) => boolean; quietCheckMs?: number; now?: () => number } = {}) {
  const created: Fake[] = []
  const gaveUp: unknown[] = []
  const reasons: string[] = []
  let offsets: PartitionOffsets[] = [{ partition: 0, committed: 0, high: 0 }]
  let reads = 0
  const watchdog = createConsumerWatchdog({
    create: () => {
      const fake = fakeConsumer(options.startFails?.(created.length) ?? false)
      created.push(fake)
      return fake
    },
    offsets: async () => {
      reads++
      return offsets
    },
    log: testLogger(),
    stallMs: 300,
    giveUpMs: 1_000,
    checkMs: 20,
    quietCheckMs: options.quietCheckMs,
    reportAfterMs: 200,
    now: options.now,
    onGiveUp: (error) => gaveUp.push(error),
    onRecreate: (reason) => reasons.push(reason),
  })
  return { watchdog, created, gaveUp, reasons, setOffsets: (o: PartitionOffsets[]) => (offsets = o), reads: () => reads }
}

describe("consumer watchdog", () => {
  test("a crash the client will not restart is replaced by a new member; a crash it restarts itself is left alone", async () => {
    const { watchdog, created, reasons } = setup()
    await watchdog.start()
    created[0]!.crash(true)
    await Bun.sleep(50)
    expect(created.length).toBe(1)
    created[0]!.crash(false)
    await eventually(() => (created.length === 2 && watchdog.health().healthy ? true : undefined), 2_000, "a second member")
    expect(created[0]!.stopped).toBe(true)
    expect(reasons).toEqual(["crashed"])
    await watchdog.stop()
  })

  test("waiting commands and no decision: 503 with the reason, then a new member once the stall limit passes", async () => {
    const { watchdog, created, reasons, setOffsets } = setup()
    await watchdog.start()
    setOffsets([{ partition: 0, committed: 10, high: 25 }, { partition: 1, committed: 4, high: 4 }])
    await eventually(() => (watchdog.undecided() === 15 ? true : undefined), 1_000, "the lag")
    await eventually(() => (reasons.length > 0 ? true : undefined), 2_000, "a recreation")
    expect(reasons[0]).toBe("stalled")
    expect(created.length).toBeGreaterThanOrEqual(2)
    // Decisions resume: the stall clears.
    setOffsets([{ partition: 0, committed: 25, high: 25 }, { partition: 1, committed: 4, high: 4 }])
    await eventually(() => (watchdog.stalledSeconds() === 0 && watchdog.undecided() === 0 ? true : undefined), 1_000, "no stall")
    expect(watchdog.health()).toEqual({ healthy: true, partitions: [] })
    await watchdog.stop()
  })

  test("a batch in flight (a dependency retried) is not interrupted, and /health says why nothing is decided", async () => {
    const { watchdog, created, reasons, setOffsets } = setup()
    await watchdog.start()
    created[0]!.busy = 1
    setOffsets([{ partition: 3, committed: 7, high: 9 }])
    await Bun.sleep(600)
    expect(reasons).toEqual([])
    expect(watchdog.stalledSeconds()).toBeGreaterThan(0.3)
    expect(watchdog.health()).toEqual({ healthy: false, reason: expect.stringMatching(/^2 undecided commands on partitions 3, no decision for \d+ s$/), partitions: [] })
    await watchdog.stop()
  })

  test("only the partitions assigned to this member count once it has some", async () => {
    const { watchdog, reasons, setOffsets } = setup()
    await watchdog.start()
    watchdog.assigned([1])
    setOffsets([{ partition: 0, committed: 0, high: 50 }, { partition: 1, committed: 3, high: 3 }])
    await Bun.sleep(500)
    expect(watchdog.undecided()).toBe(0)
    expect(reasons).toEqual([])
    await watchdog.stop()
  })

  test("while nothing waits and nothing runs, the offsets are read at the quiet interval, not every check", async () => {
    const { watchdog, reads } = setup({ quietCheckMs: 60_000 })
    await watchdog.start()
    await Bun.sleep(400)
    // The first read finds nothing waiting; the next would be a minute later (every 20 ms before).
    expect(reads()).toBe(1)
    await watchdog.stop()
  })

  test("commands first seen after a quiet read count as waiting since that read, so a stall is acted on no later", async () => {
    let clock = 0
    const { watchdog, reasons, setOffsets, reads } = setup({ quietCheckMs: 40, now: () => clock })
    await watchdog.start()
    await eventually(() => (reads() > 0 ? true : undefined), 1_000, "a first read")
    // Half a second passes quietly (more than stallMs, less than giveUpMs); the commands arrived at
    // some point in it, with no decision since.
    clock = 500
    setOffsets([{ partition: 0, committed: 5, high: 8 }])
    await eventually(() => (watchdog.undecided() === 3 ? true : undefined), 1_000, "the lag")
    expect(watchdog.stalledSeconds()).toBe(0.5)
    await eventually(() => (reasons.length > 0 ? true : undefined), 1_000, "a recreation")
    expect(reasons[0]).toBe("stalled")
    await watchdog.stop()
  })

  test("a stall that outlasts giveUpMs despite new members hands over to the supervisor", async () => {
    const { watchdog, gaveUp, reasons, setOffsets } = setup()
    await watchdog.start()
    setOffsets([{ partition: 0, committed: 1, high: 2 }])
    await eventually(() => (gaveUp.length > 0 ? true : undefined), 3_000, "giving up")
    expect(reasons.length).toBeGreaterThanOrEqual(2)
    expect(String(gaveUp[0])).toContain("no decision for 1 s with 1 commands waiting")
    await watchdog.stop()
  })

  test("a member that cannot be recreated for giveUpMs hands over to the supervisor", async () => {
    const { watchdog, created, gaveUp } = setup({ startFails: (n) => n > 0 })
    await watchdog.start()
    created[0]!.crash(false)
    await eventually(() => (gaveUp.length > 0 ? true : undefined), 5_000, "giving up")
    expect(String(gaveUp[0])).toContain("broker unreachable")
    expect(watchdog.health()).toMatchObject({ healthy: false, reason: "consumer not running: broker unreachable" })
    await watchdog.stop()
  })
})
