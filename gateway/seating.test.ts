import { describe, expect, test } from "bun:test"
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import {
  listSubsections,
  loadStandardSeatingConfig,
  specSeatingConfigsFile,
  standardSeatingConfigsFile,
  totalSeats,
  validateSeatingConfig,
  type SeatingConfig,
} from "./seating.ts"

const valid = () => ({
  rows: 25,
  cols: 20,
  sections: [
    { name: "A", price: 2000, subsections: 2 },
    { name: "B", price: 1500, subsections: 1 },
  ],
})

const messageFor = (input: unknown): string => {
  const result = validateSeatingConfig(input)
  if (result.ok) throw new Error(`expected a rejection, got ${JSON.stringify(result.config)}`)
  return result.message
}

const configFor = (input: unknown): SeatingConfig => {
  const result = validateSeatingConfig(input)
  if (!result.ok) throw new Error(`expected acceptance, got "${result.message}"`)
  return result.config
}

const bad = (detail: string) => `Invalid seating configuration: ${detail}`

describe("validateSeatingConfig messages", () => {
  test.each([[null], [[]], ["rows"], [42], [true], [undefined], [new Date()]])("non-dictionary %p is rejected", (input) => {
    expect(messageFor(input)).toBe("Input should be a valid dictionary")
  })

  test("missing sections", () => {
    expect(messageFor({ rows: 1, cols: 1 })).toBe(bad("must contain sections"))
  })

  test.each([[[]], [{}], ["A"], [null]])("sections %p is not a non-empty list", (sections) => {
    expect(messageFor({ ...valid(), sections })).toBe(bad("sections must be a non-empty list"))
  })

  test.each([[null], ["A"], [["A", 1, 1]], [3]])("section %p is not a dictionary", (section) => {
    expect(messageFor({ ...valid(), sections: [{ name: "A", price: 1, subsections: 1 }, section] })).toBe(
      bad("each section must be a dictionary"),
    )
  })

  test.each(["name", "price", "subsections"])("missing field %s", (field) => {
    const section: Record<string, unknown> = { name: "A", price: 100, subsections: 1 }
    delete section[field]
    expect(messageFor({ ...valid(), sections: [section] })).toBe(bad(`section missing required field "${field}"`))
  })

  test("missing fields are reported in the order name, price, subsections", () => {
    expect(messageFor({ ...valid(), sections: [{}] })).toBe(bad('section missing required field "name"'))
    expect(messageFor({ ...valid(), sections: [{ subsections: 1 }] })).toBe(bad('section missing required field "name"'))
    expect(messageFor({ ...valid(), sections: [{ name: "A" }] })).toBe(bad('section missing required field "price"'))
  })

  test.each([-1, -0.5, -Infinity])("negative price %p", (price) => {
    expect(messageFor({ ...valid(), sections: [{ name: "A", price, subsections: 1 }] })).toBe("Ticket price must over 0")
  })

  test.each([1.5, "100", null, true, NaN, Infinity])("non-integer price %p", (price) => {
    expect(messageFor({ ...valid(), sections: [{ name: "A", price, subsections: 1 }] })).toBe(
      bad("price must be a non-negative integer"),
    )
  })

  test("price 0 is allowed", () => {
    expect(configFor({ ...valid(), sections: [{ name: "A", price: 0, subsections: 1 }] }).sections[0]?.price).toBe(0)
  })

  test.each([0, -1, 1.5, "2", null])("subsections %p is not a positive integer", (subsections) => {
    expect(messageFor({ ...valid(), sections: [{ name: "A", price: 1, subsections }] })).toBe(
      bad("subsections must be a positive integer"),
    )
  })

  test.each([undefined, 0, -3, 2.5, "25"])("rows %p is rejected", (rows) => {
    expect(messageFor({ ...valid(), rows })).toBe(bad("rows must be a positive integer"))
  })

  test.each([undefined, 0, -3, 2.5, "20"])("cols %p is rejected", (cols) => {
    expect(messageFor({ ...valid(), cols })).toBe(bad("cols must be a positive integer"))
  })

  test.each(["", "ABCDEFGHIJK", 7, null])("section name %p is rejected", (name) => {
    expect(messageFor({ ...valid(), sections: [{ name, price: 1, subsections: 1 }] })).toBe(
      bad("section name must be 1-10 characters"),
    )
  })

  test("names of exactly 1 and 10 characters, counted in code points, are accepted", () => {
    const sections = [
      { name: "A", price: 1, subsections: 1 },
      { name: "ABCDEFGHIJ", price: 1, subsections: 1 },
      { name: "🎫🎫🎫🎫🎫🎫🎫🎫🎫🎫", price: 1, subsections: 1 },
    ]
    expect(configFor({ ...valid(), sections }).sections.map((s) => s.name)).toEqual(sections.map((s) => s.name))
  })

  test("duplicate section names", () => {
    const sections = [
      { name: "A", price: 1, subsections: 1 },
      { name: "VIP", price: 2, subsections: 1 },
      { name: "VIP", price: 3, subsections: 1 },
    ]
    expect(messageFor({ ...valid(), sections })).toBe(bad('duplicate section name "VIP"'))
  })

  test("too many seats in total", () => {
    // 1000 × 1000 × 3 = 3,000,000 seats, each subsection exactly at its own limit.
    expect(messageFor({ ...valid(), rows: 1000, cols: 1000 })).toBe(bad("too many seats (max 2000000)"))
  })

  test("too many seats in one subsection", () => {
    const config = { rows: 1001, cols: 1000, sections: [{ name: "A", price: 1, subsections: 1 }] }
    expect(messageFor(config)).toBe(bad("too many seats (max 2000000)"))
  })

  test("exactly 2,000,000 seats is accepted", () => {
    const config = { rows: 1000, cols: 1000, sections: [{ name: "A", price: 1, subsections: 2 }] }
    expect(totalSeats(configFor(config))).toBe(2_000_000)
  })

  test("huge rows and cols are rejected without overflowing into acceptance", () => {
    const config = { ...valid(), rows: Number.MAX_SAFE_INTEGER, cols: Number.MAX_SAFE_INTEGER }
    expect(messageFor(config)).toBe(bad("too many seats (max 2000000)"))
  })
})

