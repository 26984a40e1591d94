import { describe, expect, test } from "bun:test"
import { AppError } from "../shared/errors.ts"
import { COOKIE_NAME, createAuth, createTokenCache, readCookie, signToken, type AuthUser } from "./auth.ts"

const secret = "unit-test-secret-0123456789abcdef"
const buyer: AuthUser = { id: 7, email: "b@t.com", name: "Buyer", role: "buyer", is_active: true }
const seller: AuthUser = { ...buyer, id: 8, email: "s@t.com", role: "seller" }
const week = 7 * 24 * 60 * 60

const withCookie = (token: string, other = "") => new Request("http://localhost/", { headers: { cookie: `${other}${COOKIE_NAME}=${token}` } })
const withBearer = (token: string) => new Request("http://localhost/", { headers: { authorization: `Bearer ${token}` } })

const failure = (run: () => unknown) => {
  try {
    run()
  } catch (error) {
    if (error instanceof AppError) return { status: error.status, detail: error.message }
    throw error
  }
  throw new Error("expected an AppError")
}

const claimsOf = (user: AuthUser, iat: number) => ({
  sub: String(user.id),
  user_id: user.id,
  email: user.email,
  name: user.name,
  role: user.role,
  is_active: user.is_active,
  iat,
  exp: iat + week,
})

describe("tokens", () => {
  test("an issued token carries the contract's claims, expires in 7 days and authenticates its user", () => {
    const now = Date.UTC(2030, 0, 1)
    const auth = createAuth({ secret, cookieSecure: false, now: () => now })
    const token = auth.issue(buyer)
    const [header, payload] = token.split(".")
    expect(JSON.parse(Buffer.from(header!, "base64url").toString())).toEqual({ alg: "HS256", typ: "JWT" })
    expect(JSON.parse(Buffer.from(payload!, "base64url").toString())).toEqual(claimsOf(buyer, now / 1000))
    expect(auth.authenticate(withCookie(token))).toEqual(buyer)
  })

  test("a Bearer token is accepted, and the cookie is found among other cookies", () => {
    const auth = createAuth({ secret, cookieSecure: false })
    const token = auth.issue(seller)
    expect(auth.authenticate(withBearer(token))).toEqual(seller)
    expect(auth.authenticate(withCookie(token, "theme=dark; x_fastapiusersauth=junk; "))).toEqual(seller)
  })

  test("no cookie and no Bearer token is 401 Not authenticated", () => {
    const auth = createAuth({ secret, cookieSecure: false })
    const notAuthenticated = { status: 401, detail: "Not authenticated" }
    expect(failure(() => auth.authenticate(new Request("http://localhost/")))).toEqual(notAuthenticated)
    expect(failure(() => auth.authenticate(new Request("http://localhost/", { headers: { cookie: "other=1" } })))).toEqual(notAuthenticated)
    expect(failure(() => auth.authenticate(new Request("http://localhost/", { headers: { authorization: "Basic Zm9vOmJhcg==" } })))).toEqual(notAuthenticated)
  })

  test("tampered, foreign, unsigned, malformed and expired tokens are 401 Invalid token", () => {
    const now = Date.now()
    const auth = createAuth({ secret, cookieSecure: false, now: () => now })
    const [header, , sig] = auth.issue(buyer).split(".")
    const asSeller = Buffer.from(JSON.stringify(claimsOf(seller, now / 1000))).toString("base64url")
    const unsigned = `${Buffer.from(JSON.stringify({ alg: "none" })).toString("base64url")}.${asSeller}.`
    const expired = signToken({ ...claimsOf(buyer, now / 1000 - week), exp: Math.floor(now / 1000) - 1 }, secret)
    for (const token of [`${header}.${asSeller}.${sig}`, signToken(claimsOf(seller, now / 1000), "another-secret-0123456789abcdefgh"), unsigned, "abc", "a.b", "a.b.c.d", expired]) {
      expect(failure(() => auth.authenticate(withCookie(token)))).toEqual({ status: 401, detail: "Invalid token" })
    }
  })

  test("a correctly signed token missing any claim, or with a wrong one, is 401 Invalid token", () => {
    const auth = createAuth({ secret, cookieSecure: false })
    const claims = claimsOf(buyer, Math.floor(Date.now() / 1000))
    const broken = [
      ...Object.keys(claims).map((name) => Object.fromEntries(Object.entries(claims).filter(([key]) => key !== name))),
      { ...claims, sub: "8" },
      { ...claims, role: "superuser" },
      { ...claims, is_active: "true" },
      { ...claims, user_id: "7" },
    ]
    for (const bad of broken) {
      expect(failure(() => auth.authenticate(withBearer(signToken(bad, secret))))).toEqual({ status: 401, detail: "Invalid token" })
    }
  })

  test("an inactive user's token is 403 User is inactive", () => {
    const auth = createAuth({ secret, cookieSecure: false })
    const token = auth.issue({ ...buyer, is_active: false })
    expect(failure(() => auth.authenticate(withCookie(token)))).toEqual({ status: 403, detail: "User is inactive" })
  })

  test("require() rejects other roles with the contract's messages", () => {
    const auth = createAuth({ secret, cookieSecure: false })
    const admin = withCookie(auth.issue({ ...buyer, role: "admin" }))
    expect(auth.require(withCookie(auth.issue(buyer)), "buyer")).toEqual(buyer)
    expect(auth.require(withCookie(auth.issue(seller)), "seller")).toEqual(seller)
    expect(failure(() => auth.require(withCookie(auth.issue(seller)), "buyer"))).toEqual({ status: 403, detail: "Only buyers can perform this action" })
    expect(failure(() => auth.require(admin, "buyer"))).toEqual({ status: 403, detail: "Only buyers can perform this action" })
    expect(failure(() => auth.require(withCookie(auth.issue(buyer)), "seller"))).toEqual({ status: 403, detail: "Only sellers can perform this action" })
    expect(failure(() => auth.require(admin, "seller"))).toEqual({ status: 403, detail: "Only sellers can perform this action" })
    expect(auth.require(admin).role).toBe("admin")
  })
})

