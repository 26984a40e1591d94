#!/usr/bin/env bash
# npm run gateway:deno: the gateway's own entry point (gateway/main.ts) on Deno 2, the Deno that npm ci
# installed (package.json pins it), against the services the environment names, as `npm run gateway`
# runs it on Bun. The tests (GATEWAY_RUNTIME=deno) and bench/runtimes.ts start it through this script too.
# Permissions: net for the clients and the server; env for the configuration; read for the modules, the
# seating layouts, the live page and @platformatic/kafka's .wasm; write for the development JWT secret
# in the data folder; sys for the host facts the clients read; ffi for @node-rs/argon2's Node-API addon.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec "$ROOT/node_modules/.bin/deno" run --no-lock --no-prompt \
  --allow-net --allow-env --allow-read --allow-write --allow-sys --allow-ffi \
  "$ROOT/gateway/main.ts" "$@"
