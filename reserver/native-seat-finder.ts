// The C seat finder (native/seat_finder.c, built by `npm install` through native/build.sh) as a
// second SeatFinder, and the choice between it and the TypeScript one. This is the only module
// that loads the addon, so a machine without a compiler runs everything on the TypeScript finder.
import { existsSync } from "node:fs"
import { createRequire } from "node:module"
import { resolve } from "node:path"
import { fileURLToPath } from "node:url"
import type { Config } from "../shared/config.ts"
import type { Logger } from "../shared/log.ts"
import { findBestAvailable, type SeatFinder } from "../shared/seat-finder.ts"

/** What native/seat_finder.c exports: rows, cols and quantity in io[0..2], seats out in io[3..], count or -1 returned. */
export type NativeSeatFinderAddon = { findBestAvailable(map: Uint8Array, io: Float64Array): number }

/** Where native/build.sh leaves the addon. */
export const nativeAddonPath = fileURLToPath(new URL("../native/build/Release/seat_finder.node", import.meta.url))

/** Loads an addon build from `path` (the sanitized one too, for native/node-check.ts); throws when it cannot load. */
export function loadNativeAddon(path: string): NativeSeatFinderAddon {
  return createRequire(import.meta.url)(resolve(path)) as NativeSeatFinderAddon
}

/** Wraps a loaded addon as a SeatFinder with the same answers as findBestAvailable. */
export function nativeSeatFinder(addon: NativeSeatFinderAddon): SeatFinder {
  // Bun's N-API charges for every number read and, far more, for every array built in C, so the numbers
  // go in and the seats come back through one reused Float64Array (costs: profiles/README.md, "Native seat finder").
  let io = new Float64Array(3 + 16)
  return (map, rows, cols, quantity) => {
    // Grown only for an answer that can exist; C refuses any other quantity it has no room for.
    if (quantity > io.length - 3 && quantity <= rows * cols) io = new Float64Array(3 + quantity)
    io[0] = rows
    io[1] = cols
    io[2] = quantity
    const count = addon.findBestAvailable(map, io)
    if (count < 0) return null
    const seats = new Array<number>(count)
    for (let k = 0; k < count; k++) seats[k] = io[3 + k]!
    return seats
  }
}

function loadBuilt(): { finder?: SeatFinder; problem?: string } {
  if (!existsSync(nativeAddonPath)) return { problem: `not built (${nativeAddonPath} is missing; npm install builds it)` }
  try {
    return { finder: nativeSeatFinder(loadNativeAddon(nativeAddonPath)) }
  } catch (error) {
    // A binary that cannot load (another architecture, a broken build) must not stop the reserver.
    return { problem: `failed to load: ${(error as Error).message}` }
  }
}

const built = loadBuilt()

/** The native best-available finder, same contract as findBestAvailable; undefined when the addon is not built or cannot load. */
export const findBestAvailableNative: SeatFinder | undefined = built.finder

/** Why the native finder is unavailable, for logs and test skip reasons; undefined when it loaded. */
export const nativeSeatFinderProblem: string | undefined = built.problem

/** Returns the seat finder SEAT_FINDER asks for (native falls back to TypeScript when unavailable) and logs which one runs. */
export function loadSeatFinder(log: Logger, choice: Config["seatFinder"] = "native"): SeatFinder {
  if (choice === "native" && findBestAvailableNative) {
    log.info("seat finder: native (native/seat_finder.c)", { addon: nativeAddonPath })
    return findBestAvailableNative
  }
  if (choice === "native") log.warn(`seat finder: TypeScript, because the native addon is ${nativeSeatFinderProblem}`)
  else log.info("seat finder: TypeScript (SEAT_FINDER=ts)")
  return findBestAvailable
}
