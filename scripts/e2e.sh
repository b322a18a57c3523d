#!/usr/bin/env bash
# Runs the Playwright suite against the release build (target/release/server,
# built by `cargo leptos build --release`) on a fresh SQLite database seeded
# with the demo data. Starts and stops the server itself.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

[ -x target/release/server ] || { echo "build first: cargo leptos build --release" >&2; exit 1; }
PORT="${E2E_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}"
WORK="$(mktemp -d /tmp/tessera-e2e.XXXXXX)"
BASE_URL="http://127.0.0.1:$PORT"

LEPTOS_SITE_ADDR="127.0.0.1:$PORT" DATABASE_URL="sqlite://$WORK/tessera.db" RUST_LOG="${RUST_LOG:-info}" \
  target/release/server >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
cleanup() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# Poll the health check (the first start seeds a 50,000-seat stadium).
for _ in $(seq 1 240); do
  if curl -fsS "$BASE_URL/healthz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then cat "$WORK/server.log"; echo "server exited" >&2; exit 1; fi
  sleep 0.5
done
curl -fsS "$BASE_URL/healthz" >/dev/null || { cat "$WORK/server.log"; echo "server never became healthy" >&2; exit 1; }

status=0
(cd end2end && TESSERA_BASE_URL="$BASE_URL" npx playwright test) || status=$?
if [ $status -ne 0 ]; then
  echo "--- server log (tail) ---"
  tail -50 "$WORK/server.log"
fi
exit $status
