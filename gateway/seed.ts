import { loadStandardSeatingConfig, totalSeats } from "./seating.ts"
import type { Role } from "./auth.ts"
import { createEvent, type CreateEventDeps } from "./create-event.ts"
import { findUserByEmail, insertUser } from "./users-db.ts"
import { password } from "./runtime.ts"

/** The password of every seeded account. */
export const SEED_PASSWORD = "P@ssw0rd"

const SEED_USERS: { email: string; name: string; role: Role }[] = [
  { email: "s@t.com", name: "init seller", role: "seller" },
  { email: "b@t.com", name: "init buyer", role: "buyer" },
  { email: "b_1@t.com", name: "Load Test User", role: "buyer" },
]

/** What seeding did: the emails it created and the event it created, with how long that took. */
export type SeedResult = { createdUsers: string[]; event?: { id: number; seats: number; ms: number } }

/**
 * Creates the seed users that are missing and, when there are no events yet, event 1 "Concert Event"
 * with the named standard seating layout; running it again is a no-op.
 */
export async function seed(deps: CreateEventDeps & { seats: string }, say: (line: string) => void = () => {}): Promise<SeedResult> {
  const { sql } = deps
  const createdUsers: string[] = []
  for (const user of SEED_USERS) {
    if (await findUserByEmail(sql, user.email)) continue
    const hashedPassword = await password.hash(SEED_PASSWORD)
    if (await insertUser(sql, { ...user, hashedPassword })) {
      createdUsers.push(user.email)
      say(`created ${user.role} ${user.email}`)
    }
  }
  const [{ events }] = await sql<[{ events: number }]>`SELECT count(*)::int AS events FROM events`
  if (events > 0) {
    say(createdUsers.length > 0 ? `${events} event(s) exist already; no event created` : "users and events exist already; nothing to do (--reset starts over)")
    return { createdUsers }
  }
  const seller = await findUserByEmail(sql, "s@t.com")
  if (seller === undefined) throw new Error("seed seller s@t.com is missing")
  const seating = loadStandardSeatingConfig(deps.seats)
  // Clients (the spike test, the k6 scripts) expect event 1; with no events, no row can clash with restarting the ids.
  await sql`SELECT setval(pg_get_serial_sequence('events', 'id'), 1, false)`
  say(`creating event "Concert Event" with seating "${deps.seats}" (${totalSeats(seating)} seats)...`)
  const started = performance.now()
  const event = await createEvent(deps, seller.id, {
    name: "Concert Event",
    description: "Seeded concert",
    venue_name: "Taipei Arena",
    seating_config: seating,
  })
  const ms = Math.round(performance.now() - started)
  say(`created event ${event.id} in ${ms} ms`)
  return { createdUsers, event: { id: event.id, seats: event.stats.total, ms } }
}

/** Empties every table and deletes every Redis key under the prefix; returns how many keys it deleted. */
export async function resetData({ sql, redis, keys }: Pick<CreateEventDeps, "sql" | "redis" | "keys">): Promise<number> {
  await sql`TRUNCATE users, events, tickets, bookings, subsection_stats RESTART IDENTITY CASCADE`
  let removed = 0
  let cursor = "0"
  do {
    const [next, found] = await redis.scan(cursor, "MATCH", keys.all, "COUNT", 1000)
    if (found.length > 0) removed += await redis.unlink(...found)
    cursor = next
  } while (cursor !== "0")
  return removed
}
