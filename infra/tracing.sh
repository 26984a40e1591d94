#!/usr/bin/env bash
# Local Jaeger for traces: built once with Go from the module proxy, then run on loopback
# with in-memory storage. The build lives outside the checkout ($JAEGER_CACHE, by default
# under ~/.cache), so fresh clones on the same machine (CI) reuse it; every step is idempotent.
#
#   bash infra/tracing.sh start|stop|status|build
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/infra/env.sh"

# `go install` refuses the jaeger module because of its replace directives, so a wrapper
# module records it as a tool dependency and builds it.
JAEGER_MODULE="github.com/jaegertracing/jaeger"
: "${JAEGER_CACHE:=${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/ticketing/jaeger-v$JAEGER_VERSION}"
JAEGER_BIN="$JAEGER_CACHE/jaeger"
RUN_DIR="$DATA_DIR/run"
LOG_DIR="$DATA_DIR/logs"
CONFIG="$DATA_DIR/jaeger/config.yaml"
PID_FILE="$RUN_DIR/jaeger.pid"
LOG="$LOG_DIR/jaeger.log"
mkdir -p "$RUN_DIR" "$LOG_DIR" "$DATA_DIR/jaeger"

say() { printf '[tracing] %s\n' "$*"; }
die() { printf '[tracing] ERROR: %s\n' "$*" >&2; exit 1; }

