// The alerting rules load in Prometheus (`promtool check rules`) and fire when, and only when,
// alerts.test.yml says (`promtool test rules`). npm test installs promtool with the prometheus package.
import { expect, test } from "bun:test"
import { join } from "node:path"

const promtool = (...args: string[]) => {
  const binary = Bun.which("promtool")
  if (!binary) throw new Error("promtool is missing: apt-get install prometheus (npm test installs it when run as root)")
  const run = Bun.spawnSync([binary, ...args], { cwd: import.meta.dir })
  return { exitCode: run.exitCode, output: run.stdout.toString() + run.stderr.toString() }
}

test("promtool accepts alerts.yml", () => {
  const { exitCode, output } = promtool("check", "rules", join(import.meta.dir, "alerts.yml"))
  expect(output).toContain("SUCCESS: 9 rules found")
  expect(exitCode).toBe(0)
})

test("each alert fires on its condition and stays quiet otherwise (alerts.test.yml)", () => {
  const { exitCode, output } = promtool("test", "rules", "alerts.test.yml")
  expect(output).toContain("SUCCESS")
  expect(exitCode).toBe(0)
})
