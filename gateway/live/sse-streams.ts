const encoder = new TextEncoder()

/** The headers of every server-sent-events answer. */
export const SSE_HEADERS = {
  "content-type": "text/event-stream",
  "cache-control": "no-store",
  "x-accel-buffering": "no",
} as const

/** Encodes one frame, `event: <name>\ndata: <json>\n\n`; encode once and send the bytes to every client. */
export const encodeFrame = (event: string, data: unknown): Uint8Array => encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)

const PING = encoder.encode(": ping\n\n")

/** One open event stream. */
export type SseStream = {
  /** Queues bytes for the client; a client that stopped reading is dropped instead of buffered forever. */
  send(bytes: Uint8Array): void
  /** Ends the stream; the close callback runs once. */
  close(): void
}

/**
 * The open event streams of one gateway: each ends when its client goes away (request aborted or
 * stream cancelled) and then runs its close callback once. One shared timer pings every stream, so
 * a quiet stream survives proxies and the server's idle timeout; it runs only while a stream is open.
 * Clients are told to reconnect after retryMs to twice that.
 */
export function createSseStreams({ pingMs = 15_000, retryMs = 2_000, maxQueuedFrames = 256 } = {}) {
  const open = new Set<SseStream>()
  let pinger: Timer | undefined

  const ping = () => {
    for (const stream of open) stream.send(PING)
  }

  return {
    /** Opens a stream answering `request`; `onClose` runs once when it ends, whoever ends it. */
    open(request: Request, onClose: () => void): { stream: SseStream; response: Response } {
      let controller!: ReadableStreamDefaultController<Uint8Array>
      const { signal } = request
      let ended = false
      const end = () => {
        if (ended) return
        ended = true
        open.delete(stream)
        signal.removeEventListener("abort", end)
        if (open.size === 0 && pinger) {
          clearInterval(pinger)
          pinger = undefined
        }
        onClose()
      }
      const stream: SseStream = {
        send(bytes) {
          if (ended) return
          // desiredSize counts queued frames below zero: the socket has not taken them.
          if ((controller.desiredSize ?? 0) < -maxQueuedFrames) return stream.close()
          try {
            controller.enqueue(bytes)
          } catch {
            // The runtime closed the stream before telling us: the client is gone. A throw here would
            // stop a fan-out loop halfway.
            end()
          }
        },
        close() {
          if (ended) return
          try {
            controller.close()
          } catch {
            // Already closed or errored by the runtime: the client is gone.
          }
          end()
        },
      }
      // start() runs inside the constructor, so `controller` is set before the response is returned.
      const body = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c), cancel: end })
      open.add(stream)
      pinger ??= setInterval(ping, pingMs)
      // Bun sends the headers with the first bytes, so a stream with nothing to say yet starts with its
      // reconnection delay, spread out so that a restarted gateway is not hit by every client at once.
      controller.enqueue(encoder.encode(`retry: ${retryMs + Math.floor(Math.random() * retryMs)}\n\n`))
      // A client already gone is ended after the caller has registered the stream, so its onClose finds it.
      if (signal.aborted) queueMicrotask(end)
      else signal.addEventListener("abort", end, { once: true })
      return { stream, response: new Response(body, { headers: SSE_HEADERS }) }
    },
    /** How many streams are open. */
    get size(): number {
      return open.size
    },
    /** Ends every open stream (at shutdown, so the server can stop). */
    closeAll(): void {
      for (const stream of [...open]) stream.close()
    },
  }
}

/** The open event streams of one gateway. */
export type SseStreams = ReturnType<typeof createSseStreams>
