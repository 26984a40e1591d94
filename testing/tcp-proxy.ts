// A TCP proxy in front of a real service, for tests that take the service away without stopping the one
// every other test uses: cut() is a crash as clients see it (every connection dropped, new ones refused).
import net from "node:net"

/** A proxy to `target` listening on a loopback port of its own. */
export type TcpProxy = {
  port: number
  /** Drops every connection and refuses new ones, as a killed server does. */
  cut(): Promise<void>
  /** Accepts and forwards connections again, on the same port. */
  restore(): Promise<void>
  /** Keeps every connection open but forwards nothing either way, as a frozen server looks; false resumes. */
  stall(stalled: boolean): void
  close(): Promise<void>
}

/** Starts a proxy forwarding each connection to `target`, both ways, until it is cut. */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>()
  const pipes = new Map<net.Socket, net.Socket>()
  let server: net.Server | undefined
  let port = 0

  const forward = (client: net.Socket) => {
    const upstream = net.connect(target.port, target.host)
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      sockets.add(from)
      pipes.set(from, to)
      from.pipe(to)
      from.on("error", () => to.destroy())
      from.on("close", () => {
        sockets.delete(from)
        pipes.delete(from)
        to.destroy()
      })
    }
  }

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server = net.createServer(forward)
      server.once("error", reject)
      server.listen(port, "127.0.0.1", () => {
        port = (server!.address() as net.AddressInfo).port
        resolve()
      })
    })

  // The server's close callback waits for its connections, so they are destroyed before it is awaited.
  const stop = async () => {
    const closed = new Promise((resolve) => server!.close(resolve))
    for (const socket of sockets) socket.destroy()
    await closed
  }

  await listen()
  const stall = (stalled: boolean) => {
    for (const [from, to] of pipes) {
      if (stalled) {
        from.unpipe(to)
        from.pause()
      } else from.pipe(to)
    }
  }

  return { port, cut: stop, restore: listen, close: stop, stall }
}
