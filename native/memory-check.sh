#!/usr/bin/env bash
# Memory safety of the native seat finder, checked under Node (Bun's own allocator and JIT get in
# the way of both tools): an AddressSanitizer + UBSan build of a scratch copy runs the boundary
# checks and a 20,000-case differential with libasan preloaded, then valgrind runs a shorter one
# against the normal build and fails on any error or definite leak.
#
#   bash native/memory-check.sh [cases=20000]      (about 30 s)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cases="${1:-20000}"
bin="$ROOT/node_modules/.bin"
nodedir="$(dirname "$(dirname "$(command -v node)")")"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

"$bin/bun" build "$ROOT/native/node-check.ts" --target=node --outfile="$scratch/node-check.mjs" >/dev/null

echo "[memory-check] AddressSanitizer + UBSan build"
mkdir "$scratch/sanitized"
cp "$ROOT/native/seat_finder.c" "$ROOT/native/binding.gyp" "$scratch/sanitized/"
# The variable goes to configure: rebuild does not pass gyp defines on.
(cd "$scratch/sanitized" && "$bin/node-gyp" configure --nodedir="$nodedir" --loglevel=warn -- -Dsanitize=1 >/dev/null \
  && "$bin/node-gyp" build --loglevel=warn >/dev/null)
# Node itself is not instrumented and leaks by design at exit; leaks are valgrind's part below.
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  LD_PRELOAD="$(gcc -print-file-name=libasan.so)" \
  node "$scratch/node-check.mjs" "$scratch/sanitized/build/Release/seat_finder.node" "$cases" 1

echo "[memory-check] valgrind --leak-check=full on the normal build"
if [ ! -f "$ROOT/native/build/Release/seat_finder.node" ]; then
  echo "[memory-check] native/build/Release/seat_finder.node is missing: run npm install first" >&2
  exit 1
fi
valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite --error-exitcode=9 \
  node "$scratch/node-check.mjs" "$ROOT/native/build/Release/seat_finder.node" "$((cases / 10))" 2
echo "[memory-check] OK: no AddressSanitizer or UBSan report, no valgrind error, no definite leak"
