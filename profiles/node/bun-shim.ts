// The few Bun APIs the gateway calls, for running it under Node (0x, clinic flame). Profiling only:
// the booking hot path calls randomUUIDv7; passwords are hashed only by signup and login.
import { randomFillSync, randomInt, scrypt, timingSafeEqual } from "node:crypto"
import { promisify } from "node:util"

const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>

// Random bytes are drawn 4 KiB at a time: one randomFillSync per id would show up in the flame graph.
const pool = Buffer.alloc(4096)
let poolAt = pool.length
let lastMs = 0
let sequence = 0

/** A version-7 UUID (RFC 9562): 48-bit Unix milliseconds, then a 12-bit counter that keeps ids from one process increasing. */
export function randomUUIDv7(): string {
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

// Node has no argon2id, which Bun.password uses by default; scrypt stands in. Hashes made by Bun
// (the seeded users) cannot be verified here, so the Node profile signs its own session token.
const password = {
  async hash(plain: string): Promise<string> {
    const salt = Buffer.alloc(16)
    randomFillSync(salt)
    return `$scrypt$${salt.toString("base64url")}$${(await scryptAsync(plain, salt, 32)).toString("base64url")}`
  },
  async verify(plain: string, hash: string): Promise<boolean> {
    const [, scheme, salt, digest] = hash.split("$")
    if (scheme !== "scrypt" || salt === undefined || digest === undefined) {
      throw new Error(`the Node profiling shim verifies only its own scrypt hashes, not ${scheme ?? "this"} hashes made by Bun`)
    }
    const expected = Buffer.from(digest, "base64url")
    return timingSafeEqual(await scryptAsync(plain, Buffer.from(salt, "base64url"), expected.length), expected)
  },
}

/**
 * Promise.withResolvers (Node 22), which @platformatic/kafka, the gateway's producer, calls on every
 * send; the machine's Node is 20. Installed before the gateway starts; a no-op where it exists.
 */
export function polyfillPromiseWithResolvers(): void {
  if (typeof Promise.withResolvers === "function") return
  Promise.withResolvers = <T>() => {
    let resolve!: (value: T | PromiseLike<T>) => void
    let reject!: (reason?: unknown) => void
    const promise = new Promise<T>((res, rej) => {
      resolve = res
      reject = rej
    })
    return { promise, resolve, reject }
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * Defines globalThis.Bun with the shim under Node; does nothing under Bun. Call it only once the server
 * listens: Elysia decides `isBun` from `typeof Bun` when it loads, and crossws will not serve with a global Bun.
 */
export function installBunShim(): void {
  if (typeof globalThis.Bun !== "undefined") return
  Object.assign(globalThis, { Bun: { randomUUIDv7, password, sleep } })
}
