import { describe, expect, test } from "bun:test"
import { addProcessMetrics, createMetrics } from "./metrics.ts"
import { parsePrometheusText } from "../testing/prometheus-text.ts"

describe("metrics", () => {
  test("counters and gauges, with and without labels, in the text format", () => {
    const m = createMetrics()
    const requests = m.counter("http_requests_total", "Requests answered.", ["method", "route", "status"])
    requests.labels("POST", "/api/booking", "202").inc()
    requests.labels("POST", "/api/booking", "202").inc(2)
    requests.labels("GET", "/api/booking/:id", "404").inc()
    const open = m.gauge("sse_streams_open", "Open SSE streams.")
    open.inc()
    open.inc()
    open.dec()
    const parsed = parsePrometheusText(m.text())
    expect(parsed.types.get("http_requests_total")).toBe("counter")
    expect(parsed.types.get("sse_streams_open")).toBe("gauge")
    expect(parsed.value("http_requests_total", { method: "POST", route: "/api/booking", status: "202" })).toBe(3)
    expect(parsed.value("http_requests_total", { method: "GET", route: "/api/booking/:id", status: "404" })).toBe(1)
    expect(parsed.value("sse_streams_open")).toBe(1)
  })

  test("the same label values reach the same series; asking for a family again returns it", () => {
    const m = createMetrics()
    const a = m.counter("c_total", "c", ["x"])
    expect(a.labels("1")).toBe(a.labels("1"))
    expect(a.labels("1")).not.toBe(a.labels("2"))
    expect(m.counter("c_total", "c", ["x"])).toBe(a)
    expect(() => m.gauge("c_total", "c", ["x"])).toThrow(/already registered as a counter/)
    expect(() => m.counter("c_total", "c", ["y"])).toThrow(/already registered/)
  })

  test("histograms count each observation in its bucket, cumulatively, with sum and count", () => {
    const m = createMetrics()
    const h = m.histogram("latency_seconds", "Latency.", [0.01, 0.1, 1], ["route"])
    for (const v of [0.005, 0.01, 0.05, 0.5, 3]) h.labels("/a").observe(v)
    const parsed = parsePrometheusText(m.text())
    const bucket = (le: string) => parsed.value("latency_seconds_bucket", { route: "/a", le })
    expect(parsed.types.get("latency_seconds")).toBe("histogram")
    expect([bucket("0.01"), bucket("0.1"), bucket("1"), bucket("+Inf")]).toEqual([2, 3, 4, 5])
    expect(parsed.value("latency_seconds_count", { route: "/a" })).toBe(5)
    expect(parsed.value("latency_seconds_sum", { route: "/a" })).toBeCloseTo(3.565, 6)
  })

  test("an unlabelled histogram and label values that need escaping", () => {
    const m = createMetrics()
    m.histogram("batch_size", "Batch sizes.", [1, 10]).observe(4)
    m.gauge("odd", 'Help with a \\ and\na newline.', ["v"]).labels('say "hi"\\\n').set(-2.5)
    const text = m.text()
    expect(text).toContain('batch_size_bucket{le="10"} 1')
    expect(text).toContain("# HELP odd Help with a \\\\ and\\na newline.")
    const parsed = parsePrometheusText(text)
    expect(parsed.value("odd", { v: 'say "hi"\\\n' })).toBe(-2.5)
    expect(parsed.value("batch_size_bucket", { le: "1" })).toBe(0)
  })

  test("rejects what Prometheus would: bad names, a falling counter, missing label values", () => {
    const m = createMetrics()
    expect(() => m.counter("bad-name", "x")).toThrow(/invalid metric name/)
    expect(() => m.counter("x_total", "x", ["le"])).toThrow(/invalid label/)
    expect(() => m.counter("y_total", "y").inc(-1)).toThrow(/cannot go down/)
    expect(() => m.counter("z_total", "z", ["a", "b"]).labels("1")).toThrow(/needs 2 label values/)
    expect(() => m.histogram("h", "h", [])).toThrow(/buckets/)
  })

  test("process metrics are read at each scrape", () => {
    const m = createMetrics()
    addProcessMetrics(m)
    const first = parsePrometheusText(m.text())
    expect(first.value("process_resident_memory_bytes")).toBeGreaterThan(0)
    let spin = 0
    for (let i = 0; i < 2e6; i++) spin += i
    expect(spin).toBeGreaterThan(0)
    const second = parsePrometheusText(m.text())
    expect(second.value("process_cpu_seconds_total")!).toBeGreaterThan(first.value("process_cpu_seconds_total")!)
  })

  test("the parser rejects malformed expositions", () => {
    expect(() => parsePrometheusText("x 1")).toThrow(/newline/)
    expect(() => parsePrometheusText("x{a=1} 1\n")).toThrow(/bad labels/)
    expect(() => parsePrometheusText("x one\n")).toThrow(/bad value/)
    expect(() => parsePrometheusText("# TYPE x countr\nx 1\n")).toThrow(/bad type/)
  })
})
