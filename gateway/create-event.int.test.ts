import { afterAll, beforeAll, expect, test } from "bun:test"
import { createRedis } from "../shared/clients.ts"
import { createLogger } from "../shared/log.ts"
import { createEvent } from "./create-event.ts"
import { createTestGateway, inProcessTest } from "../testing/gateway.ts"

let gw: Awaited<ReturnType<typeof createTestGateway>>
let sellerId: number
beforeAll(async () => {
  gw = await createTestGateway()
  sellerId = (await gw.signUp("seller")).user.id
})
afterAll(() => gw.close())

const seating = {
  rows: 3,
  cols: 5,
  sections: [
    { name: "VIP", price: 5000, subsections: 1 },
    { name: "B", price: 0, subsections: 2 },
  ],
  total_seats: 45,
}
const input = { name: "Show", description: "A show", venue_name: "Hall", seating_config: seating }

const countRows = async (eventId: number) => {
  const [counts] = await gw.sql<{ events: number; tickets: number; stats: number }[]>`
    SELECT (SELECT count(*)::int FROM events WHERE id = ${eventId}) AS events,
           (SELECT count(*)::int FROM tickets WHERE event_id = ${eventId}) AS tickets,
           (SELECT count(*)::int FROM subsection_stats WHERE event_id = ${eventId}) AS stats`
  return counts
}

const nextEventId = async () => {
  const [seq] = await gw.sql<{ next: string }[]>`SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END AS next FROM events_id_seq`
  return Number(seq!.next)
}

test("writes one ticket per seat, the subsection stats and the Redis seat state, and announces the event", async () => {
  const subscriber = createRedis(gw.config.redisUrl)
  const announced = new Promise<string>((resolve) => subscriber.on("message", (_channel, message) => resolve(message)))
  await subscriber.subscribe(gw.keys.metaChannel)

  const event = await createEvent(gw, sellerId, input)
  expect(event).toEqual({
    id: expect.any(Number),
    ...input,
    seller_id: sellerId,
    is_active: true,
    status: "available",
    stats: { available: 45, reserved: 0, sold: 0, total: 45 },
    hold_seconds: gw.config.holdSeconds,
    waiting_room: null,
  })
  expect(await announced).toBe(String(event.id))
  subscriber.disconnect()

  const tickets = await gw.sql`
    SELECT section, subsection, count(*)::int AS seats, min(row) AS first_row, max(row) AS last_row,
           min(seat) AS first_seat, max(seat) AS last_seat, min(price) AS price, bool_and(status = 'available') AS free
    FROM tickets WHERE event_id = ${event.id} GROUP BY section, subsection ORDER BY section, subsection`
  const block = { seats: 15, first_row: 1, last_row: 3, first_seat: 1, last_seat: 5, free: true }
  expect([...tickets]).toEqual([
    { section: "B", subsection: 1, price: 0, ...block },
    { section: "B", subsection: 2, price: 0, ...block },
    { section: "VIP", subsection: 1, price: 5000, ...block },
  ])
  const stats = await gw.sql`
    SELECT section, subsection, price, rows, cols, available, reserved, sold
    FROM subsection_stats WHERE event_id = ${event.id} ORDER BY section, subsection`
  const counts = { rows: 3, cols: 5, available: 15, reserved: 0, sold: 0 }
  expect([...stats]).toEqual([
    { section: "B", subsection: 1, price: 0, ...counts },
    { section: "B", subsection: 2, price: 0, ...counts },
    { section: "VIP", subsection: 1, price: 5000, ...counts },
  ])

  for (const [section, n] of [["VIP", 1], ["B", 1], ["B", 2]] as const) {
    // 15 seats need 2 bytes, all zero: every seat free.
    expect(await gw.redis.getBuffer(gw.keys.seats(event.id, section, n))).toEqual(Buffer.alloc(2))
  }
  expect(await gw.redis.hgetall(gw.keys.available(event.id))).toEqual({ "VIP-1": "15", "B-1": "15", "B-2": "15" })
  expect(JSON.parse((await gw.redis.get(gw.keys.eventMeta(event.id)))!)).toEqual({
    id: event.id,
    created_at: expect.any(String),
    status: "available",
    is_active: true,
    rows: 3,
    cols: 5,
    sections: [
      { name: "VIP", price: 5000, subsections: 1 },
      { name: "B", price: 0, subsections: 2 },
    ],
  })
})

test("seat state left in Redis under a reused event id is replaced, not merged", async () => {
  const id = await nextEventId()
  await gw.redis.hset(gw.keys.available(id), "Z-9", "3")
  await createEvent(gw, sellerId, input)
  expect(await gw.redis.hgetall(gw.keys.available(id))).toEqual({ "VIP-1": "15", "B-1": "15", "B-2": "15" })
})

test("a commit failing after Redis was written deletes the Redis keys too", async () => {
  // A deferred constraint trigger fails at COMMIT, after the transaction callback wrote Redis.
  await gw.sql.unsafe(`
    CREATE FUNCTION fail_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'commit refused'; END $$;
    CREATE CONSTRAINT TRIGGER fail_at_commit AFTER INSERT ON events DEFERRABLE INITIALLY DEFERRED
      FOR EACH ROW EXECUTE FUNCTION fail_at_commit();`)
  try {
    const id = await nextEventId()
    await expect(createEvent(gw, sellerId, input)).rejects.toThrow(/commit refused/)
    expect(await countRows(id)).toEqual({ events: 0, tickets: 0, stats: 0 })
    expect(await gw.redis.exists(gw.keys.seats(id, "VIP", 1), gw.keys.available(id), gw.keys.eventMeta(id))).toBe(0)
  } finally {
    await gw.sql.unsafe("DROP TRIGGER fail_at_commit ON events; DROP FUNCTION fail_at_commit()")
  }
})

inProcessTest("with Redis unreachable, POST /api/event is 503 with Retry-After and leaves no event, ticket or stats row", async () => {
  const deadRedis = createRedis("redis://127.0.0.1:1")
  deadRedis.on("error", () => {})
  const lines: string[] = []
  const down = await createTestGateway({ redis: deadRedis, log: createLogger("gateway", "error", {}, (line) => lines.push(line) > 0) })
  try {
    const { cookie } = await down.signUp("seller")
    const res = await down.call("POST", "/api/event", { cookie, body: input })
    expect(res).toMatchObject({ status: 503, body: { detail: "Service temporarily unavailable, please retry" } })
    expect(res.headers.get("retry-after")).toBe("1")
    const [counts] = await down.sql`
      SELECT (SELECT count(*)::int FROM events) AS events, (SELECT count(*)::int FROM tickets) AS tickets,
             (SELECT count(*)::int FROM subsection_stats) AS stats`
    expect(counts).toEqual({ events: 0, tickets: 0, stats: 0 })
    expect(lines.filter((line) => JSON.parse(line).msg === "unhandled error")).toHaveLength(0)
  } finally {
    deadRedis.disconnect()
    await down.close()
  }
})
