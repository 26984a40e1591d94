# Sourced by start.sh and test.sh: installs the npm dependencies (Bun among them) when
# node_modules is missing or older than package-lock.json.
if [ ! -x "$ROOT/node_modules/.bin/bun" ] || [ "$ROOT/package-lock.json" -nt "$ROOT/node_modules/.package-lock.json" ]; then
  echo "[setup] installing npm dependencies (Bun, Elysia, kafkajs, ioredis, postgres)"
  (cd "$ROOT" && npm install --no-audit --no-fund) || { echo "[setup] ERROR: npm install failed" >&2; exit 1; }
fi
export PATH="$ROOT/node_modules/.bin:$PATH"
