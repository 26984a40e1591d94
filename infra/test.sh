#!/usr/bin/env bash
# npm test: dependencies, services and Jaeger (reusing running ones), then bun test, then the gateway's
# integration tests once more against the gateway on Deno (GATEWAY_RUNTIME=deno, see testing/gateway.ts).
# Extra arguments go to bun test, e.g. `npm test -- shared/seat-finder.test.ts`, and skip the Deno run.
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
if [ "$#" -gt 0 ]; then exec bun test --timeout 120000 "$@"; fi
status=0
bun test --timeout 120000 || status=$?
# The gateway's integration tests whose gateway can run in a process of its own, and the end-to-end tracing
# test (a trace from the gateway on Deno to the reserver on Bun, in Jaeger); the others replace one of the
# gateway's dependencies in this process (degraded, health, http-observability). .ci/run adds up both runs' counts.
DENO_GATEWAY_TESTS=(
  gateway/app.int.test.ts gateway/booking-routes.int.test.ts gateway/create-event.int.test.ts gateway/event-routes.int.test.ts
  gateway/http-limits.int.test.ts gateway/user-routes.int.test.ts gateway/live/live-routes.int.test.ts gateway/live/live-page.int.test.ts
  infra/observability.int.test.ts
)
echo "[test] the gateway's integration tests again, the gateway on Deno $("$ROOT/node_modules/.bin/deno" --version | head -n1 | cut -d' ' -f2)"
GATEWAY_RUNTIME=deno bun test --timeout 120000 "${DENO_GATEWAY_TESTS[@]}" || status=$?
exit "$status"
