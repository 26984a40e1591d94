// The layout rule of STYLE.md, read from the source: each process imports only its own folder and
// shared/, shared/ imports only itself, and no production module reaches into testing/.
import { describe, expect, test } from "bun:test"
import { readdirSync, readFileSync } from "node:fs"
import { join, posix, relative, resolve } from "node:path"

const root = resolve(import.meta.dir, "..")

/** The top-level folders a production module of each folder may import from. */
const allowed: Record<string, string[]> = {
  gateway: ["gateway", "shared"],
  reserver: ["reserver", "shared"],
  shared: ["shared"],
}

const importSpecifier = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["']([^"']+)["']/g

/** The imports of one production file (path relative to the repository) that leave its allowed folders. */
function importViolations(file: string, source: string): string[] {
  const folder = file.split("/")[0]!
  const permitted = allowed[folder] ?? []
  const found: string[] = []
  for (const [, spec] of source.matchAll(importSpecifier)) {
    if (!spec!.startsWith(".")) continue
    const target = posix.normalize(posix.join(posix.dirname(file), spec!))
    const top = target.split("/")[0]!
    if (!permitted.includes(top)) found.push(`${file} imports ${target}`)
  }
  return found
}

function productionFiles(folder: string): string[] {
  const files: string[] = []
  for (const entry of readdirSync(join(root, folder), { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith(".ts") || entry.name.endsWith(".test.ts")) continue
    files.push(relative(root, join(entry.parentPath, entry.name)).split("\\").join("/"))
  }
  return files
}

describe("layout", () => {
  test("gateway/, reserver/ and shared/ production modules import only what the layout allows", () => {
    const files = Object.keys(allowed).flatMap(productionFiles)
    expect(files.length).toBeGreaterThan(30)
    const violations = files.flatMap((file) => importViolations(file, readFileSync(join(root, file), "utf8")))
    expect(violations).toEqual([])
  })

  test("the check sees an import across the process boundary, into testing/, and out of shared/", () => {
    expect(importViolations("gateway/app.ts", `import { createBatchStep } from "../reserver/batch-step.ts"`)).toEqual([
      "gateway/app.ts imports reserver/batch-step.ts",
    ])
    expect(importViolations("reserver/main.ts", `const m = await import("../testing/helpers.ts")`)).toEqual([
      "reserver/main.ts imports testing/helpers.ts",
    ])
    expect(importViolations("shared/db/migrate.ts", `export { x } from "../../gateway/app.ts"`)).toEqual([
      "shared/db/migrate.ts imports gateway/app.ts",
    ])
    expect(importViolations("gateway/live/redis-fanout.ts", `import type { Logger } from "../../shared/log.ts"\nimport "./x.ts"`)).toEqual([])
  })
})
