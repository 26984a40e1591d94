// An HTTP/1.1 client on a raw socket for tests of what fetch cannot send or would hide: methods Bun's
// parser does not know, oversized headers, and large bodies with or without a Content-Length, where the
// test needs to see exactly what the server wrote back, how early, and whether it closed the connection.
import net from "node:net"

/** What came back on the connection: the answer, if any, and how much of the body had been sent by then. */
export type RawAnswer = {
  /** 0 when the server closed the connection without answering. */
  status: number
  /** Response headers, names lower-cased. */
  headers: Record<string, string>
  body: string
  /** Body bytes written before the answer's headers arrived (all of them if it never did). */
  bytesSentBeforeAnswer: number
  /** A write or connection error seen by the client (EPIPE, ECONNRESET), if any. */
  error?: string
}

export type RawRequest = {
  method: string
  path: string
  headers?: Record<string, string>
  /** Body size in bytes, sent as `{"a":"aaa…"}` in 64 KiB writes. */
  bodyBytes?: number
  /** Sends the body with Transfer-Encoding: chunked instead of a Content-Length. */
  chunked?: boolean
}

/** The status and headers (names lower-cased) at the start of `raw`, and the bytes after them; undefined until they are complete. */
export function parseResponseHead(raw: Buffer<ArrayBuffer>): { status: number; headers: Record<string, string>; rest: Buffer<ArrayBuffer> } | undefined {
  const end = raw.indexOf("\r\n\r\n")
  if (end < 0) return undefined
  const [statusLine, ...lines] = raw.subarray(0, end).toString("latin1").split("\r\n")
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(":")
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  return { status: Number(statusLine!.split(" ")[1]), headers, rest: raw.subarray(end + 4) }
}

const PIECE = 64 * 1024

// A JSON object of exactly `size` bytes (at least 8), produced piece by piece.
function* jsonBody(size: number): Generator<Buffer> {
  const open = Buffer.from('{"a":"')
  const close = Buffer.from('"}')
  yield open
  for (let left = size - open.length - close.length; left > 0; left -= PIECE) yield Buffer.alloc(Math.min(PIECE, left), 0x61)
  yield close
}

/** Sends one request on a new connection, stops sending its body once an answer arrives, and returns the answer. */
export function sendRaw(port: number, request: RawRequest, timeoutMs = 20_000): Promise<RawAnswer> {
  const { method, path, headers = {}, bodyBytes = 0, chunked = false } = request
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1")
    let received = Buffer.alloc(0)
    let answer: RawAnswer | undefined
    let contentLength: number | undefined
    let sent = 0
    let error: string | undefined
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`no complete answer to ${method} ${path} within ${timeoutMs} ms`))
    }, timeoutMs)

    const finish = () => {
      clearTimeout(timer)
      socket.destroy()
      resolve(answer ? { ...answer, error } : { status: 0, headers: {}, body: "", bytesSentBeforeAnswer: sent, error })
    }

    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk])
      if (!answer) {
        const head = parseResponseHead(received)
        if (!head) return
        answer = { status: head.status, headers: head.headers, body: "", bytesSentBeforeAnswer: sent }
        contentLength = head.headers["content-length"] === undefined ? undefined : Number(head.headers["content-length"])
        received = head.rest
      }
      answer.body = received.toString("utf8")
      if (contentLength !== undefined && received.length >= contentLength) finish()
    })
    socket.on("error", (e: NodeJS.ErrnoException) => (error ??= e.code ?? e.message))
    socket.on("close", finish)
    socket.on("connect", async () => {
      const head = [`${method} ${path} HTTP/1.1`, "host: 127.0.0.1", ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`)]
      if (bodyBytes > 0) head.push("content-type: application/json", chunked ? "transfer-encoding: chunked" : `content-length: ${bodyBytes}`)
      socket.write(`${head.join("\r\n")}\r\n\r\n`)
      if (bodyBytes === 0) return
      for (const piece of jsonBody(bodyBytes)) {
        if (answer || socket.destroyed) return
        const framed = chunked ? Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from("\r\n")]) : piece
        sent += piece.length
        // A closed socket never drains; its close has already settled the answer by then.
        if (!socket.write(framed)) await new Promise((resume) => socket.once("drain", resume))
      }
      if (chunked && !answer && !socket.destroyed) socket.write("0\r\n\r\n")
    })
  })
}
