import { describe, expect, test } from "bun:test"
import { portablePassword, portableUUIDv7 } from "./runtime.ts"

describe("portableUUIDv7, the UUIDs of the gateway on Deno and Node", () => {
  test("makes version-7, RFC 9562 variant UUIDs that increase within one millisecond and across them", () => {
    const ids = Array.from({ length: 10_000 }, () => portableUUIDv7())
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(new Set(ids).size).toBe(ids.length)
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true)
  })

  test("carries the current time in its first 48 bits", () => {
    const ms = Number.parseInt(portableUUIDv7().replace(/-/g, "").slice(0, 12), 16)
    expect(Math.abs(ms - Date.now())).toBeLessThan(1_000)
  })
})

describe("portablePassword, the password hashes of the gateway on Deno and Node", () => {
  test("verifies Bun.password's hashes, so users signed up on Bun log in on Deno", async () => {
    const hash = await Bun.password.hash("P@ssw0rd")
    expect(await portablePassword.verify("P@ssw0rd", hash)).toBe(true)
    expect(await portablePassword.verify("p@ssw0rd", hash)).toBe(false)
  })

  test("makes argon2id hashes with Bun's parameters that Bun.password verifies", async () => {
    const hash = await portablePassword.hash("P@ssw0rd")
    expect(hash).toStartWith("$argon2id$v=19$m=65536,t=2,p=1$")
    expect(await Bun.password.verify("P@ssw0rd", hash)).toBe(true)
    expect(await Bun.password.verify("P@ssw0rd!", hash)).toBe(false)
  })
})
