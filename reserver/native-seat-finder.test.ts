import { describe, expect, test } from "bun:test"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createLogger } from "../shared/log.ts"
import { findBestAvailableNative, loadNativeAddon, loadSeatFinder, nativeAddonPath, nativeSeatFinderProblem } from "./native-seat-finder.ts"
import { compareFinders, invalidAddonCalls, invalidFinderCalls, mulberry32, randomFinderCases, randomSeatMap } from "../testing/seat-finder-samples.ts"
import { findBestAvailable, newSeatMap } from "../shared/seat-finder.ts"

const root = join(import.meta.dir, "..")

// CI installs with npm ci, which builds the addon: a silent skip there would hide a broken build.
test.if(Boolean(process.env.CI))("the native seat finder is built where CI runs", () => {
  expect(nativeSeatFinderProblem).toBeUndefined()
})

function capturedLog() {
  const lines: string[] = []
  return { log: createLogger("test", "info", {}, (line) => lines.push(line)), lines }
}

describe("loadSeatFinder", () => {
  test("SEAT_FINDER=ts runs the TypeScript finder and says so in one line", () => {
    const { log, lines } = capturedLog()
    expect(loadSeatFinder(log, "ts")).toBe(findBestAvailable)
    expect(lines).toHaveLength(1)
    expect(JSON.parse(lines[0]!).msg).toBe("seat finder: TypeScript (SEAT_FINDER=ts)")
  })

  test("SEAT_FINDER=native runs the addon when built, the TypeScript finder with a warning otherwise", () => {
    const { log, lines } = capturedLog()
    const finder = loadSeatFinder(log, "native")
    expect(lines).toHaveLength(1)
    const entry = JSON.parse(lines[0]!)
    if (findBestAvailableNative) {
      expect(finder).toBe(findBestAvailableNative)
      expect(entry.msg).toBe("seat finder: native (native/seat_finder.c)")
    } else {
      expect(finder).toBe(findBestAvailable)
      expect(entry.level).toBe("warn")
      expect(entry.msg).toContain(nativeSeatFinderProblem!)
    }
  })
})

describe.skipIf(!findBestAvailableNative)(`native seat finder${nativeSeatFinderProblem ? ` (skipped: the addon is ${nativeSeatFinderProblem})` : ""}`, () => {
  const native = findBestAvailableNative!

  test("answers 20,000 seeded random calls exactly as the TypeScript finder", () => {
    const result = compareFinders(native, findBestAvailable, randomFinderCases(20240601, 20_000))
    expect(result.mismatch).toBeUndefined()
    expect(result.compared).toBe(20_000)
  })

  test.each(invalidFinderCalls)("refuses $label with a $error", ({ args, error }) => {
    const call = native as (...args: unknown[]) => unknown
    expect(() => call(...args)).toThrow(error === "TypeError" ? TypeError : RangeError)
  })

  test.each(invalidAddonCalls)("the raw addon refuses $label with a $error", ({ args, error }) => {
    const call = loadNativeAddon(nativeAddonPath).findBestAvailable as (...args: unknown[]) => unknown
    expect(() => call(...args)).toThrow(error === "TypeError" ? TypeError : RangeError)
  })

  test("reads a map that is a view into a larger buffer from the view's first byte", () => {
    const random = mulberry32(3)
    const map = randomSeatMap(random, 30, 40, 0.97)
    const backing = new Uint8Array(map.length + 16).fill(0x00)
    backing.set(map, 7)
    const view = backing.subarray(7, 7 + map.length)
    for (let quantity = 1; quantity <= 6; quantity++) expect(native(view, 30, 40, quantity)).toEqual(findBestAvailable(map, 30, 40, quantity))
    expect(native(Buffer.from(map), 30, 40, 2)).toEqual(findBestAvailable(map, 30, 40, 2))
  })

  test("leaves the map untouched", () => {
    const map = randomSeatMap(mulberry32(4), 25, 50, 0.9)
    const before = map.slice()
    native(map, 25, 50, 4)
    native(map, 25, 50, 300)
    expect(map).toEqual(before)
  })

  test("answers like the TypeScript finder at the edges of the quantity range", () => {
    const map = randomSeatMap(mulberry32(5), 20, 30, 0.5)
    for (const quantity of [0, 1, 17, 250, 299, 300, 301, 600, 601]) {
      expect(native(map, 20, 30, quantity)).toEqual(findBestAvailable(map, 20, 30, quantity))
    }
    expect(native(newSeatMap(200, 250), 200, 250, 50_000)).toEqual(findBestAvailable(newSeatMap(200, 250), 200, 250, 50_000))
    expect(native(new Uint8Array(0), 0, 10, 1)).toBeNull()
  })

  test("loads and answers under Node as well as under Bun", async () => {
    const dir = mkdtempSync(join(tmpdir(), "node-check-"))
    try {
      const built = await Bun.build({ entrypoints: [join(root, "native/node-check.ts")], target: "node", outdir: dir, naming: "node-check.mjs" })
      expect(built.success).toBe(true)
      const node = Bun.spawnSync(["node", join(dir, "node-check.mjs"), nativeAddonPath, "2000", "11"], { stdout: "pipe", stderr: "pipe" })
      expect(node.stderr.toString()).toBe("")
      expect(node.exitCode).toBe(0)
      expect(node.stdout.toString()).toContain("2000 random cases identical to the TypeScript finder")
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
