// Profiles the gateway under Node (Elysia's Node adapter) with 0x or clinic flame while autocannon drives
// bookings through it, and prints where the flame graph HTML is. Output goes to profiles/out/ (git-ignored).
//
//   npm start                                          # in another shell (services, reserver, seed)
//   npm run profile:node:0x -- [--requests 20000] [--concurrency 64] [--reseed 50k]
//   npm run profile:node:clinic -- [same options]
import { mkdirSync, readdirSync } from "node:fs"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { config, driveBookings, openStores, readEvent, requireStack, reseed, root, say } from "../bench/stack.ts"
import { resolveJwtSecret } from "../gateway/jwt-secret.ts"
import { COOKIE_NAME, createAuth, type AuthUser } from "../gateway/auth.ts"
import { buildNodeBundle } from "./node/bundle.ts"

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    requests: { type: "string", default: "20000" },
    concurrency: { type: "string", default: "64" },
    reseed: { type: "string" },
  },
})
const tool = positionals[0]
if (tool !== "0x" && tool !== "clinic") {
  console.error("usage: bun profiles/profile-node.ts 0x|clinic [--requests N] [--concurrency C] [--reseed SEATS]")
  process.exit(2)
}
const port = 8220
const url = `http://127.0.0.1:${port}`
const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19)
const outDir = join(root, "profiles/out", `node-${tool}-${stamp}`)
mkdirSync(outDir, { recursive: true })
const bin = (name: string) => join(root, "node_modules/.bin", name)

// A token signed with the stack's secret, not a login: the profile is of bookings, not of argon2id.
async function sessionCookie(email = "b_1@t.com"): Promise<string> {
  const stores = openStores()
  try {
    const [user] = await stores.sql<AuthUser[]>`SELECT id::int AS id, email, name, role, is_active FROM users WHERE email = ${email}`
    if (user === undefined) throw new Error(`no user ${email}; run \`npm run seed\``)
    const auth = createAuth({ secret: resolveJwtSecret(config), cookieSecure: config.cookieSecure })
    return `${COOKIE_NAME}=${auth.issue(user)}`
  } finally {
    await stores.close()
  }
}

await requireStack()
if (args.reseed) await reseed(args.reseed)

say("building the Node bundle")
const bundle = await buildNodeBundle(join(root, "profiles/out/node-build"))

const command =
  tool === "0x"
    ? [bin("0x"), "--output-dir", outDir, "--", "node", bundle]
    : [bin("clinic"), "flame", "--open=false", "--dest", outDir, "--", "node", bundle]
say(`starting ${command.map((part) => part.replace(root + "/", "")).join(" ")} on :${port}`)
const profiler = Bun.spawn(command, {
  cwd: root,
  // DATA_DIR: the bundle cannot find the stack's data folder (and its JWT secret) by itself.
  // NO_INSIGHT: clinic otherwise waits, on its first run, for an answer about usage data.
  env: { ...process.env, PORT: String(port), LOG_LEVEL: "warn", DATA_DIR: config.dataDir, NO_INSIGHT: "true" },
  stdout: "inherit",
  stderr: "inherit",
})
let healthy = false
for (let i = 0; i < 300 && !healthy && profiler.exitCode === null; i++) {
  healthy = (await fetch(`${url}/health`).catch(() => undefined))?.status === 200
  if (!healthy) await Bun.sleep(100)
}
if (!healthy) {
  profiler.kill("SIGINT")
  throw new Error(`the gateway under ${tool} did not answer healthy on :${port}`)
}

const event = await readEvent(1)
const cookie = await sessionCookie()
const total = Number(args.requests)
say(`driving ${total.toLocaleString()} bookings (best available, quantity 1-4) through the gateway under Node on :${port}`)
const started = performance.now()
const result = await driveBookings(url, cookie, event, total, Number(args.concurrency))
const statuses = Object.entries(result.statusCodeStats ?? {}).map(([status, { count }]) => `${status}: ${count}`).join(", ")
say(`${total.toLocaleString()} requests in ${((performance.now() - started) / 1000).toFixed(1)} s (${statuses}); stopping the gateway`)
if (result["2xx"] === 0) say("warning: no booking was accepted, so the flame graph shows the error path")

// SIGINT to the profiler, which stops the gateway and then writes the flame graph.
profiler.kill("SIGINT")
if ((await profiler.exited) !== 0) say(`warning: ${tool} exited with ${profiler.exitCode}`)
const html = readdirSync(outDir, { recursive: true, encoding: "utf8" }).filter((file) => file.endsWith(".html"))
if (html.length === 0) throw new Error(`${tool} wrote no flame graph HTML under ${outDir}`)
for (const file of html) say(`flame graph: ${join(outDir, file)}`)
