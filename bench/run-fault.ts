// One fault run of the fault suite (bench/chaos.ts, bench/chaos.int.test.ts): a fresh event and
// buyers, a bounded booking load, one kill -9 in the middle and its restore, then the wait until
// every 202 is decided and the audit of what a buyer was promised.
import type Redis from "ioredis"
import type { Sql } from "postgres"
import { auditEvent } from "../testing/audit.ts"
import { withTimeout } from "../shared/clients.ts"
import type { RedisKeys } from "../shared/redis-keys.ts"
import { uniqueName } from "../testing/helpers.ts"
import { createHttpPool, headerOf, type HttpAnswer } from "./http-client.ts"
import { login, percentile } from "./stack.ts"
import { isAlive, processPid, runServices, servicePid, waitForHealth, type ProcessName, type ServiceName } from "./supervised-stack.ts"

/** A component the suite kills with -9. */
export type Fault = ProcessName | ServiceName

/** Every fault, in the order `all` runs them. */
export const FAULTS: readonly Fault[] = ["gateway", "reserver", "redis", "postgres", "kafka"]

const isProcess = (fault: Fault): fault is ProcessName => fault === "gateway" || fault === "reserver"

/** The shape of one run's load and the bounds of its waits; times in seconds. */
export type LoadPlan = {
  /** Requests per second sent (bookings and reads together). */
  rate: number
  /** The load lasts at least this long... */
  seconds: number
  /** ...and at least `tail` seconds past the restore (the restart seen, or the restore command's end)... */
  tail: number
  /** ...but never longer than this. */
  maxSeconds: number
  /** When the fault is injected, counted from the start of the load. */
  faultAt: number
  /** How long a killed service stays down before `services.sh start` restores it. */
  outage: number
  connections: number
  buyers: number
  /** Share of bookings that name their seats (manual); the rest are best_available. */
  manualShare: number
  /** Share of requests that read an accepted booking (GET /api/booking/{id}). */
  readShare: number
  /** How long to wait after the load for every 202 to be decided. */
  decideTimeout: number
  /** The longest acceptable recovery (issue #11: decisions resume within 30 s). */
  recoveryLimit: number
  /** A request with no answer after this long counts as a hang. */
  requestTimeout: number
}

/** A plan for the command-line suite: ~20 s of load at 400 req/s with the fault at 8 s. */
export const defaultPlan: LoadPlan = {
  rate: 400,
  seconds: 20,
  tail: 6,
  maxSeconds: 90,
  faultAt: 8,
  outage: 4,
  connections: 64,
  buyers: 8,
  manualShare: 0.2,
  readShare: 0.1,
  decideTimeout: 120,
  recoveryLimit: 30,
  requestTimeout: 15,
}

/** Where a run happens: the gateway's URL, the stack's data folder and services environment, and direct store access. */
export type Target = {
  baseUrl: string
  /** $DATA_DIR: pid files of the supervisor and of the services. */
  dataDir: string
  /** The environment `services.sh start` restores a service with. */
  env: Record<string, string | undefined>
  stores: { sql: Sql; redis: Redis; keys: RedisKeys }
  /** The running supervisor's pid, for runners that write no pid files. */
  supervisorPid: () => number | undefined
  /** Where the restore command's output goes. */
  servicesLog: string
  /** Why the stack cannot recover by itself any more (its supervisor exited, say), or undefined; ends the waits early. */
  stackDown?: () => string | undefined
  say: (line: string) => void
}

/** What one fault run saw; `problems` empty means every promise held. */
export type FaultRun = {
  fault: Fault
  eventId: number
  capacity: number
  sent: number
  /** Requests the generator did not send because too many were outstanding. */
  skipped: number
  /** Answers per route and status ("0" = no answer: connection refused or closed, or a timeout). */
  statuses: Record<string, Record<string, number>>
  accepted: number
  decided: number
  undecided: number
  reserved: number
  failed: number
  /** 5xx answers other than 503. */
  serverErrors: number
  unavailable: number
  missingRetryAfter: number
  missingDetail: number
  timeouts: number
  connectionErrors: number
  /** Bookings of the run's event whose 202 the load never saw (the gateway died after producing, say). */
  unanswered: number
  /** Error answers by status and detail (digits as N), to see what the 4xx and 5xx were. */
  errorDetails: Record<string, number>
  /** Answer times of the booking route, ms. */
  latency: { p50: number; p99: number; max: number }
  /** Decided bookings whose `processing` record is still in Redis. */
  leftoverRecords: number
  /** Seconds from the fault's origin (see `recoveryFrom`) until the first booking sent after it was decided. */
  recoverySeconds: number | undefined
  recoveryFrom: "kill" | "restore command"
  /** Seconds from the same origin until the first 202 to a request sent after it (the gateway's share of the recovery). */
  firstAccepted: number | undefined
  /** Infrastructure faults: seconds from the restore command's end (the service ready) until that first decision. */
  resumedAfterRestore: number | undefined
  /** Seconds from the kill until the restarted process was seen (process faults) or the restore command ended. */
  restoreSeconds: number | undefined
  loadSeconds: number
  problems: string[]
}

