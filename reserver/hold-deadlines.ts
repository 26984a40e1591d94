// The partition owner's index of live holds by deadline: a binary min-heap, so finding what fell
// due costs O(log n) per hold that did, never a scan of every hold (250,000 live holds of a
// million-seat sale are popped at the rate they fall due). No timer per hold: one tick pops.

/** A live hold: its booking, where its seats are (the command key's parts) and when it falls due. */
export type Hold = { bookingId: string; buyerId: number; eventId: number; section: string; subsection: number; partition: number; dueAt: number }

/** The holds of this member's partitions, by deadline. */
export type HoldDeadlines = {
  /** Adds a hold, or moves its deadline; a hold of a partition not owned is ignored. */
  add(hold: Hold): void
  /** Removes and returns the holds due at or before `now`, earliest first. */
  popDue(now: number): Hold[]
  /** Keeps only the holds of `partitions` (after a rebalance). */
  keepPartitions(partitions: ReadonlySet<number>): void
  /** Holds indexed. */
  size(): number
}

/**
 * Creates an empty index. A hold added again (a rebuild racing the batch that decided it) keeps one
 * entry: the map says which heap entry is current, and stale entries are dropped when they surface.
 */
export function createHoldDeadlines(owned: () => ReadonlySet<number>): HoldDeadlines {
  let heap: Hold[] = []
  const current = new Map<string, Hold>()

  const less = (a: Hold, b: Hold) => a.dueAt < b.dueAt
  const swap = (i: number, j: number) => {
    const t = heap[i]!
    heap[i] = heap[j]!
    heap[j] = t
  }
  const up = (i: number) => {
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!less(heap[i]!, heap[parent]!)) return
      swap(i, parent)
      i = parent
    }
  }
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let least = i
      if (l < heap.length && less(heap[l]!, heap[least]!)) least = l
      if (r < heap.length && less(heap[r]!, heap[least]!)) least = r
      if (least === i) return
      swap(i, least)
      i = least
    }
  }
  const pop = (): Hold => {
    const top = heap[0]!
    const last = heap.pop()!
    if (heap.length > 0) {
      heap[0] = last
      down(0)
    }
    return top
  }

  return {
    add(hold) {
      if (!owned().has(hold.partition)) return
      const known = current.get(hold.bookingId)
      if (known && known.dueAt === hold.dueAt) return
      current.set(hold.bookingId, hold)
      heap.push(hold)
      up(heap.length - 1)
    },
    popDue(now) {
      const due: Hold[] = []
      while (heap.length > 0 && heap[0]!.dueAt <= now) {
        const hold = pop()
        if (current.get(hold.bookingId) !== hold) continue
        current.delete(hold.bookingId)
        due.push(hold)
      }
      return due
    },
    keepPartitions(partitions) {
      heap = heap.filter((h) => partitions.has(h.partition) && current.get(h.bookingId) === h)
      for (const [id, hold] of current) if (!partitions.has(hold.partition)) current.delete(id)
      // Floyd's heapify: O(n) after filtering.
      for (let i = (heap.length >> 1) - 1; i >= 0; i--) down(i)
    },
    size: () => current.size,
  }
}
