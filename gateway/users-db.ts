import type { Sql } from "postgres"
import type { AuthUser, Role } from "./auth.ts"

/** A stored user with the password hash that only login may see. */
export type UserRecord = AuthUser & { hashed_password: string }

type UserRow = { id: string; email: string; name: string; role: Role; is_active: boolean }

// bigint ids arrive as strings; the API answers numbers.
const toUser = ({ id, email, name, role, is_active }: UserRow): AuthUser => ({ id: Number(id), email, name, role, is_active })

/** Inserts a user; returns undefined when the email is already taken. */
export async function insertUser(
  sql: Sql,
  user: { email: string; hashedPassword: string; name: string; role: Role },
): Promise<AuthUser | undefined> {
  const [row] = await sql<UserRow[]>`
    INSERT INTO users (email, hashed_password, name, role)
    VALUES (${user.email}, ${user.hashedPassword}, ${user.name}, ${user.role})
    ON CONFLICT (email) DO NOTHING
    RETURNING id, email, name, role, is_active`
  return row && toUser(row)
}

/** Finds a user by (normalised) email, with the password hash. */
export async function findUserByEmail(sql: Sql, email: string): Promise<UserRecord | undefined> {
  const [row] = await sql<(UserRow & { hashed_password: string })[]>`
    SELECT id, email, name, role, is_active, hashed_password FROM users WHERE email = ${email}`
  return row && { ...toUser(row), hashed_password: row.hashed_password }
}
