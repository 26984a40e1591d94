import { readFileSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { fileURLToPath } from "node:url"

/** One named price band of the venue, split into `subsections` identical blocks. */
export type SectionConfig = { name: string; price: number; subsections: number }

/** The compact seating layout an event is created with; unknown keys (such as total_seats) are kept and echoed. */
export type SeatingConfig = { rows: number; cols: number; sections: SectionConfig[]; [extra: string]: unknown }

/** One block of seats (rows × cols) within a section, as listed for an event. */
export type Subsection = { section: string; subsection: number; price: number; rows: number; cols: number }

/** Outcome of validating a client-supplied seating configuration; the message is the contract's 400 text. */
export type SeatingValidation = { ok: true; config: SeatingConfig } | { ok: false; message: string }

/** Largest event we agree to create; every seat becomes a ticket row and a Redis bit at creation time. */
export const MAX_TOTAL_SEATS = 2_000_000

/** Largest single subsection; one seat list answer carries all of its tickets. */
export const MAX_SEATS_PER_SUBSECTION = 1_000_000

const invalid = (detail: string): SeatingValidation => ({ ok: false, message: `Invalid seating configuration: ${detail}` })

const isPlainObject = (value: unknown): value is Record<string, unknown> => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

// Safe integers only: beyond 2^53 arithmetic on counts and prices silently loses precision.
const isPositiveInteger = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) > 0

const requiredSectionFields = ["name", "price", "subsections"] as const

/** Checks a seating configuration against the Events contract and returns the first failing message, in contract order. */
export function validateSeatingConfig(input: unknown): SeatingValidation {
  if (!isPlainObject(input)) return { ok: false, message: "Input should be a valid dictionary" }
  if (!Object.hasOwn(input, "sections")) return invalid("must contain sections")
  const sections = input.sections
  if (!Array.isArray(sections) || sections.length === 0) return invalid("sections must be a non-empty list")

  // The original checked that every section is a dictionary before looking inside any of them,
  // so a later non-dictionary section wins over a field problem in an earlier one. The remaining
  // per-section checks run section by section: the first section with any problem decides the message.
  if (!sections.every(isPlainObject)) return invalid("each section must be a dictionary")
  for (const section of sections as Record<string, unknown>[]) {
    for (const field of requiredSectionFields) {
      if (!Object.hasOwn(section, field)) return invalid(`section missing required field "${field}"`)
    }
    const price = section.price
    // Negativity is tested first so that -1.5 gets the contract's message rather than ours.
    if (typeof price === "number" && price < 0) return { ok: false, message: "Ticket price must over 0" }
    if (!Number.isSafeInteger(price)) return invalid("price must be a non-negative integer")
    if (!isPositiveInteger(section.subsections)) return invalid("subsections must be a positive integer")
  }

  // rows/cols and the name rules are fixes over the original, so they come after its checks
  // and never change which message an input the original rejected receives.
  if (!isPositiveInteger(input.rows)) return invalid("rows must be a positive integer")
  if (!isPositiveInteger(input.cols)) return invalid("cols must be a positive integer")

  const seen = new Set<string>()
  for (const section of sections as Record<string, unknown>[]) {
    const name = section.name
    // Counted in code points so that a name of ten accented or emoji characters is accepted.
    if (typeof name !== "string" || name.length === 0 || [...name].length > 10) {
      return invalid("section name must be 1-10 characters")
    }
    if (seen.has(name)) return invalid(`duplicate section name "${name}"`)
    seen.add(name)
  }

  const perSubsection = input.rows * input.cols
  const subsectionCount = (sections as SectionConfig[]).reduce((sum, s) => sum + s.subsections, 0)
  if (perSubsection > MAX_SEATS_PER_SUBSECTION || perSubsection * subsectionCount > MAX_TOTAL_SEATS) {
    return invalid(`too many seats (max ${MAX_TOTAL_SEATS})`)
  }

  // Copies, so later changes to the caller's object cannot alter a validated configuration;
  // extra keys, at the top level and inside sections, are kept to be echoed back.
  const config: SeatingConfig = {
    ...input,
    rows: input.rows,
    cols: input.cols,
    sections: (sections as SectionConfig[]).map((s) => ({ ...s })),
  }
  return { ok: true, config }
}

/** Lists every subsection of a configuration, in section order then subsection number (1-based). */
export function listSubsections(config: SeatingConfig): Subsection[] {
  const list: Subsection[] = []
  for (const section of config.sections) {
    for (let n = 1; n <= section.subsections; n++) {
      list.push({ section: section.name, subsection: n, price: section.price, rows: config.rows, cols: config.cols })
    }
  }
  return list
}

/** Counts the seats (and so the tickets) an event with this configuration has. */
export function totalSeats(config: SeatingConfig): number {
  return config.rows * config.cols * config.sections.reduce((sum, s) => sum + s.subsections, 0)
}

/**
 * The named benchmark layouts: a copy, kept in the repository so that a clone works wherever it
 * lives, of `seating_configs.json` from the specification folder beside the repository.
 */
// import.meta.url, not Bun's import.meta.dir, so that this module also loads under Node (profiles/node/).
export const standardSeatingConfigsFile = resolve(dirname(fileURLToPath(import.meta.url)), "seating-configs.json")

/** Where the specification's own copy would be: the `shared` folder beside the repository. */
export const specSeatingConfigsFile = resolve(dirname(fileURLToPath(import.meta.url)), "../../shared/seating_configs.json")

/** Loads one named layout (such as "500" or "1m") from the standard file, validated; throws naming the known layouts. */
export function loadStandardSeatingConfig(name: string, file: string = standardSeatingConfigsFile): SeatingConfig {
  const all: unknown = JSON.parse(readFileSync(file, "utf8"))
  if (!isPlainObject(all)) throw new Error(`${file}: expected an object of named seating configurations`)
  // hasOwn, so that names like "toString" or "__proto__" are reported as unknown rather than looked up.
  if (!Object.hasOwn(all, name)) {
    throw new Error(`Unknown seating configuration "${name}"; available: ${Object.keys(all).join(", ")}`)
  }
  const result = validateSeatingConfig(all[name])
  if (!result.ok) throw new Error(`${file}: seating configuration "${name}": ${result.message}`)
  return result.config
}
