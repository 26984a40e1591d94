import { describe, expect, test } from "bun:test"
import { polyfillPromiseWithResolvers, randomUUIDv7 } from "./bun-shim.ts"

describe("the Node shim's randomUUIDv7", () => {
  test("makes version-7, RFC 9562 variant UUIDs that increase within one millisecond and across them", () => {
    const ids = Array.from({ length: 10_000 }, () => randomUUIDv7())
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(new Set(ids).size).toBe(ids.length)
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true)
  })

  test("carries the current time in its first 48 bits", () => {
    const ms = Number.parseInt(randomUUIDv7().replace(/-/g, "").slice(0, 12), 16)
    expect(Math.abs(ms - Date.now())).toBeLessThan(1_000)
  })
})

test("the Promise.withResolvers polyfill resolves and rejects like the built-in one", async () => {
  const builtIn = Promise.withResolvers
  try {
    // @ts-expect-error removed to stand for Node 20, which lacks it
    delete Promise.withResolvers
    polyfillPromiseWithResolvers()
    expect(Promise.withResolvers).not.toBe(builtIn)
    const ok = Promise.withResolvers<number>()
    ok.resolve(7)
    expect(await ok.promise).toBe(7)
    const bad = Promise.withResolvers<number>()
    bad.reject(new Error("no"))
    await expect(bad.promise).rejects.toThrow("no")
  } finally {
    Promise.withResolvers = builtIn
  }
})
