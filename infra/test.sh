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
# Headless Chromium for the live page test (gateway/live/live-page.int.test.ts), from Debian's package.
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "[test] installing chromium (apt-get, about a minute)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
      || { echo "[test] ERROR: apt-get install chromium failed" >&2; exit 1; }
  else
    echo "[test] chromium is missing, so the live page test will fail; install it with: sudo apt-get update && sudo apt-get install -y chromium" >&2
  fi
fi
cd "$ROOT"
exec bun test --timeout 120000 "$@"
