// A minimal keep-alive HTTP/1.1 client over raw sockets for the load generators. The generator
// shares 2 cores with the whole stack, so it must be cheap: Bun's fetch spends several times
// more CPU per request, and autocannon only notices the end of a fixed-count run on its
// one-second tick, which blurs a sellout that takes a second.

/**
 * One answer: `sentAt` is when the request went on the wire, `ms` the time from then to the answer,
 * `head` the status line and headers as received (see headerOf).
 */
export type HttpAnswer = { status: number; head: string; body: string; ms: number; sentAt: number }

/** A header's value in an answer's head (case-insensitive name), or undefined. */
export const headerOf = (head: string, name: string): string | undefined =>
  new RegExp(`\\r\\n${name}:[ \\t]*([^\\r]*)`, "i").exec(head)?.[1]

type Waiter = { resolve: (answer: HttpAnswer) => void; reject: (error: Error) => void; started: number; timer?: Timer }

type Socket = { write: (data: Buffer) => number; end: () => void }

type Connection = { socket?: Socket; waiter?: Waiter; buffer: Buffer }

const CRLF2 = Buffer.from("\r\n\r\n")

/**
 * Opens `connections` keep-alive connections to `url`'s host; `send` runs on the next idle one.
 * A connection the server closed is opened again for the next request (a restarted server is
 * reached again), and a request with no answer after `timeoutMs` fails and drops its connection.
 */
export async function createHttpPool(url: string, connections: number, options: { timeoutMs?: number } = {}) {
  const { hostname, port } = new URL(url)
  const timeoutMs = options.timeoutMs ?? 30_000
  const idle: Connection[] = []
  const queue: { head: Buffer; body: Buffer; waiter: Waiter }[] = []
  let closed = false

  // Ends the connection's request with an error; the connection reopens on its next request.
  const fail = (conn: Connection, error: Error) => {
    const waiter = conn.waiter
    conn.waiter = undefined
    conn.socket?.end()
    conn.socket = undefined
    conn.buffer = Buffer.alloc(0)
    if (waiter) {
      clearTimeout(waiter.timer)
      waiter.reject(error)
      dispatch(conn)
    }
  }

  const dispatch = (conn: Connection) => {
    const job = closed ? undefined : queue.shift()
    if (!job) {
      idle.push(conn)
      return
    }
    conn.waiter = job.waiter
    job.waiter.started = performance.now()
    job.waiter.timer = setTimeout(() => fail(conn, new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)
    const data = Buffer.concat([job.head, job.body])
    if (conn.socket) {
      conn.socket.write(data)
      return
    }
    open(conn).then(
      (socket) => {
        // The request may have timed out while connecting; its connection has moved on.
        if (conn.waiter !== job.waiter) return socket.end()
        conn.socket = socket
        socket.write(data)
      },
      (error: Error) => void (conn.waiter === job.waiter && fail(conn, error)),
    )
  }

  // Parses as many complete responses as the buffer holds (one per request: no pipelining).
  const onData = (conn: Connection, chunk: Uint8Array) => {
    conn.buffer = conn.buffer.length ? Buffer.concat([conn.buffer, chunk]) : Buffer.from(chunk)
    const end = conn.buffer.indexOf(CRLF2)
    if (end < 0 || !conn.waiter) return
    const head = conn.buffer.toString("latin1", 0, end)
    const length = Number(headerOf(head, "content-length") ?? 0)
    if (conn.buffer.length < end + 4 + length) return
    const body = conn.buffer.toString("utf8", end + 4, end + 4 + length)
    conn.buffer = conn.buffer.subarray(end + 4 + length)
    const waiter = conn.waiter
    conn.waiter = undefined
    clearTimeout(waiter.timer)
    waiter.resolve({ status: Number(head.slice(9, 12)), head, body, ms: performance.now() - waiter.started, sentAt: waiter.started })
    dispatch(conn)
  }

  const open = async (conn: Connection) => {
    const socket: Socket = await Bun.connect({
      hostname,
      port: Number(port),
      socket: {
        data: (_socket, chunk) => onData(conn, chunk),
        close: () => void (conn.socket === socket && fail(conn, new Error("connection closed"))),
        error: (_socket, error) => void (conn.socket === socket && fail(conn, error)),
      },
    })
    return socket
  }

  const all: Connection[] = Array.from({ length: connections }, () => ({ buffer: Buffer.alloc(0) }))
  await Promise.all(all.map(async (conn) => (conn.socket = await open(conn))))
  idle.push(...all)

  return {
    /** Sends one request and resolves with its status, head, body and latency; rejects when no answer comes. */
    send(method: string, path: string, headers: Record<string, string>, body = ""): Promise<HttpAnswer> {
      const payload = Buffer.from(body)
      const lines = [`${method} ${path} HTTP/1.1`, `host: ${hostname}:${port}`, `content-length: ${payload.length}`]
      for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`)
      const head = Buffer.from(lines.join("\r\n") + "\r\n\r\n")
      return new Promise((resolve, reject) => {
        queue.push({ head, body: payload, waiter: { resolve, reject, started: 0 } })
        const conn = idle.pop()
        if (conn) dispatch(conn)
      })
    },
    /** Requests sent and not answered yet, plus those waiting for a connection. */
    pending: () => queue.length + all.filter((conn) => conn.waiter).length,
    /** Closes every connection. */
    close() {
      closed = true
      for (const conn of all) {
        const socket = conn.socket
        conn.socket = undefined
        socket?.end()
      }
    },
  }
}
