/** The autocannon load of bench/elysia-overhead.ts and bench/metrics-registry.ts: booking requests, 50 connections, against the booking route's shape on `port`. */
export const bookingRouteLoad = (port: number) => ({
  url: `http://127.0.0.1:${port}/api/booking`,
  method: "POST" as const,
  headers: { "content-type": "application/json", cookie: "fastapiusersauth=x" },
  body: JSON.stringify({ event_id: 1, section: "A", subsection: 1, seat_selection_mode: "best_available", seat_positions: [], quantity: 2 }),
  connections: 50,
})
