// Every Redis key and channel name, in one place. Keys of one event share the hash tag
// {eventId}, so a Redis Cluster (or one Kvrocks shard per event group) keeps them together.

/** Subsection label as the contract writes it: `A-1`. */
export const subsectionLabel = (section: string, subsection: number): string => `${section}-${subsection}`

/** Reads a subsection label back; the last dash splits, so a section name may hold dashes. */
export function parseSubsectionLabel(label: string): { section: string; subsection: number } {
  const cut = label.lastIndexOf("-")
  return { section: label.slice(0, cut), subsection: Number(label.slice(cut + 1)) }
}

/** Key and channel builders under one prefix (tests use a unique prefix each). */
export function redisKeys(prefix: string) {
  return {
    /** Seat bitmap of one subsection: bit (row-1)*cols+(seat-1), MSB first, 1 = taken. */
    seats: (eventId: number, section: string, subsection: number) =>
      `${prefix}:seats:{${eventId}}:${section}-${subsection}`,
    /** Hash of an event's free-seat counters, field `A-1` → committed free seats. */
    available: (eventId: number) => `${prefix}:avail:{${eventId}}`,
    /** The event's seating map and sale status (JSON `EventMeta`), read by the gateway cache. */
    eventMeta: (eventId: number) => `${prefix}:event:{${eventId}}`,
    /** A booking accepted by the gateway and not yet decided (JSON, with a TTL). */
    pendingBooking: (bookingId: string) => `${prefix}:booking:${bookingId}`,
    /** First answer for an Idempotency-Key of one buyer (24 h). */
    idempotency: (buyerId: number, key: string) => `${prefix}:idem:${buyerId}:${key}`,
    /** Pub/sub: coalesced seat counts of one event. */
    eventChannel: (eventId: number) => `${prefix}:ch:event:${eventId}`,
    /** Pub/sub: booking outcomes of one buyer. */
    userChannel: (userId: number) => `${prefix}:ch:user:${userId}`,
    /** Pub/sub: an event's meta changed (status, availability); gateways drop their cached copy. */
    metaChannel: `${prefix}:ch:meta`,
    /** An event's waiting-room settings as the gateways cache them (JSON `RoomConfig`, or `null` for none); PostgreSQL is the truth. */
    roomConfig: (eventId: number) => `${prefix}:wr:{${eventId}}:config`,
    /** One waiting room's join counter (INCR gives the next position); a room turned on again gets a new epoch, so fresh keys. */
    roomSeq: (eventId: number, epoch: number) => `${prefix}:wr:{${eventId}}:${epoch}:seq`,
    /** Hash buyer id → position in one waiting room. */
    roomPositions: (eventId: number, epoch: number) => `${prefix}:wr:{${eventId}}:${epoch}:pos`,
    /** Sorted set of one room's admission segments `base:ms:rate`, scored by base (see gateway/waiting-room/admission.ts). */
    roomSegments: (eventId: number, epoch: number) => `${prefix}:wr:{${eventId}}:${epoch}:segs`,
    /** Pattern matching every key under this prefix (used by seed --reset). */
    all: `${prefix}:*`,
  }
}

export type RedisKeys = ReturnType<typeof redisKeys>

/** What the gateway needs to validate a booking without touching PostgreSQL. */
export type EventMeta = {
  id: number
  status: "draft" | "available" | "sold_out" | "completed" | "cancelled"
  is_active: boolean
  rows: number
  cols: number
  sections: { name: string; price: number; subsections: number }[]
  /** When the event row was created: an event re-created under the same id (seed --reset) differs here. */
  created_at: string
}
