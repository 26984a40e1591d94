#!/usr/bin/env bash
# npm test: dependencies, services and Jaeger (reusing running ones), then bun test.
# Extra arguments go to bun test, e.g. `npm test -- shared/seat-finder.test.ts`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/infra/env.sh"
source "$ROOT/infra/ensure-deps.sh"
bash "$ROOT/infra/services.sh" start
# Jaeger for the trace tests: built once into a cache outside the checkout (about 5 minutes), then started in seconds.
bash "$ROOT/infra/tracing.sh" start
# Debian packages some tests run: installed when missing if we are root, otherwise the command is printed.
ensure_apt_package() { # <binary> <package> <what needs it>
  [ -x "$1" ] && return 0
  if [ "$(id -u)" = 0 ]; then
    echo "[test] installing $2 (apt-get, about a minute)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null \
      || { echo "[test] ERROR: apt-get install $2 failed" >&2; exit 1; }
  else
    echo "[test] $2 is missing, so $3 will fail; install it with: sudo apt-get update && sudo apt-get install -y $2" >&2
  fi
}
# Headless Chromium for the live page test (gateway/live/live-page.int.test.ts).
ensure_apt_package /usr/bin/chromium chromium "the live page test"
# Prometheus and promtool for the alerting rules' tests (infra/monitoring/).
ensure_apt_package /usr/bin/prometheus prometheus "the alerting rules' tests"
cd "$ROOT"
exec bun test --timeout 120000 "$@"
