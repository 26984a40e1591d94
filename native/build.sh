#!/usr/bin/env bash
# The root package's npm `install` script: builds native/seat_finder.c offline against the
# running Node's own headers (--nodedir, so node-gyp downloads nothing). A failed build must not
# fail the install: the reserver then runs the TypeScript seat finder and its log says so.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
# npm puts node_modules/.bin on PATH for its scripts; this makes `bash native/build.sh` work by hand too.
PATH="$PWD/../node_modules/.bin:$PATH"
nodedir="$(dirname "$(dirname "$(command -v node)")")"
if [ ! -f "$nodedir/include/node/node_api.h" ]; then
  echo "[native] no Node headers under $nodedir/include/node; skipping the native seat finder (the TypeScript one will run)"
  exit 0
fi
if node-gyp rebuild --nodedir="$nodedir" --loglevel=warn "$@"; then
  echo "[native] built native/build/Release/seat_finder.node (the reserver's native seat finder)"
else
  echo "[native] WARNING: building the native seat finder failed; the reserver will run the TypeScript seat finder" >&2
fi
exit 0
