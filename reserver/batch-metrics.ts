import { LATENCY_BUCKETS, SIZE_BUCKETS, type Metrics } from "../shared/metrics.ts"
import type { ConsumerOptions } from "./consume-commands.ts"
import type { ConsumerWatchdog } from "./consumer-watchdog.ts"

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
  const lag = metrics.gauge("kafka_consumer_lag", "Messages behind the partition's high watermark after the last committed batch.", ["topic", "partition"])
  return (info) => {
    size.observe(info.size)
    seconds.observe(info.seconds)
    reserved.inc(info.result.reserved)
    failed.inc(info.result.failed)
    released.inc(info.result.released)
    deadLettered.inc(info.deadLettered)
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
