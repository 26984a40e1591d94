// The machine's HTTP ceiling for reference: a bare Bun route that parses the same JSON body
// and answers 202 with a small JSON object, nothing else.
const port = Number(process.argv[2] ?? 8299)

Bun.serve({
  hostname: "127.0.0.1",
  port,
  async fetch(request) {
    const body = (await request.json()) as { event_id: number }
    return Response.json({ id: crypto.randomUUID(), event_id: body.event_id, status: "processing" }, { status: 202 })
  },
})
console.log(`bare server on :${port}`)
