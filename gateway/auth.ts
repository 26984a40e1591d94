import { createHmac, timingSafeEqual } from "node:crypto"
import { AppError } from "../shared/errors.ts"

/** A user's role; sellers create events, buyers book seats. */
export type Role = "buyer" | "seller" | "admin"

/** The user a request acts as, exactly as its token's claims describe it. */
export type AuthUser = { id: number; email: string; name: string; role: Role; is_active: boolean }

/** Issues and checks session tokens (HS256 JWTs) and the cookie that carries them. */
export type Auth = ReturnType<typeof createAuth>

/** The session cookie's name, kept from the original (FastAPI Users) so existing clients keep working. */
export const COOKIE_NAME = "fastapiusersauth"

const TOKEN_TTL_SECONDS = 7 * 24 * 60 * 60
const ROLES: readonly string[] = ["buyer", "seller", "admin"] satisfies Role[]
const HEADER = Buffer.from(JSON.stringify({ alg: "HS256", typ: "JWT" })).toString("base64url")

const signature = (secret: string, signingInput: string) =>
  createHmac("sha256", secret).update(signingInput).digest("base64url")

/** Encodes and signs `claims` as an HS256 JWT. */
export function signToken(claims: Record<string, unknown>, secret: string): string {
  const signingInput = `${HEADER}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}`
  return `${signingInput}.${signature(secret, signingInput)}`
}

const decodeJson = (part: string): unknown => {
  try {
    return JSON.parse(Buffer.from(part, "base64url").toString("utf8"))
  } catch {
    return undefined
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null

// Returns the user and expiry (ms), or undefined for any defect: signature, algorithm, expiry or claims.
function verifyToken(token: string, secret: string, nowMs: number): { user: AuthUser; expiresAt: number } | undefined {
  const parts = token.split(".")
  if (parts.length !== 3) return undefined
  const [header, payload, given] = parts as [string, string, string]
  // Comparing the encoded strings rejects non-canonical encodings of a valid signature too.
  const expected = Buffer.from(signature(secret, `${header}.${payload}`))
  const actual = Buffer.from(given)
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) return undefined
  const head = decodeJson(header)
  if (!isRecord(head) || head.alg !== "HS256") return undefined
  const claims = decodeJson(payload)
  if (!isRecord(claims)) return undefined
  const { sub, user_id, email, name, role, is_active, iat, exp } = claims
  if (
    !Number.isSafeInteger(user_id) ||
    sub !== String(user_id) ||
    typeof email !== "string" ||
    typeof name !== "string" ||
    typeof role !== "string" ||
    !ROLES.includes(role) ||
    typeof is_active !== "boolean" ||
    typeof iat !== "number" ||
    typeof exp !== "number" ||
    exp * 1000 <= nowMs
  ) {
    return undefined
  }
  return { user: { id: user_id as number, email, name, role: role as Role, is_active }, expiresAt: exp * 1000 }
}

/** Returns the value of cookie `name` from a Cookie header, scanning rather than splitting the whole header. */
export function readCookie(header: string, name: string): string | undefined {
  for (let at = header.indexOf(name); at >= 0; at = header.indexOf(name, at + name.length)) {
    const end = at + name.length
    const before = at === 0 ? ";" : header[at - 1]
    if ((before === ";" || before === " ") && header[end] === "=") {
      const stop = header.indexOf(";", end)
      return header.slice(end + 1, stop < 0 ? undefined : stop).trim()
    }
  }
  return undefined
}

const bearerToken = (authorization: string | null): string | undefined => {
  if (authorization === null || authorization.slice(0, 7).toLowerCase() !== "bearer ") return undefined
  return authorization.slice(7).trim() || undefined
}

/** A bounded map of verified tokens that forgets each one at its expiry and the oldest one when full. */
export function createTokenCache(maxEntries: number) {
  const entries = new Map<string, { user: AuthUser; expiresAt: number }>()
  return {
    get(token: string, nowMs: number): AuthUser | undefined {
      const entry = entries.get(token)
      if (entry === undefined) return undefined
      if (entry.expiresAt > nowMs) return entry.user
      entries.delete(token)
      return undefined
    },
    set(token: string, user: AuthUser, expiresAt: number): void {
      // A Map iterates in insertion order, so its first key is the oldest entry.
      if (entries.size >= maxEntries) entries.delete(entries.keys().next().value!)
      entries.set(token, { user, expiresAt })
    },
  }
}

/** Creates the gateway's authenticator; verified tokens are cached so the booking hot path does not re-verify them. */
export function createAuth(options: { secret: string; cookieSecure: boolean; maxCachedTokens?: number; now?: () => number }) {
  const { secret, cookieSecure, maxCachedTokens = 100_000, now = Date.now } = options
  const cache = createTokenCache(maxCachedTokens)
  const secure = cookieSecure ? "; Secure" : ""

  const authenticate = (request: Request): AuthUser => {
    const cookie = request.headers.get("cookie")
    const token = (cookie === null ? undefined : readCookie(cookie, COOKIE_NAME)) || bearerToken(request.headers.get("authorization"))
    if (!token) throw new AppError(401, "Not authenticated")
    const nowMs = now()
    let user = cache.get(token, nowMs)
    if (user === undefined) {
      const verified = verifyToken(token, secret, nowMs)
      if (verified === undefined) throw new AppError(401, "Invalid token")
      user = Object.freeze(verified.user)
      cache.set(token, user, verified.expiresAt)
    }
    if (!user.is_active) throw new AppError(403, "User is inactive")
    return user
  }

  return {
    /** Signs a 7-day session token carrying the user's claims. */
    issue(user: AuthUser): string {
      const iat = Math.floor(now() / 1000)
      return signToken(
        { sub: String(user.id), user_id: user.id, email: user.email, name: user.name, role: user.role, is_active: user.is_active, iat, exp: iat + TOKEN_TTL_SECONDS },
        secret,
      )
    },
    /** An HMAC-SHA256 of `text` under the session secret, for other signed values (admission tokens). */
    mac: (text: string) => signature(secret, text),
    /** The Set-Cookie value that stores `token` in the browser. */
    cookie: (token: string) => `${COOKIE_NAME}=${token}; HttpOnly; Path=/; SameSite=Lax; Max-Age=${TOKEN_TTL_SECONDS}${secure}`,
    /** The Set-Cookie value that deletes the session cookie. */
    clearCookie: () => `${COOKIE_NAME}=; HttpOnly; Path=/; SameSite=Lax; Max-Age=0${secure}`,
    /** The request's user from its cookie or Bearer token; throws 401 without a valid token and 403 for an inactive user. */
    authenticate,
    /** Like authenticate, and also throws 403 unless the user has `role`. */
    require(request: Request, role?: "buyer" | "seller"): AuthUser {
      const user = authenticate(request)
      if (role !== undefined && user.role !== role) throw new AppError(403, `Only ${role}s can perform this action`)
      return user
    },
  }
}