type Buyer = { cookie: string }

/** Creates a user through the API and logs in; answers its session cookie. */
async function signUp(baseUrl: string, role: "buyer" | "seller"): Promise<Buyer> {
  const email = `${uniqueName(`chaos-${role}`)}@example.com`
  const res = await fetch(`${baseUrl}/api/user`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password: "P@ssw0rd", name: `chaos ${role}`, role }),
  })
  if (res.status !== 201) throw new Error(`sign-up of a ${role} failed: ${res.status} ${await res.text()}`)
  return { cookie: await login(email, "P@ssw0rd", baseUrl) }
}

type Layout = { rows: number; cols: number; sections: { name: string; subsections: number }[] }

// Room for every booking the planned load could make (1-4 seats best available, 1-2 manual, with
// ~25% to spare): a sale that sold out before the restore would answer 400 after it, and then no
// booking would show when decisions resumed. A run longer than planned (a slow restore) may sell out.
const layoutFor = (plan: LoadPlan): Layout => {
  const sections = ["A", "B", "C", "D"].map((name) => ({ name, subsections: 3 }))
  const demand = plan.rate * plan.seconds * (1 - plan.readShare) * ((1 - plan.manualShare) * 2.5 + plan.manualShare * 1.5) * 1.25
  const rows = 20
  return { rows, cols: Math.max(5, Math.ceil(demand / (12 * rows))), sections }
}

async function createEvent(baseUrl: string, seller: Buyer, layout: Layout, name: string): Promise<number> {
  const res = await fetch(`${baseUrl}/api/event`, {
    method: "POST",
    headers: { "content-type": "application/json", cookie: seller.cookie },
    body: JSON.stringify({
      name,
      description: "A fault-suite sale",
      venue_name: "Chaos Hall",
      seating_config: { rows: layout.rows, cols: layout.cols, sections: layout.sections.map((s) => ({ ...s, price: 1000 })) },
    }),
  })
  if (res.status !== 201) throw new Error(`event creation failed: ${res.status} ${await res.text()}`)
  return ((await res.json()) as { id: number }).id
}

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!

// A booking body: best available of 1-4 seats, or 1-2 named adjacent seats anywhere (these may collide and fail).
const bookingBody = (eventId: number, layout: Layout, manual: boolean) => {
  const section = pick(layout.sections)
  const subsection = 1 + Math.floor(Math.random() * section.subsections)
  if (!manual) {
    const quantity = 1 + Math.floor(Math.random() * 4)
    return JSON.stringify({ event_id: eventId, section: section.name, subsection, seat_selection_mode: "best_available", seat_positions: [], quantity })
  }
  const quantity = 1 + Math.floor(Math.random() * 2)
  const row = 1 + Math.floor(Math.random() * layout.rows)
  const first = 1 + Math.floor(Math.random() * (layout.cols - quantity + 1))
  const seat_positions = Array.from({ length: quantity }, (_, i) => `${row}-${first + i}`)
  return JSON.stringify({ event_id: eventId, section: section.name, subsection, seat_selection_mode: "manual", seat_positions, quantity })
}

const idOf = (body: string): string | undefined => {
  try {
    const id = (JSON.parse(body) as { id?: unknown }).id
    return typeof id === "string" ? id : undefined
  } catch {
    return undefined
  }
}

// The contract's error body is {"detail": "<message>"}; anything else is a broken answer.
const detailOf = (body: string): string | undefined => {
  try {
    const detail = (JSON.parse(body) as { detail?: unknown }).detail
    return typeof detail === "string" && detail !== "" ? detail : undefined
  } catch {
    return undefined
  }
}

/** The moments of one injected fault, in epoch milliseconds. */
type Injection = { killedAt: number; restoreStartedAt?: number; restoredAt?: number; notes: string[] }

