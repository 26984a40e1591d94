import { LATENCY_BUCKETS, SIZE_BUCKETS, type Metrics } from "../shared/metrics.ts"
import type { ConsumerOptions } from "./consume-commands.ts"

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
