// The machine's HTTP ceiling for reference: a bare route that parses the same JSON body and answers
// 202 with a small JSON object, nothing else. It runs on Bun (Bun.serve), on Deno (Deno.serve) and on
// Node (node:http, from a `bun build --target=node` bundle), each runtime's own server.
import { createServer } from "node:http"

const port = Number(process.argv[2] ?? 8299)
const hostname = "127.0.0.1"

const answer = (body: { event_id: number }) => ({ id: crypto.randomUUID(), event_id: body.event_id, status: "processing" })

const handle = async (request: Request) => Response.json(answer((await request.json()) as { event_id: number }), { status: 202 })

type DenoServe = (options: { hostname: string; port: number; onListen?: () => void }, handler: (request: Request) => Promise<Response>) => unknown

if (typeof globalThis.Bun !== "undefined") Bun.serve({ hostname, port, fetch: handle })
else if ("Deno" in globalThis) (globalThis as unknown as { Deno: { serve: DenoServe } }).Deno.serve({ hostname, port, onListen: () => {} }, handle)
else {
  // Node's own server, not a Request/Response layer over it: the reference is each runtime's bare ceiling.
  createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => {
      response.writeHead(202, { "content-type": "application/json" })
      response.end(JSON.stringify(answer(JSON.parse(Buffer.concat(chunks).toString("utf8")))))
    })
  }).listen(port, hostname)
}
console.log(`bare server on :${port}`)
