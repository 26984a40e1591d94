// What the benchmarks need from a running stack (`npm start` in another shell): health,
// a session, a freshly seeded event, and direct reads for polling and the audit.
import autocannon from "autocannon"
import { cpus, totalmem } from "node:os"
import { join } from "node:path"
import { createRedis, createSql } from "../shared/clients.ts"
import { loadConfig } from "../shared/config.ts"
import { createKafka } from "../shared/kafka.ts"
import { createLogger } from "../shared/log.ts"
import { redisKeys } from "../shared/redis-keys.ts"
import { groupOffsets } from "../reserver/group-offsets.ts"

export const config = loadConfig(process.env)
export const baseUrl = process.env.BENCH_URL ?? `http://127.0.0.1:${config.port}`
export const root = join(import.meta.dir, "..")

/** Prints a progress line. */
export const say = (line: string) => console.log(`[bench] ${line}`)

/** Fails with a clear message unless the gateway answers healthy. */
export async function requireStack(): Promise<void> {
  const res = await fetch(`${baseUrl}/health`).catch(() => undefined)
  if (res?.status !== 200) {
    console.error(`[bench] the stack is not up at ${baseUrl} (GET /health: ${res?.status ?? "no answer"}); run \`npm start\` in another shell first`)
    process.exit(1)
  }
}

/** Logs in (at the gateway at `url`) and returns the session cookie. */
export async function login(email = "b_1@t.com", password = "P@ssw0rd", url = baseUrl): Promise<string> {
  const res = await fetch(`${url}/api/user/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password }),
  })
  if (res.status !== 200) throw new Error(`login as ${email} failed: ${res.status} ${await res.text()}`)
  return res.headers.get("set-cookie")!.split(";")[0]!
}

/** Commands on the command topic that the reserver group has not committed yet. */
export async function reserverLag(): Promise<number> {
  const admin = createKafka(config, createLogger("bench", "error"), "bench-lag").admin()
  await admin.connect()
  try {
    const partitions = await groupOffsets(admin, config.commandTopic, config.reserverGroupId)
    return partitions.reduce((lag, p) => lag + p.high - p.committed, 0)
  } finally {
    await admin.disconnect()
  }
}

/** Waits until the reserver has decided every queued command (a reset under a backlog would mix runs). */
export async function waitForDrain(timeoutMs = 120_000): Promise<number> {
  const deadline = Date.now() + timeoutMs
  let lag = await reserverLag()
  while (lag > 0 && Date.now() < deadline) {
    await Bun.sleep(250)
    lag = await reserverLag()
  }
  return lag
}

/** Wipes the data and seeds event 1 with the named seating config, as the old system's re-seed did; `env` adds settings (HOLD_SECONDS). */
export async function reseed(seats: string, env: Record<string, string> = {}): Promise<void> {
  const lag = await waitForDrain()
  if (lag > 0) say(`warning: ${lag} commands still queued after 2 minutes; re-seeding anyway`)
  say(`re-seeding event 1 with the ${seats} seating config`)
  const proc = Bun.spawn([process.execPath, join(root, "gateway/seed-cli.ts"), "--reset"], {
    env: { ...process.env, ...env, SEATS: seats },
    stdout: "inherit",
    stderr: "inherit",
  })
  if ((await proc.exited) !== 0) throw new Error("seed --reset failed")
  // Gateways drop their cached copy of the event on the meta channel; give it a moment.
  await Bun.sleep(500)
}

export type EventShape = { id: number; rows: number; cols: number; sections: { name: string; price: number; subsections: number }[] }

/** The seating shape of an event, read through the API. */
export async function readEvent(id = 1): Promise<EventShape> {
  const res = await fetch(`${baseUrl}/api/event/${id}`)
  const event = (await res.json()) as { seating_config: { rows: number; cols: number; sections: EventShape["sections"] } }
  const { rows, cols, sections } = event.seating_config
  return { id, rows, cols, sections }
}

/** A best-available booking of 1-4 seats in a random subsection of event 1, as the old k6 script sent. */
export const bookingBody = (event: EventShape) => {
  const section = event.sections[Math.floor(Math.random() * event.sections.length)]!
  return JSON.stringify({
    event_id: event.id,
    section: section.name,
    subsection: 1 + Math.floor(Math.random() * section.subsections),
    seat_selection_mode: "best_available",
    seat_positions: [],
    quantity: 1 + Math.floor(Math.random() * 4),
  })
}

/**
 * Sends `total` bookings (bookingBody) over `connections` keep-alive connections with
 * autocannon, for profiling runs: Bun's fetch client costs more CPU than the gateway it drives.
 */
export const driveBookings = (url: string, cookie: string, event: EventShape, total: number, connections: number) =>
  new Promise<autocannon.Result>((resolve, reject) =>
    autocannon(
      {
        url: `${url}/api/booking`,
        method: "POST",
        headers: { "content-type": "application/json", cookie },
        connections,
        amount: total,
        requests: [{ setupRequest: (req) => ({ ...req, body: bookingBody(event) }) }],
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    ),
  )

/** Direct connections for polling progress and auditing. */
export function openStores() {
  const sql = createSql(config, 4)
  const redis = createRedis(config.redisUrl)
  return { sql, redis, keys: redisKeys(config.redisPrefix), close: async () => Promise.all([sql.end(), redis.quit()]) }
}

/** One line describing the machine, for reports. */
export const machine = () =>
  `${cpus().length} × ${cpus()[0]?.model.trim() ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Bun ${Bun.version}, ${process.platform}`

/** Percentile of a sorted array. */
export const percentile = (sorted: number[], p: number) =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!
