import { expect, test } from "bun:test"
import { createSseStreams, encodeFrame } from "./sse-streams.ts"

const decoder = new TextDecoder()

const openOne = (streams: ReturnType<typeof createSseStreams>) => {
  const abort = new AbortController()
  let closed = 0
  const { stream, response } = streams.open(new Request("http://localhost/sse", { signal: abort.signal }), () => closed++)
  const reader = response.body!.getReader()
  const read = async () => decoder.decode((await reader.read()).value)
  return { stream, response, reader, read, abort, closes: () => closed }
}

test("frames are `event: <name>\\ndata: <json>\\n\\n`", () => {
  expect(decoder.decode(encodeFrame("status_update", { a: 1 }))).toBe('event: status_update\ndata: {"a":1}\n\n')
})

test("a stream starts with a spread-out retry delay, carries the SSE headers, and gets the bytes sent", async () => {
  const streams = createSseStreams({ retryMs: 1_000 })
  const one = openOne(streams)
  expect(Object.fromEntries(one.response.headers)).toEqual({ "content-type": "text/event-stream", "cache-control": "no-store", "x-accel-buffering": "no" })
  const retry = Number(/^retry: (\d+)\n\n$/.exec(await one.read())![1])
  expect(retry).toBeGreaterThanOrEqual(1_000)
  expect(retry).toBeLessThan(2_000)
  one.stream.send(encodeFrame("x", 1))
  expect(await one.read()).toBe("event: x\ndata: 1\n\n")
  one.stream.close()
  expect((await one.reader.read()).done).toBe(true)
  expect(one.closes()).toBe(1)
})

test("one timer pings every open stream", async () => {
  const streams = createSseStreams({ pingMs: 30 })
  const a = openOne(streams)
  const b = openOne(streams)
  await a.read()
  await b.read()
  expect(await a.read()).toBe(": ping\n\n")
  expect(await b.read()).toBe(": ping\n\n")
  a.abort.abort()
  b.abort.abort()
  expect(streams.size).toBe(0)
  expect([a.closes(), b.closes()]).toEqual([1, 1])
})

test("a client that went away ends its stream once, whether by abort, cancel or close", async () => {
  const streams = createSseStreams()
  const aborted = openOne(streams)
  const cancelled = openOne(streams)
  const closed = openOne(streams)
  aborted.abort.abort()
  await cancelled.reader.cancel()
  closed.stream.close()
  closed.stream.close()
  aborted.stream.send(encodeFrame("late", 1)) // ignored
  expect([aborted.closes(), cancelled.closes(), closed.closes()]).toEqual([1, 1, 1])
  expect(streams.size).toBe(0)
})

test("a request aborted before its stream opened is ended just after, once the caller has registered it", async () => {
  const streams = createSseStreams()
  const abort = new AbortController()
  abort.abort()
  const registered = new Set<unknown>()
  const { stream } = streams.open(new Request("http://localhost/sse", { signal: abort.signal }), () => registered.delete(stream))
  registered.add(stream)
  await Promise.resolve()
  expect(registered.size).toBe(0)
  expect(streams.size).toBe(0)
})

test("a client that stops reading is dropped instead of buffering without end", () => {
  const streams = createSseStreams({ maxQueuedFrames: 10 })
  const slow = openOne(streams)
  for (let i = 0; i < 20; i++) slow.stream.send(encodeFrame("x", i))
  expect(slow.closes()).toBe(1)
  expect(streams.size).toBe(0)
})

test("closeAll ends every stream (at shutdown)", () => {
  const streams = createSseStreams()
  const all = [openOne(streams), openOne(streams)]
  streams.closeAll()
  expect(all.map((s) => s.closes())).toEqual([1, 1])
})
