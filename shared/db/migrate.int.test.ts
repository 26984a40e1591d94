import { afterAll, beforeAll, expect, test } from "bun:test"
import { createTestDatabase, type TestDatabase } from "../../testing/helpers.ts"
import { migrate, readMigrations } from "./migrate.ts"

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase(false)
})
afterAll(() => db.drop())

test("migrations apply on an empty database and are a no-op the second time", async () => {
  const all = (await readMigrations()).map((m) => m.version)
  expect(all.length).toBeGreaterThan(0)
  expect(await migrate(db.sql)).toEqual(all)
  expect(await migrate(db.sql)).toEqual([])
  const tables = await db.sql<{ table_name: string }[]>`
    SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`
  expect(tables.map((t) => t.table_name)).toEqual(
    expect.arrayContaining(["bookings", "events", "schema_migrations", "subsection_stats", "tickets", "users"]),
  )
})

test("a seat can exist only once per event", async () => {
  const [user] = await db.sql`INSERT INTO users (email, hashed_password, name, role) VALUES ('m@t.com', 'x', 'm', 'seller') RETURNING id`
  const [event] = await db.sql`
    INSERT INTO events (name, description, seller_id, venue_name, seating_config)
    VALUES ('e', 'd', ${user!.id}, 'v', '{}') RETURNING id`
  const seat = { event_id: event!.id, section: "A", subsection: 1, row: 1, seat: 1, price: 100 }
  await db.sql`INSERT INTO tickets ${db.sql(seat)}`
  expect(db.sql`INSERT INTO tickets ${db.sql(seat)}`).rejects.toThrow(/tickets_seat_unique/)
})
