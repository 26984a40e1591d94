import { withTimeout } from "../shared/clients.ts"
import type { Logger } from "../shared/log.ts"

/** What the watchdog needs of a consumer-group member (createCommandConsumer's answer). */
export type WatchedConsumer = {
  start(): Promise<void>
  stop(): Promise<void>
  /** Registers the listener the client calls when it gave up consuming (`restart` false: it will not try again). */
  onCrash(listener: (error: Error, restart: boolean) => void): void
  /** Partition batches being applied right now. */
  inFlight(): number
}

/** One partition's committed offset and high watermark, as the group coordinator and the leader report them. */
export type PartitionOffsets = { partition: number; committed: number; high: number }

/** What /health reports for the reserver: healthy while it is consuming and no undecided command waits too long. */
export type ReserverHealth = { healthy: boolean; reason?: string; partitions: readonly number[] }

export type WatchdogOptions = {
  /** Builds a fresh member of the group; called at start and for every recreation. */
  create: () => WatchedConsumer
  /** Committed offsets and high watermarks of the command topic's partitions. */
  offsets: () => Promise<PartitionOffsets[]>
  log: Logger
  /** Undecided commands with no decision for this long, and no batch in flight: the consumer is recreated. */
  stallMs: number
  /** Recreating has failed for this long: `onGiveUp` is called (main.ts exits non-zero for its supervisor). */
  giveUpMs: number
  onGiveUp: (error: unknown) => void
  /** Offsets are read this often while commands wait, a batch ran since the last read, or the member is not running (default 1 s). */
  checkMs?: number
  /** Offsets are read this often while nothing waits and no batch runs (default: half of the shorter of stallMs and reportAfterMs). */
  quietCheckMs?: number
  /** Undecided commands waiting this long make /health answer 503 (default STALL_REPORT_MS). */
  reportAfterMs?: number
  /** Called once per recreation, with the reason (metrics). */
  onRecreate?: (reason: "crashed" | "stalled") => void
  now?: () => number
}

/** Undecided commands waiting this long make /health answer 503 before the watchdog acts. */
export const STALL_REPORT_MS = 5_000

const STOP_TIMEOUT_MS = 10_000
const START_TIMEOUT_MS = 30_000

/**
 * Keeps the reserver deciding: a consumer that crashed for good (kafkajs gives up on
 * errors it deems non-retriable, such as an unknown member after a broker restart) or
 * that has undecided commands and completes no batch for `stallMs` is replaced by a
 * fresh one. The stall is measured from the group's committed offsets, so the signal
 * holds whatever the client believes about itself.
 */
