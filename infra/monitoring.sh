#!/usr/bin/env bash
# npm run monitoring:start|stop|status: a local Prometheus (Debian package `prometheus`) scraping
# npm start's gateway and reserver with the alerting rules of infra/monitoring/alerts.yml.
# Loopback only; UI and API on 127.0.0.1:$PROMETHEUS_PORT (9090), alerts at /alerts; data under .data/prometheus.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/infra/env.sh"
: "${PROMETHEUS_PORT:=9090}"
: "${HOST:=127.0.0.1}"
: "${PORT:=8200}"
: "${METRICS_PORT:=8201}"
PID_FILE="$DATA_DIR/run/prometheus.pid"
LOG="$DATA_DIR/logs/prometheus.log"
CONFIG="$DATA_DIR/prometheus/prometheus.yml"
mkdir -p "$DATA_DIR/run" "$DATA_DIR/logs" "$DATA_DIR/prometheus"

say() { printf '[monitoring] %s\n' "$*"; }
die() { printf '[monitoring] ERROR: %s\n' "$*" >&2; exit 1; }
pid_alive() { [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; }

case "${1:-}" in
  start)
    if pid_alive; then say "prometheus already running (pid $(cat "$PID_FILE")) on 127.0.0.1:$PROMETHEUS_PORT"; exit 0; fi
    command -v prometheus >/dev/null || die "prometheus is missing; install it with: sudo apt-get install -y prometheus"
    bun "$ROOT/infra/monitoring/prometheus-config.ts" "$HOST:$PORT" "$HOST:$METRICS_PORT" "$ROOT/infra/monitoring/alerts.yml" >"$CONFIG"
    nohup prometheus --config.file="$CONFIG" --storage.tsdb.path="$DATA_DIR/prometheus/data" \
      --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" >"$LOG" 2>&1 &
    echo $! >"$PID_FILE"
    for _ in $(seq 1 50); do
      if curl -fs -o /dev/null "http://127.0.0.1:$PROMETHEUS_PORT/-/ready"; then
        say "prometheus on http://127.0.0.1:$PROMETHEUS_PORT (alerts: /alerts, targets: /targets), log $LOG"
        exit 0
      fi
      pid_alive || { tail -n 20 "$LOG" >&2; die "prometheus exited; see $LOG"; }
      sleep 0.2
    done
    die "prometheus not ready after 10 s; see $LOG"
    ;;
  stop)
    if pid_alive; then
      kill "$(cat "$PID_FILE")"
      say "prometheus stopped"
    fi
    rm -f "$PID_FILE"
    ;;
  status)
    if pid_alive; then say "prometheus running (pid $(cat "$PID_FILE")) on 127.0.0.1:$PROMETHEUS_PORT"; else say "prometheus not running"; exit 1; fi
    ;;
  *) die "usage: monitoring.sh start|stop|status" ;;
esac
