import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { uniqueName } from "../testing/helpers.ts"
import { COOKIE_NAME, signToken } from "./auth.ts"
import { createTestGateway } from "../testing/gateway.ts"

let gw: Awaited<ReturnType<typeof createTestGateway>>
beforeAll(async () => {
  gw = await createTestGateway()
})
afterAll(() => gw.close())

const email = (prefix = "u") => `${uniqueName(prefix)}@example.com`
const createUser = (body: Record<string, unknown>) => gw.call("POST", "/api/user", { body })
const valid = () => ({ email: email(), password: "P@ssw0rd", name: "Ann" })

describe("POST /api/user", () => {
  test("creates a buyer by default, stores the email normalised and only an argon2id hash", async () => {
    const address = email("Ann")
    const res = await createUser({ email: `  ${address.toUpperCase()} `, password: "P@ssw0rd", name: "Ann" })
    expect(res.status).toBe(201)
    expect(res.body).toEqual({ id: expect.any(Number), email: address.toLowerCase(), name: "Ann", role: "buyer", is_active: true })
    const [row] = await gw.sql`SELECT hashed_password FROM users WHERE id = ${res.body.id}`
    expect(row!.hashed_password).toStartWith("$argon2id$")
  })

  test("creates sellers and admins when asked", async () => {
    for (const role of ["seller", "admin"]) {
      const res = await createUser({ ...valid(), role })
      expect(res.status).toBe(201)
      expect(res.body.role).toBe(role)
    }
  })

  test("an email already taken, in any case, is 409", async () => {
    const body = valid()
    expect((await createUser(body)).status).toBe(201)
    const again = await createUser({ ...body, email: body.email.toUpperCase() })
    expect(again).toMatchObject({ status: 409, body: { detail: `User with email ${body.email} already exists` } })
  })

  test("schema problems are 400 naming the first and listing all", async () => {
    const res = await createUser({ email: "not-an-email", role: "root" })
    expect(res.status).toBe(400)
    expect(res.body).toEqual({
      detail: "body.email: Not a valid email address",
      errors: [
        { field: "body.email", message: "Not a valid email address" },
        { field: "body.password", message: "Field required" },
        { field: "body.name", message: "Field required" },
        { field: "body.role", message: "Expected one of: buyer, seller, admin" },
      ],
    })
  })

  test("a body that is not an object is 400", async () => {
    for (const body of ["[]", "null", "42", '"text"']) {
      const res = await gw.call("POST", "/api/user", { body })
      expect(res.status).toBe(400)
      expect(res.body.detail).toStartWith("body")
    }
  })

  test("passwords are measured in UTF-8 bytes: 8 to 72", async () => {
    const tooShort = await createUser({ ...valid(), password: "1234567" })
    expect(tooShort.body).toEqual({ detail: "Password must be 8 to 72 bytes long", errors: [{ field: "body.password", message: "Password must be 8 to 72 bytes long" }] })
    expect((await createUser({ ...valid(), password: "é".repeat(4) })).status).toBe(201)
    expect((await createUser({ ...valid(), password: "x".repeat(72) })).status).toBe(201)
    expect((await createUser({ ...valid(), password: "é".repeat(36) + "x" })).status).toBe(400)
  })

  test("names are 1 to 100 characters, counted as characters", async () => {
    expect((await createUser({ ...valid(), name: "" })).body.detail).toBe("Name must be 1 to 100 characters long")
    expect((await createUser({ ...valid(), name: "n".repeat(101) })).status).toBe(400)
    expect((await createUser({ ...valid(), name: "🎫".repeat(100) })).status).toBe(201)
  })
})

describe("login, session and logout", () => {
  test("login answers the user with the session cookie, which GET /api/user accepts", async () => {
    const body = valid()
    const created = (await createUser(body)).body
    const res = await gw.call("POST", "/api/user/login", { body: { email: ` ${body.email.toUpperCase()}`, password: body.password } })
    expect(res.status).toBe(200)
    expect(res.body).toEqual(created)
    const setCookie = res.headers.get("set-cookie")!
    expect(setCookie).toMatch(/^fastapiusersauth=[\w-]+\.[\w-]+\.[\w-]+; HttpOnly; Path=\/; SameSite=Lax; Max-Age=604800$/)
    const me = await gw.call("GET", "/api/user", { cookie: setCookie.split(";")[0] })
    expect(me).toMatchObject({ status: 200, body: created })
  })

  test("a wrong password or an unknown email is 400 LOGIN_BAD_CREDENTIALS", async () => {
    const body = valid()
    await createUser(body)
    for (const attempt of [{ ...body, password: "wrong-password" }, { ...body, password: "" }, { email: email("nobody"), password: body.password }]) {
      const res = await gw.call("POST", "/api/user/login", { body: attempt })
      expect(res).toMatchObject({ status: 400, body: { detail: "LOGIN_BAD_CREDENTIALS" } })
    }
  })

  test("an inactive user with the right password is 403 User is inactive", async () => {
    const body = valid()
    const { id } = (await createUser(body)).body
    await gw.sql`UPDATE users SET is_active = false WHERE id = ${id}`
    expect(await gw.call("POST", "/api/user/login", { body })).toMatchObject({ status: 403, body: { detail: "User is inactive" } })
    expect((await gw.call("POST", "/api/user/login", { body: { ...body, password: "wrong-password" } })).status).toBe(400)
  })

  test("GET /api/user: 401 without or with a bad token, 403 inactive, Bearer accepted", async () => {
    const { user, cookie } = await gw.signUp("buyer")
    expect(await gw.call("GET", "/api/user")).toMatchObject({ status: 401, body: { detail: "Not authenticated" } })
    expect(await gw.call("GET", "/api/user", { cookie: `${COOKIE_NAME}=not.a.token` })).toMatchObject({ status: 401, body: { detail: "Invalid token" } })
    const bearer = { authorization: `Bearer ${cookie.slice(COOKIE_NAME.length + 1)}` }
    expect(await gw.call("GET", "/api/user", { headers: bearer })).toMatchObject({ status: 200, body: user })
    const inactive = `${COOKIE_NAME}=${gw.auth.issue({ ...user, is_active: false })}`
    expect(await gw.call("GET", "/api/user", { cookie: inactive })).toMatchObject({ status: 403, body: { detail: "User is inactive" } })
    const foreign = signToken({ sub: "1" }, "some-other-secret-of-32-characters!")
    expect((await gw.call("GET", "/api/user", { headers: { authorization: `Bearer ${foreign}` } })).status).toBe(401)
  })

  test("logout clears the cookie", async () => {
    const res = await gw.call("POST", "/api/user/logout", { headers: { "content-type": "application/json" } })
    expect(res.status).toBe(204)
    expect(res.headers.get("set-cookie")).toBe("fastapiusersauth=; HttpOnly; Path=/; SameSite=Lax; Max-Age=0")
  })
})