// Kills the component with -9 and restores it: the supervisor restarts a process (this only
// watches for the new pid, and for a gateway its health); a service is started again after
// `outage` seconds the project's way, `bash infra/services.sh start`.
async function injectFault(target: Target, fault: Fault, plan: LoadPlan): Promise<Injection> {
  const pid = isProcess(fault) ? processPid(target.dataDir, fault, target.supervisorPid()) : servicePid(target.dataDir, fault)
  if (pid === undefined) throw new Error(`no running ${fault} found (pid file under ${target.dataDir})`)
  process.kill(pid, "SIGKILL")
  const killedAt = Date.now()
  target.say(`${fault}: kill -9 ${pid}`)
  const notes: string[] = []
  if (isProcess(fault)) {
    const limit = plan.recoveryLimit
    const deadline = killedAt + limit * 1000
    let next: number | undefined
    while (Date.now() < deadline && !target.stackDown?.()) {
      next = processPid(target.dataDir, fault, target.supervisorPid())
      if (next !== undefined && next !== pid) break
      await Bun.sleep(100)
    }
    if (next === undefined || next === pid) {
      notes.push(`${fault} was not restarted ${target.stackDown?.() === undefined ? `within ${limit} s of the kill` : "(the stack is down)"}`)
      return { killedAt, notes }
    }
    if (fault === "gateway" && !(await waitForHealth(target.baseUrl, Math.max(0, deadline - Date.now())))) {
      notes.push(`the restarted gateway (pid ${next}) was not healthy within ${limit} s of the kill`)
      return { killedAt, notes }
    }
    const restoredAt = Date.now()
    target.say(`${fault}: restarted as pid ${next} after ${((restoredAt - killedAt) / 1000).toFixed(1)} s`)
    return { killedAt, restoredAt, notes }
  }
  // The process is gone at once, but give the kernel a moment to reap it before the port is probed.
  for (let i = 0; i < 50 && isAlive(pid); i++) await Bun.sleep(20)
  await Bun.sleep(plan.outage * 1000)
  const restoreStartedAt = Date.now()
  target.say(`${fault}: bash infra/services.sh start`)
  const code = await runServices("start", target.env, target.servicesLog)
  const restoredAt = Date.now()
  if (code !== 0) {
    notes.push(`services.sh start exited with ${code} (see ${target.servicesLog})`)
    return { killedAt, restoreStartedAt, notes }
  }
  target.say(`${fault}: restored in ${((restoredAt - restoreStartedAt) / 1000).toFixed(1)} s`)
  return { killedAt, restoreStartedAt, restoredAt, notes }
}

type Sent = { route: "book" | "read"; at: number; answer?: HttpAnswer; error?: string; id?: string }

type Sale = { eventId: number; layout: Layout; capacity: number; buyers: Buyer[] }

/** A fresh event of 12 subsections (several partitions) and its buyers, made through the API. */
async function prepareSale(baseUrl: string, fault: Fault, plan: LoadPlan): Promise<Sale> {
  const layout = layoutFor(plan)
  const seller = await signUp(baseUrl, "seller")
  const eventId = await createEvent(baseUrl, seller, layout, `Chaos: ${fault}`)
  const buyers = await Promise.all(Array.from({ length: plan.buyers }, () => signUp(baseUrl, "buyer")))
  return { eventId, layout, capacity: layout.rows * layout.cols * 12, buyers }
}

type Load = { sent: Sent[]; skipped: number; acceptedIds: string[]; seconds: number; injection: Injection }

