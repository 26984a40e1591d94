// The live seat page, plain HTML with an inline script: the event stream updates each subsection's
// bar at once, and the seat grids of changed subsections are fetched again (one fetch in flight per
// subsection, so a busy sale costs one request per subsection at a time). Large events start with
// their grids folded; opening one loads it.

/** The page at /events/:id; its script reads the event id from the address. */
export const LIVE_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Live seats</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #222; }
  h1 { margin: 0 0 .2rem; font-size: 1.4rem; }
  .muted { color: #666; }
  #state { font-size: .85rem; padding: .1rem .4rem; border-radius: 3px; background: #eee; }
  #state[data-state="live"] { background: #dff0d8; color: #2d6a2d; }
  #state[data-state="error"] { background: #f2dede; color: #a94442; }
  .legend span { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin: 0 .25rem 0 .8rem; }
  .sub { margin: .8rem 0; }
  .sub summary { cursor: pointer; }
  .bar { display: inline-flex; vertical-align: middle; width: 240px; height: 10px; margin: 0 .6rem; background: #5cb85c; border-radius: 3px; overflow: hidden; }
  .bar i { display: block; height: 100%; transition: width .2s; }
  .bar .reserved, .legend .reserved, .seat[data-status="reserved"] { background: #f0ad4e; }
  .bar .sold, .legend .sold, .seat[data-status="sold"] { background: #d9534f; }
  .legend .available, .seat { background: #5cb85c; }
  .grid { display: grid; gap: 2px; margin: .4rem 0 0 1rem; width: max-content; }
  .seat { width: 11px; height: 11px; border-radius: 2px; }
</style>
</head>
<body>
<h1 id="name">Loading…</h1>
<div class="muted" id="venue"></div>
<p>
  <b id="available">–</b> available · <b id="reserved">–</b> reserved · <b id="sold">–</b> sold of <b id="total">–</b>
  <span id="state" data-state="connecting">connecting</span>
</p>
<div class="legend muted"><span class="available"></span>available<span class="reserved"></span>reserved<span class="sold"></span>sold</div>
<div id="sections"></div>
<script type="module">
const eventId = location.pathname.split("/").filter(Boolean).pop()
const api = "/api/event/" + encodeURIComponent(eventId)
const GRID_SEATS_SHOWN = 20000
const $ = (id) => document.getElementById(id)
const subs = new Map()
let cols = 1

function setState(state, text) {
  $("state").dataset.state = state
  $("state").textContent = text
}

function showTotals(stats) {
  for (const key of ["available", "reserved", "sold", "total"]) $(key).textContent = stats[key].toLocaleString()
}

function showCounts(sub, counts) {
  Object.assign(sub.counts, counts)
  const { available, reserved, sold } = sub.counts
  const total = available + reserved + sold || 1
  sub.reservedBar.style.width = (100 * reserved / total) + "%"
  sub.soldBar.style.width = (100 * sold / total) + "%"
  sub.label.textContent = available + " free · " + reserved + " reserved · " + sold + " sold"
  sub.block.dataset.available = available
}

function build(initial) {
  $("name").textContent = initial.name
  $("venue").textContent = initial.venue_name + " · " + initial.status
  document.title = initial.name + " · live seats"
  cols = initial.seating_config.cols
  const seatsInEvent = initial.stats.total
  const root = $("sections")
  root.replaceChildren()
  subs.clear()
  for (const s of initial.sections) {
    const key = s.section + "-" + s.subsection
    const block = document.createElement("details")
    block.className = "sub"
    block.dataset.subsection = key
    block.open = seatsInEvent <= GRID_SEATS_SHOWN
    const summary = document.createElement("summary")
    const title = document.createElement("b")
    title.textContent = key + " · $" + s.price
    const bar = document.createElement("span")
    bar.className = "bar"
    const reservedBar = document.createElement("i")
    reservedBar.className = "reserved"
    const soldBar = document.createElement("i")
    soldBar.className = "sold"
    bar.append(soldBar, reservedBar)
    const label = document.createElement("span")
    label.className = "muted"
    summary.append(title, bar, label)
    const grid = document.createElement("div")
    grid.className = "grid"
    grid.style.gridTemplateColumns = "repeat(" + cols + ", 11px)"
    block.append(summary, grid)
    root.append(block)
    const sub = { key, section: s.section, subsection: s.subsection, block, grid, reservedBar, soldBar, label, counts: {}, seats: new Map(), busy: false, again: false }
    block.addEventListener("toggle", () => block.open && loadSeats(sub))
    subs.set(key, sub)
    showCounts(sub, s)
    if (block.open) loadSeats(sub)
  }
}

// One fetch per subsection at a time; a change during it fetches once more afterwards.
async function loadSeats(sub) {
  if (!sub.block.open) return
  if (sub.busy) return void (sub.again = true)
  sub.busy = true
  try {
    const res = await fetch(api + "/sections/" + encodeURIComponent(sub.section) + "/subsection/" + sub.subsection + "/seats")
    if (res.ok) drawSeats(sub, (await res.json()).tickets)
  } finally {
    sub.busy = false
    if (sub.again) {
      sub.again = false
      loadSeats(sub)
    }
  }
}

function drawSeats(sub, tickets) {
  for (const t of tickets) {
    const id = sub.key + ":" + t.row + "-" + t.seat
    let seat = sub.seats.get(id)
    if (!seat) {
      seat = document.createElement("div")
      seat.className = "seat"
      seat.dataset.seat = id
      seat.title = sub.key + " row " + t.row + " seat " + t.seat
      seat.style.gridRow = t.row
      seat.style.gridColumn = t.seat
      sub.grid.append(seat)
      sub.seats.set(id, seat)
    }
    if (seat.dataset.status !== t.status) seat.dataset.status = t.status
  }
}

const stream = new EventSource(api + "/sse")
stream.addEventListener("open", () => setState("live", "live"))
stream.addEventListener("error", () => {
  if (stream.readyState === EventSource.CLOSED) setState("error", "event not found or stream closed")
  else setState("connecting", "reconnecting…")
})
// Sent again after every reconnect, so the page rebuilds from it.
stream.addEventListener("initial_status", (e) => {
  const initial = JSON.parse(e.data)
  build(initial)
  showTotals(initial.stats)
  setState("live", "live")
})
stream.addEventListener("status_update", (e) => {
  const update = JSON.parse(e.data)
  showTotals(update.stats)
  for (const [key, counts] of Object.entries(update.subsection_stats)) {
    const sub = subs.get(key)
    if (!sub) continue
    showCounts(sub, counts)
    loadSeats(sub)
  }
})
</script>
</body>
</html>
`
