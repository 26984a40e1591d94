#!/usr/bin/env bash
# npm test: dependencies and services (reusing running ones), then bun test.
# Extra arguments go to bun test, e.g. `npm test -- shared/seat-finder.test.ts`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/infra/env.sh"
source "$ROOT/infra/ensure-deps.sh"
bash "$ROOT/infra/services.sh" start
cd "$ROOT"
exec bun test --timeout 120000 "$@"
