#!/usr/bin/env bash
# ctest jwt.vectors: mints fresh tokens with npm jose into a temporary directory, then checks
# each with jwt_vectors (the path of which is $1).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -d "$here/node_modules/jose" ]; then
  echo "npm jose is missing: run npm ci --prefix tests/jwt" >&2
  exit 1
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
node "$here/mint.mjs" "$dir"
"$1" "$dir/jwks.json" "$dir/cases.json"