describe("validateSeatingConfig order", () => {
  test.each([
    ["dictionary before sections", ["not", "a", "dict"], "Input should be a valid dictionary"],
    ["sections key before rows", { rows: 0 }, bad("must contain sections")],
    ["empty sections before rows", { rows: 0, cols: 0, sections: [] }, bad("sections must be a non-empty list")],
    [
      "every section is a dictionary before any field is checked",
      { ...valid(), sections: [{ price: -1 }, "B"] },
      bad("each section must be a dictionary"),
    ],
    [
      "missing field before price",
      { ...valid(), sections: [{ price: -1, subsections: 1 }] },
      bad('section missing required field "name"'),
    ],
    [
      "price before subsections",
      { ...valid(), sections: [{ name: "A", price: -1, subsections: 0 }] },
      "Ticket price must over 0",
    ],
    [
      "an earlier section's problem wins over a later section's",
      { ...valid(), sections: [{ name: "A", price: 1, subsections: 0 }, { name: "B", price: -1, subsections: 1 }] },
      bad("subsections must be a positive integer"),
    ],
    [
      "a later section's missing field wins over rows",
      { rows: 0, cols: 1, sections: [{ name: "A", price: 1, subsections: 1 }, { name: "B", price: 1 }] },
      bad('section missing required field "subsections"'),
    ],
    [
      "subsections before rows",
      { rows: 0, cols: 0, sections: [{ name: "A", price: 1, subsections: 0 }] },
      bad("subsections must be a positive integer"),
    ],
    ["rows before cols", { ...valid(), rows: 0, cols: 0 }, bad("rows must be a positive integer")],
    [
      "cols before names",
      { rows: 1, cols: 0, sections: [{ name: "", price: 1, subsections: 1 }] },
      bad("cols must be a positive integer"),
    ],
    [
      "name length is checked section by section with duplicates",
      {
        ...valid(),
        sections: [
          { name: "A", price: 1, subsections: 1 },
          { name: "A", price: 1, subsections: 1 },
          { name: "", price: 1, subsections: 1 },
        ],
      },
      bad('duplicate section name "A"'),
    ],
    [
      "names before seat count",
      { rows: 2000, cols: 2000, sections: [{ name: "ABCDEFGHIJK", price: 1, subsections: 1 }] },
      bad("section name must be 1-10 characters"),
    ],
  ])("%s", (_, input, message) => {
    expect(messageFor(input)).toBe(message)
  })
})