// Sends the load at `plan.rate`, injects the fault at `plan.faultAt`, and stops once the load has
// run `plan.seconds` and `plan.tail` more past the restore (or at `plan.maxSeconds`).
async function driveLoad(target: Target, fault: Fault, plan: LoadPlan, sale: Sale): Promise<Load> {
  const { stores, say } = target
  const pool = await createHttpPool(target.baseUrl, plan.connections, { timeoutMs: plan.requestTimeout * 1000 })
  const sent: Sent[] = []
  const acceptedBy = new Map<string, Buyer>()
  const acceptedIds: string[] = []
  const inFlight = new Set<Promise<void>>()
  let skipped = 0

  const send = (item: Sent, method: string, path: string, buyer: Buyer, body?: string) => {
    const headers: Record<string, string> = { cookie: buyer.cookie }
    if (body !== undefined) headers["content-type"] = "application/json"
    const done = pool.send(method, path, headers, body).then(
      (answer) => {
        item.answer = answer
        if (item.route !== "book" || answer.status !== 202) return
        item.id = idOf(answer.body)
        if (item.id === undefined) return
        acceptedBy.set(item.id, buyer)
        acceptedIds.push(item.id)
      },
      (error: Error) => {
        item.error = error.message
      },
    )
    inFlight.add(done)
    void done.finally(() => inFlight.delete(done))
  }

  const nextRequest = () => {
    const item: Sent = { route: "book", at: Date.now() }
    sent.push(item)
    if (acceptedIds.length > 0 && Math.random() < plan.readShare) {
      item.route = "read"
      const id = acceptedIds[acceptedIds.length - 1 - Math.floor(Math.random() * Math.min(acceptedIds.length, 2_000))]!
      send(item, "GET", `/api/booking/${id}`, acceptedBy.get(id)!)
    } else {
      send(item, "POST", "/api/booking", pick(sale.buyers), bookingBody(sale.eventId, sale.layout, Math.random() < plan.manualShare))
    }
  }

  const progress = async (elapsed: number) => {
    const counts: Record<string, number> = {}
    for (const item of sent) {
      const key = item.answer ? String(item.answer.status) : item.error ? "no answer" : "in flight"
      counts[key] = (counts[key] ?? 0) + 1
    }
    const summary = Object.entries(counts).map(([k, n]) => `${k}: ${n.toLocaleString()}`).join(", ")
    const decided = await withTimeout(stores.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM bookings WHERE event_id = ${sale.eventId}`, 1_000, "count").then(
      ([row]) => row!.n.toLocaleString(),
      () => "?",
    )
    say(`${fault}: ${elapsed.toFixed(0).padStart(3)} s  sent ${sent.length.toLocaleString()} (${summary}); decided ${decided}`)
  }

  const started = Date.now()
  let injection: Promise<Injection> | undefined
  let injected: Injection | undefined
  let nextProgress = 2
  for (;;) {
    const now = Date.now()
    const elapsed = (now - started) / 1000
    if (!injection && elapsed >= plan.faultAt) {
      injection = injectFault(target, fault, plan).catch((error: Error) => ({ killedAt: Date.now(), notes: [`the fault was not injected: ${error.message}`] }))
      void injection.then((done) => (injected = done))
    }
    const restoredFor = injected ? (now - (injected.restoredAt ?? now)) / 1000 : 0
    const finished = elapsed >= plan.seconds && injected !== undefined && (injected.restoredAt === undefined || restoredFor >= plan.tail)
    if (finished || elapsed >= plan.maxSeconds) break
    const due = Math.floor(plan.rate * elapsed)
    while (sent.length + skipped < due) {
      // Open loop with a cap: a stalled gateway costs skipped requests, not an unbounded queue.
      if (pool.pending() >= plan.connections * 2) skipped++
      else nextRequest()
    }
    if (elapsed >= nextProgress) {
      nextProgress += 2
      void progress(elapsed)
    }
    await Bun.sleep(5)
  }
  const seconds = (Date.now() - started) / 1000
  await Promise.allSettled([...inFlight])
  pool.close()
  return { sent, skipped, acceptedIds, seconds, injection: await injection! }
}

type Decision = { id: string; status: string; decided_at: Date }

// Decided bookings among `ids`, asked in slices so no single statement carries tens of thousands of ids.
async function decidedAmong(sql: Sql, ids: string[]): Promise<Decision[]> {
  const rows: Decision[] = []
  for (let i = 0; i < ids.length; i += 5_000) {
    rows.push(...(await sql<Decision[]>`
      SELECT id::text, status, updated_at AS decided_at FROM bookings WHERE id = ANY(${ids.slice(i, i + 5_000)}::uuid[])`))
  }
  return rows
}

// Polls until every accepted booking has its bookings row, `plan.decideTimeout` at most: a stalled
// reserver shows up as undecided bookings.
async function waitForDecisions(target: Target, fault: Fault, plan: LoadPlan, ids: string[]) {
  const started = Date.now()
  const notes: string[] = []
  let rows: Decision[] = []
  let lastSay = started
  for (;;) {
    rows = await decidedAmong(target.stores.sql, ids).catch(() => rows)
    if (rows.length >= ids.length || Date.now() - started > plan.decideTimeout * 1000) break
    const down = target.stackDown?.()
    if (down !== undefined) {
      notes.push(`stopped waiting for decisions: ${down}`)
      break
    }
    if (Date.now() - lastSay >= 5_000) {
      lastSay = Date.now()
      target.say(`${fault}: waiting for decisions, ${rows.length.toLocaleString()} of ${ids.length.toLocaleString()} decided`)
    }
    await Bun.sleep(500)
  }
  return { rows, notes, seconds: (Date.now() - started) / 1000 }
}

const READ = "GET /api/booking/{id}"
const BOOK = "POST /api/booking"

// What the answers were: per route and status, the broken ones counted by kind, and the booking route's times.
function tallyAnswers(sent: Sent[]) {
  const tally = {
    statuses: { [BOOK]: {}, [READ]: {} } as Record<string, Record<string, number>>,
    errorDetails: {} as Record<string, number>,
    serverErrors: 0,
    unavailable: 0,
    missingRetryAfter: 0,
    missingDetail: 0,
    timeouts: 0,
    connectionErrors: 0,
    withoutId: 0,
    lostReads: 0,
    bookingMs: [] as number[],
  }
  for (const item of sent) {
    const route = item.route === "book" ? BOOK : READ
    const status = item.answer?.status ?? 0
    tally.statuses[route]![status] = (tally.statuses[route]![status] ?? 0) + 1
    if (!item.answer) {
      if (item.error?.startsWith("no answer within")) tally.timeouts++
      else tally.connectionErrors++
      continue
    }
    if (item.route === "book") tally.bookingMs.push(item.answer.ms)
    if (item.route === "book" && status === 202 && item.id === undefined) tally.withoutId++
    if (item.route === "read" && status === 404) tally.lostReads++
    const detail = detailOf(item.answer.body)
    if (status >= 400) {
      const key = `${status} ${detail?.replace(/\d+/g, "N") ?? "(no JSON detail)"}`
      tally.errorDetails[key] = (tally.errorDetails[key] ?? 0) + 1
    }
    if (status >= 300 && detail === undefined) tally.missingDetail++
    if (status === 503) {
      tally.unavailable++
      if (headerOf(item.answer.head, "retry-after") === undefined) tally.missingRetryAfter++
    } else if (status >= 500) tally.serverErrors++
  }
  tally.bookingMs.sort((a, b) => a - b)
  return tally
}

// Recovery: from the fault's origin until the reserver decided the first booking sent after it.
function recoveryOf(fault: Fault, load: Load, decided: Map<string, Decision>) {
  const from = isProcess(fault) ? ("kill" as const) : ("restore command" as const)
  const origin = isProcess(fault) ? load.injection.killedAt : load.injection.restoreStartedAt
  let first: number | undefined
  let firstAccepted: number | undefined
  for (const item of load.sent) {
    if (origin === undefined || item.id === undefined || item.at < origin) continue
    firstAccepted = Math.min(firstAccepted ?? Infinity, item.at + item.answer!.ms)
    const row = decided.get(item.id)
    if (row !== undefined) first = Math.min(first ?? Infinity, row.decided_at.getTime())
  }
  const between = (from: number | undefined, to: number | undefined) => (from !== undefined && to !== undefined ? (to - from) / 1000 : undefined)
  return {
    from,
    seconds: between(origin, first),
    accepted: between(origin, firstAccepted),
    afterRestore: isProcess(fault) ? undefined : between(load.injection.restoredAt, first),
  }
}

/**
 * Runs one fault: seeds a fresh event and buyers through the API, sends the load, injects the
 * fault at `plan.faultAt`, waits (bounded) until every accepted booking is decided, and audits.
 */
export async function runFault(target: Target, fault: Fault, plan: LoadPlan = defaultPlan): Promise<FaultRun> {
  const { stores, say } = target
  const sale = await prepareSale(target.baseUrl, fault, plan)
  say(`${fault}: event ${sale.eventId} (${sale.capacity.toLocaleString()} seats in 12 subsections), ${plan.buyers} buyers, ${plan.rate} req/s, fault at ${plan.faultAt} s`)
  const load = await driveLoad(target, fault, plan, sale)
  const wait = await waitForDecisions(target, fault, plan, load.acceptedIds)

  const answers = tallyAnswers(load.sent)
  const decided = new Map(wait.rows.map((row) => [row.id, row]))
  const undecided = load.acceptedIds.filter((id) => !decided.has(id)).length
  const [{ bookings }] = await stores.sql<[{ bookings: number }]>`SELECT count(*)::int AS bookings FROM bookings WHERE event_id = ${sale.eventId}`
  const unexpected = wait.rows.filter((row) => row.status !== "pending_payment" && row.status !== "failed")
  const leftovers = await Promise.all(wait.rows.map((row) => stores.redis.exists(stores.keys.pendingBooking(row.id))))
  const recovery = recoveryOf(fault, load, decided)
  const { killedAt, restoredAt } = load.injection

  const problems: string[] = []
  if (answers.withoutId > 0) problems.push(`${answers.withoutId} answers 202 without a booking id`)
  if (new Set(load.acceptedIds).size !== load.acceptedIds.length) problems.push("the gateway answered the same booking id twice")
  if (undecided > 0) problems.push(`${undecided} accepted bookings still undecided ${wait.seconds.toFixed(0)} s after the load`)
  if (unexpected.length > 0) problems.push(`${unexpected.length} bookings decided as neither pending_payment nor failed (${unexpected[0]!.status})`)
  // "A booking still processing is readable at once" (API.md): a 404 for an accepted id breaks that.
  if (answers.lostReads > 0) problems.push(`${answers.lostReads} reads of accepted bookings answered 404`)
  if (answers.serverErrors > 0) problems.push(`${answers.serverErrors} answers 5xx other than 503`)
  if (answers.missingRetryAfter > 0) problems.push(`${answers.missingRetryAfter} answers 503 without Retry-After`)
  if (answers.missingDetail > 0) problems.push(`${answers.missingDetail} error answers without a JSON detail`)
  if (answers.timeouts > 0) {
    // When they were sent, relative to the kill, says which moment of the fault leaves a request hanging.
    const hung = load.sent.filter((item) => item.error?.startsWith("no answer within"))
    const when = hung.slice(0, 5).map((item) => `${item.route === "book" ? BOOK : READ} sent ${((item.at - killedAt) / 1000).toFixed(1)} s after the kill`)
    problems.push(`${answers.timeouts} requests unanswered after ${plan.requestTimeout} s (${when.join("; ")}${hung.length > 5 ? "; ..." : ""})`)
  }
  // With the gateway killed, refused connections are the fault itself; otherwise the gateway must answer.
  if (answers.connectionErrors > 0 && fault !== "gateway") problems.push(`${answers.connectionErrors} requests lost their connection`)
  if (recovery.seconds === undefined) problems.push(`no booking sent after the ${recovery.from} was decided`)
  else if (recovery.seconds > plan.recoveryLimit) problems.push(`decisions resumed only ${recovery.seconds.toFixed(1)} s after the ${recovery.from} (limit ${plan.recoveryLimit} s)`)
  problems.push(...load.injection.notes, ...wait.notes, ...(await auditEvent(stores, sale.eventId)))
  say(`${fault}: ${load.acceptedIds.length} accepted, ${decided.size} decided, recovery ${recovery.seconds?.toFixed(1) ?? "never"} s from the ${recovery.from}, ${problems.length} problems`)

  const { bookingMs } = answers
  return {
    fault,
    eventId: sale.eventId,
    capacity: sale.capacity,
    sent: load.sent.length,
    skipped: load.skipped,
    statuses: answers.statuses,
    accepted: load.acceptedIds.length,
    decided: decided.size,
    undecided,
    reserved: wait.rows.filter((row) => row.status === "pending_payment").length,
    failed: wait.rows.filter((row) => row.status === "failed").length,
    serverErrors: answers.serverErrors,
    unavailable: answers.unavailable,
    errorDetails: answers.errorDetails,
    latency: { p50: percentile(bookingMs, 50), p99: percentile(bookingMs, 99), max: bookingMs.at(-1) ?? 0 },
    missingRetryAfter: answers.missingRetryAfter,
    missingDetail: answers.missingDetail,
    timeouts: answers.timeouts,
    connectionErrors: answers.connectionErrors,
    unanswered: bookings - decided.size,
    leftoverRecords: leftovers.reduce((n, found) => n + found, 0),
    recoverySeconds: recovery.seconds,
    recoveryFrom: recovery.from,
    resumedAfterRestore: recovery.afterRestore,
    firstAccepted: recovery.accepted,
    restoreSeconds: restoredAt === undefined ? undefined : (restoredAt - killedAt) / 1000,
    loadSeconds: load.seconds,
    problems,
  }
}
