// Everything the gateway needs from its runtime, for the one gateway code to run on Bun (production), on
// Deno 2 (`npm run gateway:deno`) and on Node (the profilers in profiles/node/). No other gateway module
// touches Bun, Deno or Node specifics.
import { randomFillSync, randomInt } from "node:crypto"
import type { AnyElysia } from "elysia"

/** The runtime this process runs on. */
export const runtime: "bun" | "deno" | "node" = typeof globalThis.Bun !== "undefined" ? "bun" : "Deno" in globalThis ? "deno" : "node"

// Random bytes are drawn 4 KiB at a time: one randomFillSync per id showed up in the Node flame graph.
const pool = Buffer.alloc(4096)
let poolAt = pool.length
let lastMs = 0
let sequence = 0

/** A version-7 UUID (RFC 9562) in plain JavaScript: 48-bit Unix milliseconds, then a 12-bit counter that keeps one process's ids increasing. */
export function portableUUIDv7(): string {
  const now = Date.now()
  if (now > lastMs) {
    lastMs = now
    // Starts in the lower half so that a burst within one millisecond has room to count up.
    sequence = randomInt(0x800)
  } else if (++sequence > 0xfff) {
    // Counter exhausted within one millisecond: borrow the next one, as Bun does.
    lastMs++
    sequence = 0
  }
  if (poolAt + 16 > pool.length) {
    randomFillSync(pool)
    poolAt = 0
  }
  const bytes = Buffer.from(pool.subarray(poolAt, (poolAt += 16)))
  bytes.writeUIntBE(lastMs, 0, 6)
  bytes[6] = 0x70 | (sequence >> 8)
  bytes[7] = sequence & 0xff
  bytes[8] = 0x80 | (bytes[8]! & 0x3f)
  const hex = bytes.toString("hex")
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

/** A version-7 UUID: Bun's own on Bun, portableUUIDv7 elsewhere. */
export const randomUUIDv7: () => string = runtime === "bun" ? () => Bun.randomUUIDv7() : portableUUIDv7

/** Password hashing as Bun.password does it by default. */
export type PasswordHasher = { hash(plain: string): Promise<string>; verify(plain: string, hash: string): Promise<boolean> }

// Bun.password's default: argon2id, 64 MiB, 2 passes, 1 lane, 32-byte digest, as a PHC string.
const ARGON2ID = { algorithm: 2 /* Algorithm.Argon2id, a const enum */, memoryCost: 65_536, timeCost: 2, parallelism: 1, outputLen: 32 } as const

/**
 * argon2id through @node-rs/argon2 (a Node-API addon that Deno and Node both load): it reads and writes the
 * same PHC strings as Bun.password, so users made on one runtime log in on the other, and it hashes on a
 * worker thread, not the event loop. Loaded on first use, so Bun never loads it.
 */
export const portablePassword: PasswordHasher = {
  async hash(plain) {
    const argon2 = await import("@node-rs/argon2")
    return argon2.hash(plain, ARGON2ID)
  },
  async verify(plain, hash) {
    const argon2 = await import("@node-rs/argon2")
    return argon2.verify(hash, plain)
  },
}

/** Bun.password on Bun, portablePassword elsewhere. */
export const password: PasswordHasher =
  runtime === "bun" ? { hash: (plain) => Bun.password.hash(plain), verify: (plain, hash) => Bun.password.verify(plain, hash) } : portablePassword

/** A listening server: its port, and stop, which waits for the open answers. */
export type Listening = { port: number; stop(): Promise<void> }

type DenoServer = { addr: { port: number }; shutdown(): Promise<void> }
type DenoServe = (options: { hostname: string; port: number; onListen?: () => void }, handler: (request: Request) => Response | Promise<Response>) => DenoServer

/**
 * Serves `app` on `hostname:port`: with Deno.serve on Deno (Elysia's web-standard adapter has no listen of
 * its own), with app.listen elsewhere (Bun's server, or the adapter the app was built with).
 */
export function listen(app: AnyElysia, { hostname, port }: { hostname: string; port: number }): Listening {
  if (runtime === "deno") {
    const serve = (globalThis as unknown as { Deno: { serve: DenoServe } }).Deno.serve
    // onListen replaces Deno's own "Listening on" line; the gateway logs its own.
    const server = serve({ hostname, port, onListen: () => {} }, app.fetch)
    return { port: server.addr.port, stop: () => server.shutdown() }
  }
  app.listen({ hostname, port })
  return {
    port: app.server?.port ?? port,
    // Elysia's Node adapter does not record its server, so app.stop() would throw there; exiting closes it.
    stop: async () => {
      if (app.server) await app.stop()
    },
  }
}
