#!/usr/bin/env bash
# npm start: dependencies, services, migrations, seed data, then gateway and reserver
# in the foreground until Ctrl-C.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/infra/env.sh"
source "$ROOT/infra/ensure-deps.sh"
bash "$ROOT/infra/services.sh" start
bun "$ROOT/shared/db/migrate-cli.ts"
bun "$ROOT/gateway/seed-cli.ts"
# The local broker accepts consumer sessions from 2 s (services.sh); a reserver killed with -9
# then holds its partitions 3 s instead of the 6 s a stock broker's floor allows.
export RESERVER_SESSION_TIMEOUT_MS="${RESERVER_SESSION_TIMEOUT_MS:-3000}"
exec bun "$ROOT/infra/run-processes.ts"
