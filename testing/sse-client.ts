// A server-sent-events client for tests and benchmarks, on a raw TCP socket: Bun's fetch runs at
// most 256 requests at once per process (BUN_CONFIG_MAX_HTTP_REQUESTS, read only at start-up), and
// a socket costs far less memory than a fetch when thousands of streams are open.

import { parseResponseHead } from "./raw-http.ts"

/** One received frame; `at` is performance.now() on arrival. */
export type SseFrame = { event: string; data: any; at: number }

/** An open (or refused) stream. */
export type SseClient = {
  status: number
  /** Response headers, names lower-cased. */
  headers: Record<string, string>
  /** The body of an answer that is not an event stream (a JSON error). */
  body(): string
  frames: SseFrame[]
  /** Comment lines received (`: ping`). */
  comments: number
  /** Resolves when the server ends the answer or the connection closes. */
  ended: Promise<void>
  /** Waits for the next frame in arrival order. */
  next(timeoutMs?: number): Promise<SseFrame>
  /** Waits for any frame (already received or still to come) that matches. */
  waitFor(match: (frame: SseFrame) => boolean, timeoutMs?: number, what?: string): Promise<SseFrame>
  /** Drops the connection, as a browser tab closing does. */
  close(): void
}

const CRLF = Buffer.from("\r\n")

/** Opens `url` as an event stream; resolves once the response headers arrived. */
export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  const target = new URL(url)
  let raw = Buffer.alloc(0)
  let head: { status: number; headers: Record<string, string>; chunked: boolean; length?: number } | undefined
  let text = ""
  let bodyText = ""
  let cursor = 0
  let ended = false
  const decoder = new TextDecoder()
  const waiters = new Set<() => void>()
  let resolveHead!: () => void
  let rejectHead!: (error: Error) => void
  const headReady = new Promise<void>((resolve, reject) => ((resolveHead = resolve), (rejectHead = reject)))
  let resolveEnded!: () => void
  const endedPromise = new Promise<void>((resolve) => (resolveEnded = resolve))

  const client: SseClient = {
    status: 0,
    headers: {},
    body: () => bodyText,
    frames: [],
    comments: 0,
    ended: endedPromise,
    next: (timeoutMs = 10_000) =>
      wait(() => client.frames[cursor] && client.frames[cursor++], timeoutMs, `frame #${cursor + 1}`),
    waitFor: (match, timeoutMs = 10_000, what = "a matching frame") => wait(() => client.frames.find(match), timeoutMs, what),
    close: () => socket.end(),
  }

  const wait = (check: () => SseFrame | undefined, timeoutMs: number, what: string) =>
    new Promise<SseFrame>((resolve, reject) => {
      const attempt = () => {
        const frame = check()
        if (frame) return done(() => resolve(frame))
        if (ended) done(() => reject(new Error(`stream ended before ${what}; frames: ${JSON.stringify(client.frames.map((f) => f.event))}`)))
      }
      const timer = setTimeout(() => done(() => reject(new Error(`timed out after ${timeoutMs}ms waiting for ${what}`))), timeoutMs)
      const done = (settle: () => void) => {
        clearTimeout(timer)
        waiters.delete(attempt)
        settle()
      }
      waiters.add(attempt)
      attempt()
    })

  const notify = () => {
    for (const waiter of [...waiters]) waiter()
  }

  const parseEvents = (chunk: Uint8Array) => {
    text += decoder.decode(chunk, { stream: true })
    let split: number
    while ((split = text.indexOf("\n\n")) >= 0) {
      const block = text.slice(0, split)
      text = text.slice(split + 2)
      let event = "message"
      const data: string[] = []
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) client.comments++
        else if (line.startsWith("event: ")) event = line.slice(7)
        else if (line.startsWith("data: ")) data.push(line.slice(6))
      }
      if (data.length > 0) client.frames.push({ event, data: JSON.parse(data.join("\n")), at: performance.now() })
    }
    notify()
  }

  const parseBody = () => {
    if (!head) return
    if (!head.chunked) {
      if (head.headers["content-type"]?.startsWith("text/event-stream")) parseEvents(raw)
      else bodyText += decoder.decode(raw, { stream: true })
      raw = Buffer.alloc(0)
      if (head.length !== undefined && Buffer.byteLength(bodyText) >= head.length) socket.end()
      return
    }
    for (;;) {
      const line = raw.indexOf(CRLF)
      if (line < 0) return
      const size = parseInt(raw.subarray(0, line).toString("latin1"), 16)
      if (size === 0) return void socket.end()
      if (raw.length < line + 2 + size + 2) return
      const payload = raw.subarray(line + 2, line + 2 + size)
      raw = raw.subarray(line + 2 + size + 2)
      if (head.headers["content-type"]?.startsWith("text/event-stream")) parseEvents(payload)
      else bodyText += decoder.decode(payload, { stream: true })
    }
  }

  const parseHead = () => {
    const parsed = parseResponseHead(raw)
    if (!parsed) return
    const { status, headers: fields, rest } = parsed
    const length = fields["content-length"]
    head = { status, headers: fields, chunked: /chunked/i.test(fields["transfer-encoding"] ?? ""), length: length === undefined ? undefined : Number(length) }
    client.status = status
    client.headers = fields
    raw = rest
    resolveHead()
  }

  const socket = await Bun.connect({
    hostname: target.hostname,
    port: Number(target.port),
    socket: {
      data(_socket, chunk) {
        raw = raw.length === 0 ? Buffer.from(chunk) : Buffer.concat([raw, chunk])
        if (!head) parseHead()
        parseBody()
      },
      close() {
        ended = true
        rejectHead(new Error(`connection closed before the response headers of ${url}`))
        resolveEnded()
        notify()
      },
      error(_socket, error) {
        rejectHead(error)
      },
    },
  })
  const extra = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join("")
  socket.write(`GET ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\nAccept: text/event-stream\r\n${extra}\r\n`)
  await headReady
  return client
}
