import { afterAll, beforeAll, expect, test } from "bun:test"
import { existsSync } from "node:fs"
import { chromium, type Browser } from "playwright-core"
import { startBookingStack, type BookingStack } from "../../testing/booking-stack.ts"

// Debian's `chromium` package; infra/test.sh installs it when missing.
const CHROMIUM = "/usr/bin/chromium"

let stack: BookingStack
let browser: Browser

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: sudo apt-get install -y chromium (npm test does it when run as root)`)
  stack = await startBookingStack()
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"] })
})
afterAll(async () => {
  await browser?.close()
  await stack.stop()
})

test("GET /events/:id is an HTML page; a malformed id is 400", async () => {
  const res = await fetch(`${stack.base}/events/1`)
  expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8")
  expect(await res.text()).toContain("<title>Live seats</title>")
  expect((await stack.gw.call("GET", "/events/x")).body).toEqual({ detail: "Invalid event id" })
})

test("the live page shows seats being taken as bookings and payments happen", async () => {
  const eventId = await stack.createEvent({ rows: 2, cols: 5, sections: ["A", "B"], subsections: 1 })
  const buyer = await stack.gw.signUp("buyer")
  const page = await browser.newPage()
  const problems: string[] = []
  page.on("pageerror", (error) => problems.push(error.message))
  await page.goto(`${stack.base}/events/${eventId}`)

  // Wait until the page shows it (playwright-core has no expect of its own).
  const shows = (selector: string, timeout = 10_000) => page.waitForSelector(selector, { state: "attached", timeout })
  const reads = (selector: string, text: string, timeout = 10_000) =>
    page.waitForFunction(`document.querySelector(${JSON.stringify(selector)})?.textContent === ${JSON.stringify(text)}`, undefined, { timeout })
  const seat = (id: string, status: string) => `[data-seat="${id}"][data-status="${status}"]`

  await reads("#name", "Live show")
  await shows('#state[data-state="live"]')
  await shows(seat("A-1:1-1", "available"))
  await shows(seat("B-1:2-5", "available"))
  expect(await page.locator(".seat").count()).toBe(20)

  const booking = await stack.book(buyer, eventId, ["1-1", "1-2"])
  await shows(seat("A-1:1-1", "reserved"), 20_000)
  await shows(seat("A-1:1-2", "reserved"))
  await reads("#reserved", "2")
  await shows('[data-subsection="A-1"][data-available="8"]')
  expect(await page.locator(seat("A-1:1-3", "available")).count()).toBe(1)

  await stack.decided(buyer, booking.id)
  await stack.gw.call("POST", `/api/booking/${booking.id}/pay`, { cookie: buyer.cookie, body: { card_number: "4242" } })
  await shows(seat("A-1:1-1", "sold"))
  await reads("#sold", "2")

  await stack.book(buyer, eventId, 4, { section: "B", subsection: 1 })
  await page.waitForFunction(`document.querySelectorAll('[data-seat^="B-1:1-"][data-status="reserved"]').length === 4`, undefined, { timeout: 20_000 })
  await reads("#available", "14")
  if (process.env.LIVE_PAGE_SCREENSHOT) await page.screenshot({ path: process.env.LIVE_PAGE_SCREENSHOT, fullPage: true })
  expect(problems).toEqual([])
  await page.close()
})