describe("token cache", () => {
  test("a verified token is served from the cache until it expires, then rejected", () => {
    let now = Date.now()
    const auth = createAuth({ secret, cookieSecure: false, now: () => now })
    const token = auth.issue(buyer)
    const first = auth.authenticate(withCookie(token))
    // The same object again: the second call did not verify and decode the token anew.
    expect(auth.authenticate(withBearer(token))).toBe(first)
    now += week * 1000
    expect(failure(() => auth.authenticate(withCookie(token)))).toEqual({ status: 401, detail: "Invalid token" })
  })

  test("a full cache forgets its oldest entry, and entries expire", () => {
    const cache = createTokenCache(2)
    cache.set("a", buyer, 1000)
    cache.set("b", buyer, 1000)
    cache.set("c", seller, 1000)
    expect(cache.get("a", 0)).toBeUndefined()
    expect(cache.get("b", 0)).toBe(buyer)
    expect(cache.get("c", 999)).toBe(seller)
    expect(cache.get("c", 1000)).toBeUndefined()
  })
})

describe("cookies", () => {
  test("the session cookie has exactly the contract's attributes, plus Secure when configured", () => {
    const plain = createAuth({ secret, cookieSecure: false })
    expect(plain.cookie("tok")).toBe("fastapiusersauth=tok; HttpOnly; Path=/; SameSite=Lax; Max-Age=604800")
    expect(plain.clearCookie()).toBe("fastapiusersauth=; HttpOnly; Path=/; SameSite=Lax; Max-Age=0")
    const secure = createAuth({ secret, cookieSecure: true })
    expect(secure.cookie("tok")).toBe("fastapiusersauth=tok; HttpOnly; Path=/; SameSite=Lax; Max-Age=604800; Secure")
    expect(secure.clearCookie()).toBe("fastapiusersauth=; HttpOnly; Path=/; SameSite=Lax; Max-Age=0; Secure")
  })

  test("readCookie finds the named cookie only, wherever it stands", () => {
    expect(readCookie("fastapiusersauth=abc", COOKIE_NAME)).toBe("abc")
    expect(readCookie("a=1; fastapiusersauth=abc; b=2", COOKIE_NAME)).toBe("abc")
    expect(readCookie("a=1;fastapiusersauth=abc", COOKIE_NAME)).toBe("abc")
    expect(readCookie("xfastapiusersauth=1; note=fastapiusersauth=2; fastapiusersauth=3", COOKIE_NAME)).toBe("3")
    expect(readCookie("fastapiusersauth2=1", COOKIE_NAME)).toBeUndefined()
    expect(readCookie("a=1; b=2", COOKIE_NAME)).toBeUndefined()
  })
})