describe("validateSeatingConfig result", () => {
  test("extra keys are kept and echoed", () => {
    const input = { ...valid(), total_seats: 1500, venue_map: { url: "x" } }
    const config = configFor(input)
    expect(config).toEqual(input)
    expect(JSON.parse(JSON.stringify(config)).total_seats).toBe(1500)
  })

  test("the validated configuration does not follow later changes to the input", () => {
    const input = valid()
    const config = configFor(input)
    input.rows = 0
    input.sections[0]!.price = -1
    expect(config.rows).toBe(25)
    expect(config.sections[0]?.price).toBe(2000)
  })
})

describe("listSubsections and totalSeats", () => {
  test("lists every subsection in section then subsection order", () => {
    const config = configFor({
      rows: 3,
      cols: 4,
      sections: [
        { name: "B", price: 500, subsections: 2 },
        { name: "A", price: 900, subsections: 3 },
      ],
    })
    expect(listSubsections(config)).toEqual([
      { section: "B", subsection: 1, price: 500, rows: 3, cols: 4 },
      { section: "B", subsection: 2, price: 500, rows: 3, cols: 4 },
      { section: "A", subsection: 1, price: 900, rows: 3, cols: 4 },
      { section: "A", subsection: 2, price: 900, rows: 3, cols: 4 },
      { section: "A", subsection: 3, price: 900, rows: 3, cols: 4 },
    ])
    expect(totalSeats(config)).toBe(3 * 4 * 5)
  })

  const standard = JSON.parse(readFileSync(standardSeatingConfigsFile, "utf8")) as Record<string, { total_seats: number }>

  test("the standard file has layouts to check", () => {
    expect(Object.keys(standard).length).toBeGreaterThan(0)
  })

  // The repository's copy must not drift from the specification where that folder is present.
  test.skipIf(!existsSync(specSeatingConfigsFile))("the repository's copy equals the specification's seating_configs.json", () => {
    expect(standard).toEqual(JSON.parse(readFileSync(specSeatingConfigsFile, "utf8")))
  })

  test.each(Object.keys(standard))("standard layout %s: totalSeats equals total_seats", (name) => {
    const config = loadStandardSeatingConfig(name)
    expect(totalSeats(config)).toBe(standard[name]!.total_seats)
    expect(config.total_seats).toBe(standard[name]!.total_seats)
    const subsections = listSubsections(config)
    expect(subsections.length).toBe(config.sections.reduce((sum, s) => sum + s.subsections, 0))
    expect(subsections.reduce((sum, s) => sum + s.rows * s.cols, 0)).toBe(standard[name]!.total_seats)
  })
})

describe("loadStandardSeatingConfig", () => {
  test("an unknown name throws, naming the available layouts", () => {
    expect(() => loadStandardSeatingConfig("nope")).toThrow(/Unknown seating configuration "nope"; available: .*500.*1k/)
  })

  test("inherited property names are unknown, not looked up", () => {
    expect(() => loadStandardSeatingConfig("toString")).toThrow(/Unknown seating configuration "toString"/)
  })

  test("reads another file when given one, and rejects an invalid layout in it", () => {
    const dir = mkdtempSync(join(tmpdir(), "seating-"))
    const file = join(dir, "configs.json")
    writeFileSync(
      file,
      JSON.stringify({ tiny: { rows: 1, cols: 2, sections: [{ name: "Z", price: 5, subsections: 3 }] }, broken: { rows: 1 } }),
    )
    try {
      expect(totalSeats(loadStandardSeatingConfig("tiny", file))).toBe(6)
      expect(() => loadStandardSeatingConfig("broken", file)).toThrow(/must contain sections/)
      expect(() => loadStandardSeatingConfig("500", file)).toThrow(/available: tiny, broken/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
