// Benchmark reports: a Markdown file and an SVG chart under bench/results/ (git-ignored).
import { mkdirSync } from "node:fs"
import { join } from "node:path"

export const resultsDir = join(import.meta.dir, "results")

export type Series = { name: string; colour: string; points: { x: number; y: number }[] }

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;")

/** Renders line series as a small SVG chart (no dependencies): x and y axes with ticks and a legend. */
export function lineChart(title: string, xLabel: string, yLabel: string, series: Series[]): string {
  const width = 760
  const height = 360
  const pad = { left: 70, right: 20, top: 40, bottom: 50 }
  const all = series.flatMap((s) => s.points)
  const maxX = Math.max(1, ...all.map((p) => p.x))
  const maxY = Math.max(1, ...all.map((p) => p.y)) * 1.1
  const sx = (x: number) => pad.left + (x / maxX) * (width - pad.left - pad.right)
  const sy = (y: number) => height - pad.bottom - (y / maxY) * (height - pad.top - pad.bottom)
  const ticks = (max: number) => Array.from({ length: 6 }, (_, i) => (max * i) / 5)
  const fmt = (v: number) => (v >= 1000 ? `${(v / 1000).toFixed(v >= 10_000 ? 0 : 1)}k` : v >= 10 ? v.toFixed(0) : v.toFixed(1))
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">${esc(title)}</text>`,
    `<text x="${width / 2}" y="${height - 10}" text-anchor="middle">${esc(xLabel)}</text>`,
    `<text x="15" y="${height / 2}" text-anchor="middle" transform="rotate(-90 15 ${height / 2})">${esc(yLabel)}</text>`,
    ...ticks(maxX).map((t) => `<text x="${sx(t)}" y="${height - pad.bottom + 16}" text-anchor="middle">${fmt(t)}</text>`),
    ...ticks(maxY).map((t) => `<line x1="${pad.left}" x2="${width - pad.right}" y1="${sy(t)}" y2="${sy(t)}" stroke="#eee"/><text x="${pad.left - 6}" y="${sy(t) + 4}" text-anchor="end">${fmt(t)}</text>`),
    `<line x1="${pad.left}" x2="${pad.left}" y1="${pad.top}" y2="${height - pad.bottom}" stroke="#333"/>`,
    `<line x1="${pad.left}" x2="${width - pad.right}" y1="${height - pad.bottom}" y2="${height - pad.bottom}" stroke="#333"/>`,
  ]
  series.forEach((s, i) => {
    if (s.points.length > 0) {
      parts.push(`<polyline fill="none" stroke="${s.colour}" stroke-width="2" points="${s.points.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(" ")}"/>`)
      for (const p of s.points) parts.push(`<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="2.5" fill="${s.colour}"/>`)
    }
    parts.push(`<rect x="${pad.left + 10 + i * 170}" y="${pad.top - 8}" width="12" height="3" fill="${s.colour}"/><text x="${pad.left + 26 + i * 170}" y="${pad.top - 4}">${esc(s.name)}</text>`)
  })
  parts.push("</svg>")
  return parts.join("\n")
}

/** Writes `<name>-<timestamp>.md` and its charts; returns the Markdown path. */
export async function writeReport(name: string, markdown: string, charts: Record<string, string> = {}): Promise<string> {
  mkdirSync(resultsDir, { recursive: true })
  const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19)
  const links: string[] = []
  for (const [chart, svg] of Object.entries(charts)) {
    const file = `${name}-${stamp}-${chart}.svg`
    await Bun.write(join(resultsDir, file), svg)
    links.push(`![${chart}](${file})`)
  }
  const path = join(resultsDir, `${name}-${stamp}.md`)
  await Bun.write(path, `${markdown}\n\n${links.join("\n\n")}\n`)
  return path
}

/** A Markdown table from a header and rows. */
export const table = (header: string[], rows: (string | number)[][]) =>
  [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n")
