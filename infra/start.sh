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
exec bun "$ROOT/infra/run-processes.ts"