pid_alive() { [ -f "$PID_FILE" ] && kill -0 "$(head -n1 "$PID_FILE")" 2>/dev/null; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
query_ready() { curl -fs -o /dev/null "http://127.0.0.1:$JAEGER_QUERY_PORT/api/services"; }

# Runs a long command in the background, printing a progress line every 30 s so a first
# build (minutes) is visibly alive; `count` names what the log's line count measures.
with_progress() {
  local what="$1" log="$2" count="$3"; shift 3
  local started=$SECONDS next=$((SECONDS + 30))
  "$@" >"$log" 2>&1 &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    if ((SECONDS >= next)); then
      say "  still $what ($((SECONDS - started))s, $(wc -l <"$log") $count)"
      next=$((SECONDS + 30))
    fi
  done
  if ! wait "$pid"; then
    tail -n 30 "$log" >&2
    die "$what failed; see $log"
  fi
}

build() {
  if [ -x "$JAEGER_BIN" ] && [ -f "$JAEGER_CACHE/.complete" ]; then return; fi
  command -v go >/dev/null || die "Go is needed to build Jaeger (Debian: apt-get install golang, or https://go.dev/dl)"
  mkdir -p "$JAEGER_CACHE"
  # Two test runs starting at once must not build into the same folder.
  exec 9>"$JAEGER_CACHE.lock"
  flock 9
  if [ -x "$JAEGER_BIN" ] && [ -f "$JAEGER_CACHE/.complete" ]; then exec 9>&-; return; fi
  local started=$SECONDS
  say "building Jaeger $JAEGER_VERSION with $(go version | cut -d' ' -f3) into $JAEGER_CACHE"
  say "  first build only: downloads the modules and compiles about 1,500 packages (several minutes on 2 cores)"
  (
    cd "$JAEGER_CACHE"
    [ -f go.mod ] || go mod init local.ticketing/jaeger-build >/dev/null 2>&1
  )
  with_progress "downloading modules" "$JAEGER_CACHE/get.log" "log lines" \
    bash -c "cd '$JAEGER_CACHE' && go get -tool '$JAEGER_MODULE/cmd/jaeger@v$JAEGER_VERSION'"
  say "  modules ready ($((SECONDS - started))s); compiling"
  with_progress "compiling" "$JAEGER_CACHE/build.log" "packages compiled" \
    bash -c "cd '$JAEGER_CACHE' && go build -v -trimpath -o jaeger.tmp '$JAEGER_MODULE/cmd/jaeger'"
  mv "$JAEGER_CACHE/jaeger.tmp" "$JAEGER_BIN"
  touch "$JAEGER_CACHE/.complete"
  say "jaeger built in $((SECONDS - started))s"
  exec 9>&-
}

# Jaeger v2 is an OpenTelemetry collector: an OTLP receiver feeds an in-memory trace store
# that the query extension (API and UI) reads. Everything listens on loopback only.
write_config() {
  # The module proxy's source has no built UI, so / shows Jaeger's placeholder page unless
  # JAEGER_UI_ASSETS names a jaeger-ui build (its packages/jaeger-ui/build folder).
  local ui=""
  if [ -n "${JAEGER_UI_ASSETS:-}" ]; then
    [ -f "$JAEGER_UI_ASSETS/index.html" ] || die "JAEGER_UI_ASSETS=$JAEGER_UI_ASSETS has no index.html"
    ui=$'\n    ui:\n      assets_path: '"$JAEGER_UI_ASSETS"
  fi
  cat >"$CONFIG" <<YAML
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn

extensions:
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: $JAEGER_MAX_TRACES
  jaeger_query:
    storage:
      traces: memstore$ui
    http:
      endpoint: 127.0.0.1:$JAEGER_QUERY_PORT
    grpc:
      endpoint: 127.0.0.1:$JAEGER_QUERY_GRPC_PORT

receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:$OTLP_GRPC_PORT
      http:
        endpoint: 127.0.0.1:$OTLP_HTTP_PORT

processors:
  batch:
    timeout: 200ms

exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
YAML
}

start() {
  build
  if query_ready; then
    pid_alive || say "note: a Jaeger this checkout did not start answers on :$JAEGER_QUERY_PORT; reusing it"
    say "jaeger already running (UI http://127.0.0.1:$JAEGER_QUERY_PORT)"; return
  fi
  for port in "$OTLP_GRPC_PORT" "$OTLP_HTTP_PORT" "$JAEGER_QUERY_PORT"; do
    port_open "$port" && die "port $port is taken by something that is not Jaeger; set OTLP_GRPC_PORT, OTLP_HTTP_PORT or JAEGER_QUERY_PORT"
  done
  write_config
  : >"$LOG"
  say "starting jaeger $JAEGER_VERSION (OTLP 127.0.0.1:$OTLP_GRPC_PORT gRPC, :$OTLP_HTTP_PORT HTTP; UI and API :$JAEGER_QUERY_PORT; in-memory)"
  nohup "$JAEGER_BIN" --config "$CONFIG" >>"$LOG" 2>&1 </dev/null &
  echo $! >"$PID_FILE"
  local i
  for ((i = 0; i < 120; i++)); do
    if query_ready && port_open "$OTLP_HTTP_PORT"; then say "jaeger ready"; return; fi
    pid_alive || { tail -n 30 "$LOG" >&2; die "jaeger exited; see $LOG"; }
    sleep 0.25
  done
  tail -n 30 "$LOG" >&2
  die "jaeger did not become ready within 30s; see $LOG"
}

stop() {
  if ! pid_alive; then say "jaeger not running"; rm -f "$PID_FILE"; return; fi
  local pid; pid="$(head -n1 "$PID_FILE")"
  say "stopping jaeger (pid $pid)"
  kill "$pid" 2>/dev/null || true
  local i
  for ((i = 0; i < 60; i++)); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$PID_FILE"; return; }
    sleep 0.25
  done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$PID_FILE"
}

case "${1:-}" in
  build) build; say "jaeger binary: $JAEGER_BIN" ;;
  start) start ;;
  stop) stop ;;
  status)
    if query_ready; then printf '  %-9s up    127.0.0.1:%s (OTLP :%s/:%s)\n' jaeger "$JAEGER_QUERY_PORT" "$OTLP_GRPC_PORT" "$OTLP_HTTP_PORT"
    else printf '  %-9s down  (port %s)%s\n' jaeger "$JAEGER_QUERY_PORT" "$([ -x "$JAEGER_BIN" ] || echo ', not built yet')"; fi
    ;;
  *)
    echo "usage: bash infra/tracing.sh start|stop|status|build" >&2
    exit 2
    ;;
esac
