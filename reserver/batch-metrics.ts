import { LATENCY_BUCKETS, SIZE_BUCKETS, type Metrics } from "../shared/metrics.ts"
import type { ConsumerOptions } from "./consume-commands.ts"
import type { ConsumerWatchdog } from "./consumer-watchdog.ts"

// The contract allows 5 s from deadline to expiry; the buckets resolve around it.
const EXPIRY_LAG_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30]

type BatchInfo = Parameters<NonNullable<ConsumerOptions["onBatch"]>>[0]

/** The reserver's batch metrics: sizes, durations, outcome counts and consumer lag per partition; returns the onBatch recorder. */
export function createBatchMetrics(metrics: Metrics, topic: string): (info: BatchInfo) => void {
  const size = metrics.histogram("reserver_batch_size", "Commands per partition batch.", SIZE_BUCKETS)
  const seconds = metrics.histogram("reserver_batch_duration_seconds", "Time from a batch's fetch to its committed offset.", LATENCY_BUCKETS)
  const outcomes = metrics.counter("reserver_commands_total", "Commands decided, by outcome.", ["outcome"])
  const reserved = outcomes.labels("reserved")
  const failed = outcomes.labels("failed")
  const released = outcomes.labels("released")
  const deadLettered = outcomes.labels("dead_lettered")
  const expiries = metrics.counter("reserver_expiries_total", "Holds expired: pending_payment bookings not paid by their deadline, their seats freed.")
  // Deadline to the expiry's commit: the tick, the expire command's trip through Kafka and the batch step.
  const expiryLag = metrics.histogram("reserver_expiry_lag_seconds", "Time from a hold's deadline to the commit of its expiry.", EXPIRY_LAG_BUCKETS)
  const lag = metrics.gauge("kafka_consumer_lag", "Messages behind the partition's high watermark after the last committed batch.", ["topic", "partition"])
  return (info) => {
    size.observe(info.size)
    seconds.observe(info.seconds)
    reserved.inc(info.result.reserved)
    failed.inc(info.result.failed)
    released.inc(info.result.released)
    deadLettered.inc(info.deadLettered)
    expiries.inc(info.result.expired)
    if (info.result.expired > 0) {
      const now = Date.now()
      for (const o of info.result.outcomes) if (o.status === "expired" && !o.replayed && o.expires_at) expiryLag.observe(Math.max(0, now - Date.parse(o.expires_at)) / 1000)
    }
    lag.labels(topic, String(info.partition)).set(info.lag)
  }
}

/**
 * The stall signal an operator alerts on: undecided commands and how long they have waited with
 * no decision, read at each scrape, plus whether a consumer runs and how often it was recreated.
 * Returns the watchdog's onRecreate recorder.
 */
export function watchdogMetrics(metrics: Metrics, watchdog: () => ConsumerWatchdog): (reason: "crashed" | "stalled") => void {
  const undecided = metrics.gauge("reserver_undecided_commands", "Commands on this member's partitions that the group has not committed yet (at the watchdog's last check).")
  const stalled = metrics.gauge(
    "reserver_decision_stall_seconds",
    "How long undecided commands have waited with no new decision on their partition (0 when none wait); alert when it stays above a few seconds.",
  )
  const up = metrics.gauge("reserver_consumer_up", "1 while the Kafka consumer runs, 0 while it is starting, crashed or being recreated.")
  const restarts = metrics.counter("reserver_consumer_restarts_total", "Kafka consumers recreated by the watchdog, by reason.", ["reason"])
  metrics.onCollect(() => {
    undecided.set(watchdog().undecided())
    stalled.set(watchdog().stalledSeconds())
    up.set(watchdog().up())
  })
  return (reason) => restarts.labels(reason).inc()
}
