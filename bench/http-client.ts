// A minimal keep-alive HTTP/1.1 client over raw sockets for the load generators. The generator
// shares 2 cores with the whole stack, so it must be cheap: Bun's fetch spends several times
// more CPU per request, and autocannon only notices the end of a fixed-count run on its
// one-second tick, which blurs a sellout that takes a second.

/** One answer: `sentAt` is when the request went on the wire, `ms` the time from then to the answer. */
export type HttpAnswer = { status: number; body: string; ms: number; sentAt: number }

type Waiter = { resolve: (answer: HttpAnswer) => void; reject: (error: Error) => void; started: number }

const CRLF2 = Buffer.from("\r\n\r\n")

/** Opens `connections` keep-alive connections to `url`'s host; `send` runs on the next idle one. */
export async function createHttpPool(url: string, connections: number) {
  const { hostname, port } = new URL(url)
  const idle: Connection[] = []
  const queue: { head: Buffer; body: Buffer; waiter: Waiter }[] = []

  type Connection = { write: (data: Buffer) => void; waiter?: Waiter; buffer: Buffer; close: () => void }

  const dispatch = (conn: Connection) => {
    const job = queue.shift()
    if (!job) {
      idle.push(conn)
      return
    }
    conn.waiter = job.waiter
    job.waiter.started = performance.now()
    conn.write(Buffer.concat([job.head, job.body]))
  }

  // Parses as many complete responses as the buffer holds (one per request: no pipelining).
  const onData = (conn: Connection, chunk: Uint8Array) => {
    conn.buffer = conn.buffer.length ? Buffer.concat([conn.buffer, chunk]) : Buffer.from(chunk)
    const end = conn.buffer.indexOf(CRLF2)
    if (end < 0) return
    const head = conn.buffer.toString("latin1", 0, end)
    const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0)
    if (conn.buffer.length < end + 4 + length) return
    const body = conn.buffer.toString("utf8", end + 4, end + 4 + length)
    conn.buffer = conn.buffer.subarray(end + 4 + length)
    const waiter = conn.waiter!
    conn.waiter = undefined
    waiter.resolve({ status: Number(head.slice(9, 12)), body, ms: performance.now() - waiter.started, sentAt: waiter.started })
    dispatch(conn)
  }

  const open = async (): Promise<Connection> => {
    const conn: Connection = { write: () => {}, buffer: Buffer.alloc(0), close: () => {} }
    const socket = await Bun.connect({
      hostname,
      port: Number(port),
      socket: {
        data: (_socket, chunk) => onData(conn, chunk),
        close: () => conn.waiter?.reject(new Error("connection closed")),
        error: (_socket, error) => conn.waiter?.reject(error),
      },
    })
    conn.write = (data) => void socket.write(data)
    conn.close = () => socket.end()
    return conn
  }

  const all = await Promise.all(Array.from({ length: connections }, open))
  idle.push(...all)

  return {
    /** Sends one request and resolves with its status, body and latency. */
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
    /** Closes every connection. */
    close() {
      for (const conn of all) conn.close()
    },
  }
}
