import { Elysia, t } from "elysia"
import type { Sql } from "postgres"
import { AppError, ValidationError } from "../shared/errors.ts"
import type { Auth } from "./auth.ts"
import { findUserByEmail, insertUser } from "./users-db.ts"
import { password } from "./runtime.ts"

/** What the user routes need. */
export type UserRoutesDeps = { sql: Sql; auth: Auth }

// Emails are stored and looked up trimmed and lower-cased. As a transform hook this runs before schema
// validation, so " Ann@Example.com " is checked as "ann@example.com".
const normaliseBodyEmail = ({ body }: { body: unknown }) => {
  const record = body as { email?: unknown } | null
  if (typeof record?.email === "string") record.email = record.email.trim().toLowerCase()
}

const createUserBody = t.Object({
  email: t.String({ format: "email", description: "Stored trimmed and lower-cased" }),
  password: t.String({ description: "8 to 72 bytes of UTF-8" }),
  name: t.String({ description: "1 to 100 characters" }),
  role: t.Optional(t.UnionEnum(["buyer", "seller", "admin"], { default: "buyer" })),
})

const loginBody = t.Object({ email: t.String(), password: t.String() })

// Lengths the schema cannot express: the password limit is in bytes (bcrypt's, kept from the original),
// and names count characters, not UTF-16 units.
const checkLengths = (password: string, name: string) => {
  const problems: { field: string; message: string }[] = []
  const bytes = Buffer.byteLength(password, "utf8")
  if (bytes < 8 || bytes > 72) problems.push({ field: "body.password", message: "Password must be 8 to 72 bytes long" })
  const chars = [...name].length
  if (chars < 1 || chars > 100) problems.push({ field: "body.name", message: "Name must be 1 to 100 characters long" })
  if (problems.length > 0) throw new ValidationError(problems)
}

/** Sign-up, login, logout and "who am I" under /api/user. */
export function userRoutes({ sql, auth }: UserRoutesDeps) {
  return new Elysia({ detail: { tags: ["Users"] } })
    .post(
      "/api/user",
      async ({ body, set }) => {
        checkLengths(body.password, body.name)
        const user = await insertUser(sql, {
          email: body.email,
          hashedPassword: await password.hash(body.password),
          name: body.name,
          role: body.role ?? "buyer",
        })
        if (user === undefined) throw new AppError(409, `User with email ${body.email} already exists`)
        // set.status, not status(201, …), for the span's status code on Deno (see booking-routes.ts).
        set.status = 201
        return user
      },
      { parse: "json", transform: normaliseBodyEmail, body: createUserBody, detail: { summary: "Create a user" } },
    )
    .post(
      "/api/user/login",
      async ({ body, set }) => {
        const found = await findUserByEmail(sql, body.email)
        if (found === undefined || !(await password.verify(body.password, found.hashed_password))) {
          throw new AppError(400, "LOGIN_BAD_CREDENTIALS")
        }
        const { hashed_password: _, ...user } = found
        // Only someone who knows the password learns that the account is inactive.
        if (!user.is_active) throw new AppError(403, "User is inactive")
        set.headers["set-cookie"] = auth.cookie(auth.issue(user))
        return user
      },
      { parse: "json", transform: normaliseBodyEmail, body: loginBody, detail: { summary: "Log in; sets the session cookie" } },
    )
    .get("/api/user", ({ request }) => auth.authenticate(request), { detail: { summary: "The logged-in user" } })
    .post(
      "/api/user/logout",
      // A Response of its own: Elysia's web-standard adapter (Deno) answers an empty handler with
      // new Response(""), which Deno, as the Fetch standard says, refuses for a 204.
      () => new Response(null, { status: 204, headers: { "set-cookie": auth.clearCookie() } }),
      { detail: { summary: "Log out; clears the session cookie" } },
    )
}
