import type { Admin } from "kafkajs"
import type { PartitionOffsets } from "./consumer-watchdog.ts"

/** Each partition of `topic` with the group's committed offset (0 when it has none) and the high watermark. */
export async function groupOffsets(admin: Admin, topic: string, groupId: string): Promise<PartitionOffsets[]> {
  const [ends, [group]] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })])
  const committed = new Map(group?.partitions.map((p) => [p.partition, Math.max(0, Number(p.offset))]) ?? [])
  return ends.map((p) => ({ partition: p.partition, committed: committed.get(p.partition) ?? 0, high: Number(p.high) }))
}