export function createConsumerWatchdog(options: WatchdogOptions) {
  const { log } = options
  const now = options.now ?? Date.now
  const checkMs = options.checkMs ?? 1_000
  // Reading the offsets is a few Kafka requests; once a second it was most of an idle reserver's CPU
  // (profiles/README.md). While all is quiet they are read less often, which delays nothing: lag first
  // seen after a quiet read is dated back to that read (see check), so a stall is acted on no later.
  const quietCheckMs = options.quietCheckMs ?? Math.max(checkMs, Math.min(options.stallMs, options.reportAfterMs ?? STALL_REPORT_MS) / 2)
  let current: WatchedConsumer | undefined
  let state: "stopped" | "starting" | "running" | "crashed" = "stopped"
  let crash: string | undefined
  let assigned: readonly number[] = []
  // Per partition: last committed offset seen, and since when it waits with undecided commands.
  const waiting = new Map<number, { committed: number; since: number }>()
  let undecided = 0
  let offsetsError: string | undefined
  // When the offsets were last read, unless that read failed; and whether a batch completed since.
  let lastRead: number | undefined
  let progressedSinceRead = false
  let lastRecreated = -Infinity
  let recreating: Promise<void> | undefined
  let timer: Timer | undefined
  let stopped = false

  const watched = (partitions: PartitionOffsets[]) =>
    assigned.length === 0 ? partitions : partitions.filter((p) => assigned.includes(p.partition))

  const stalledMs = () => {
    let oldest = now()
    for (const w of waiting.values()) oldest = Math.min(oldest, w.since)
    return now() - oldest
  }

  const startOne = async () => {
    const consumer = options.create()
    current = consumer
    state = "starting"
    consumer.onCrash((error, restart) => {
      if (consumer !== current || restart || stopped) return
      state = "crashed"
      crash = `${error.name}: ${error.message}`
      log.error("kafka consumer crashed and will not restart itself; recreating it", { error: crash })
      void recreate("crashed")
    })
    await withTimeout(consumer.start(), START_TIMEOUT_MS, "joining the consumer group")
    // A crash while joining is reported through onCrash, not by start().
    if (state === "starting") state = "running"
  }

  const recreate = (reason: "crashed" | "stalled"): Promise<void> => {
    recreating ??= (async () => {
      options.onRecreate?.(reason)
      let failingSince: number | undefined
      let lastError: unknown
      for (let attempt = 0; !stopped; attempt++) {
        const old = current
        current = undefined
        if (old) await withTimeout(old.stop(), STOP_TIMEOUT_MS, "leaving the consumer group").catch((error) => log.warn("old consumer did not stop cleanly", { error }))
        try {
          await startOne()
          // The new member gets a full stall period to make its first decisions.
          lastRecreated = now()
          if (state === "running") {
            log.info("kafka consumer recreated", { reason, attempt })
            return
          }
        } catch (error) {
          lastError = error
          state = "crashed"
          crash = error instanceof Error ? error.message : String(error)
          log.warn("recreating the kafka consumer failed; trying again", { reason, attempt, error })
        }
        failingSince ??= now()
        if (now() - failingSince >= options.giveUpMs) {
          options.onGiveUp(lastError ?? new Error(crash ?? "consumer did not start"))
          return
        }
        await Bun.sleep(Math.min(500 * 2 ** attempt, 2_000))
      }
    })().finally(() => (recreating = undefined))
    return recreating
  }

  const check = async () => {
    try {
      const partitions = watched(await withTimeout(options.offsets(), 5_000, "reading the group's offsets"))
      const readAt = now()
      // Commands first seen waiting now arrived after the previous read: they may have waited since then.
      const arrivedAfter = lastRead ?? readAt
      lastRead = readAt
      progressedSinceRead = false
      offsetsError = undefined
      undecided = 0
      const seen = new Set<number>()
      for (const { partition, committed, high } of partitions) {
        const lag = Math.max(0, high - committed)
        undecided += lag
        if (lag === 0) continue
        seen.add(partition)
        const w = waiting.get(partition)
        if (!w) waiting.set(partition, { committed, since: arrivedAfter })
        else if (w.committed !== committed) waiting.set(partition, { committed, since: readAt })
      }
      for (const partition of waiting.keys()) if (!seen.has(partition)) waiting.delete(partition)
    } catch (error) {
      offsetsError = error instanceof Error ? error.message : String(error)
      lastRead = undefined
    }
    // A crashed member counts too, in case its crash was never reported as final.
    const idle = state === "crashed" || (state === "running" && current?.inFlight() === 0)
    if (idle && !recreating && waiting.size > 0 && stalledMs() >= options.stallMs && now() - lastRecreated >= options.stallMs) {
      const stalledSeconds = Math.round(stalledMs() / 1000)
      // Members recreated in vain: a new process may fare better (fresh connections, fresh client state).
      if (stalledMs() >= options.giveUpMs) return options.onGiveUp(new Error(`no decision for ${stalledSeconds} s with ${undecided} commands waiting`))
      log.error("no decision while commands wait; recreating the kafka consumer", { undecided, stalledSeconds })
      void recreate("stalled")
    }
  }

  const quiet = () => lastRead !== undefined && waiting.size === 0 && !progressedSinceRead && state === "running" && current?.inFlight() === 0
  const schedule = () => {
    timer = setTimeout(
      async () => {
        await check()
        if (!stopped) schedule()
      },
      quiet() ? quietCheckMs : checkMs,
    )
  }

  return {
    /** Starts the first consumer (throws if it cannot join) and the periodic check. */
    async start() {
      await startOne()
      schedule()
    },
    /** Stops the checks and the current consumer. */
    async stop() {
      stopped = true
      clearTimeout(timer)
      await recreating
      await current?.stop()
      state = "stopped"
    },
    /** The group gave this member its partitions (kafkajs GROUP_JOIN). */
    assigned(partitions: readonly number[]) {
      assigned = partitions
    },
    /** A batch was committed: its partition's wait is over, even before the next check reads the offsets. */
    progressed(partition: number) {
      waiting.delete(partition)
      progressedSinceRead = true
    },
    /** Undecided commands on the watched partitions at the last check. */
    undecided: () => undecided,
    /** How long the oldest waiting partition has had undecided commands and no new decision, in seconds (0 when none wait). */
    stalledSeconds: () => (waiting.size === 0 ? 0 : stalledMs() / 1000),
    /** Whether a consumer is running (1) or not (0). */
    up: () => (state === "running" ? 1 : 0),
    health(): ReserverHealth {
      if (state !== "running") return { healthy: false, reason: state === "crashed" ? `consumer not running: ${crash}` : `consumer ${state}`, partitions: assigned }
      const stalled = waiting.size > 0 ? stalledMs() : 0
      if (stalled >= (options.reportAfterMs ?? STALL_REPORT_MS)) {
        const partitions = [...waiting.keys()].sort((a, b) => a - b)
        return { healthy: false, reason: `${undecided} undecided commands on partitions ${partitions.join(",")}, no decision for ${Math.round(stalled / 1000)} s`, partitions: assigned }
      }
      if (offsetsError) return { healthy: false, reason: `cannot read the group's offsets: ${offsetsError}`, partitions: assigned }
      return { healthy: true, partitions: assigned }
    },
  }
}

/** The reserver's consumer watchdog. */
export type ConsumerWatchdog = ReturnType<typeof createConsumerWatchdog>
