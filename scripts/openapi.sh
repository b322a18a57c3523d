#!/usr/bin/env bash
# Writes docs/openapi.json: the OpenAPI document the server serves at
# GET /api/openapi.json, printed by `server openapi` (no database, no
# listening socket). Run it after changing a route or a wire type, and
# commit the result with the change.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

OUT=docs/openapi.json
trap 'rm -f "$OUT.tmp"' EXIT
# The server logs to standard output: keep the log out of the document.
RUST_LOG=off cargo run --quiet -p server --bin server -- openapi >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "wrote $OUT"
