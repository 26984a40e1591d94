import { afterAll, beforeAll, expect, test } from "bun:test"
import { existsSync } from "node:fs"
import { chromium, type Browser } from "playwright-core"
import { createTestGateway } from "../testing/gateway.ts"

// Debian's `chromium` package; infra/test.sh installs it when missing.
const CHROMIUM = "/usr/bin/chromium"

let gw: Awaited<ReturnType<typeof createTestGateway>>
let base: string
let browser: Browser

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: sudo apt-get install -y chromium (npm test does it when run as root)`)
  gw = await createTestGateway()
  base = gw.listen()
  // No network but this machine: every host name fails to resolve, and 127.0.0.1 is not a name.
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"],
  })
})
afterAll(async () => {
  await browser?.close()
  await gw?.close()
})

test("/docs loads its script and stylesheet from the gateway, not from a CDN", async () => {
  const page = (await gw.call("GET", "/docs")).body as string
  const sources = [...page.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1])
  expect(sources.sort()).toEqual(["/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"])
  const script = await gw.call("GET", "/docs/assets/swagger-ui-bundle.js")
  expect(script.status).toBe(200)
  expect(script.headers.get("content-type")).toStartWith("text/javascript")
  expect((await gw.call("GET", "/docs/assets/swagger-ui.css")).headers.get("content-type")).toStartWith("text/css")
  expect(await gw.call("GET", "/docs/assets/package.json")).toMatchObject({ status: 404, body: { detail: "Not Found" } })
})

test("with no network, /docs renders the API reference, booking route included, from the gateway alone", async () => {
  const page = await browser.newPage()
  const elsewhere: string[] = []
  const problems: string[] = []
  page.on("request", (request) => {
    if (!request.url().startsWith(`${base}/`) && !request.url().startsWith("data:")) elsewhere.push(request.url())
  })
  page.on("pageerror", (error) => problems.push(error.message))
  await page.goto(`${base}/docs`)
  // Swagger UI renders one block per operation once it has fetched /openapi.json.
  const booking = page.locator('.opblock-post .opblock-summary-path[data-path="/api/booking"]')
  await booking.waitFor({ state: "visible", timeout: 30_000 })
  expect(await booking.textContent()).toContain("/api/booking")
  expect(await page.locator(".opblock").count()).toBeGreaterThan(10)
  expect(elsewhere).toEqual([])
  expect(problems).toEqual([])
  await page.close()
})
