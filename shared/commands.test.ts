import { expect, test } from "bun:test"
import { decodeCommand, encodeCommand, InvalidCommandError, type ExpireCommand } from "./commands.ts"

const expire: ExpireCommand = { type: "expire", booking_id: Bun.randomUUIDv7(), buyer_id: 3, event_id: 7, section: "A", subsection: 2 }

test("an expire command round-trips; one naming no booking, or an unknown type, is invalid with the reason", () => {
  expect(decodeCommand(encodeCommand(expire))).toEqual(expire)
  expect(() => decodeCommand(Buffer.from(JSON.stringify({ ...expire, booking_id: "x" })))).toThrow(new InvalidCommandError("booking_id must be a UUID"))
  expect(() => decodeCommand(Buffer.from(JSON.stringify({ ...expire, type: "expired" })))).toThrow(new InvalidCommandError('unknown command type "expired"'))
})
