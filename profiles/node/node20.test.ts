import { expect, test } from "bun:test"
import { polyfillPromiseWithResolvers } from "./node20.ts"

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
