#!/usr/bin/env bash
# The OpenAPI document against the server it describes, as an integrator's
# tools read it: openapi-spec-validator checks the document, then
# schemathesis generates requests from it (examples, boundary values, random
# valid and invalid data, and stateful sequences following its links:
# event -> seats -> hold -> purchase -> refund) and fails on any answer the
# document does not promise. A signed-in fan and the demo admin are supplied
# through the document's security schemes, so staff routes are exercised
# beyond 401. The WebSocket routes (x-websocket) are left out: they are
# upgrades, not plain HTTP.
#
#   scripts/fuzz.sh [--max-time SECONDS] [--debug | --server PATH] [-- extra `st run` options]
#
# Runs the release server (target/release/server) on a fresh SQLite database
# in demo mode; --debug runs target/debug/server instead. The tools are
# installed, at the versions pinned in tools/fuzz/requirements.txt, in a
# virtualenv under target/ (scripts/fuzz-tools.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

MAX_TIME=150
SERVER=target/release/server
while [ $# -gt 0 ]; do
  case "$1" in
    --max-time) MAX_TIME="$2"; shift 2 ;;
    --debug) SERVER=target/debug/server; shift ;;
    --server) SERVER="$2"; shift 2 ;;
    --) shift; break ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ -x "$SERVER" ] || { echo "build $SERVER first" >&2; exit 1; }

scripts/fuzz-tools.sh
VENV=target/fuzz-venv

WORK="$(mktemp -d /tmp/tessera-fuzz.XXXXXX)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT"
# Demo mode: events to sell, the demo admin, and the test gateway (tok_visa).
# Every request comes from one loopback address: the per-address caps are off.
TESSERA_DEMO=1 LEPTOS_SITE_ADDR="127.0.0.1:$PORT" DATABASE_URL="sqlite://$WORK/tessera.db" \
  TESSERA_TICKET_KEY_FILE="$WORK/ticket.key" TESSERA_CLIENT_LIMITS=off RUST_LOG=warn \
  "$SERVER" >"$WORK/server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 240); do
  curl -fsS "$BASE/healthz" >/dev/null 2>&1 && break
  sleep 0.5
done

# The session cookie's value from a sign-in (or registration) answer.
session_of() {
  curl -fsS -o /dev/null -D - -H 'Content-Type: application/json' -d "$2" "$BASE$1" |
    sed -n 's/^[Ss]et-[Cc]ookie: tessera_session=\([^;]*\).*/\1/p' | tail -1
}
TESSERA_FAN_SESSION="$(session_of /api/auth/register \
  '{"email":"fuzz-fan@example.com","password":"fuzz-fan-password","display_name":"Fuzz fan"}')"
TESSERA_STAFF_SESSION="$(session_of /api/auth/login \
  '{"email":"admin@tessera.test","password":"tessera-demo-admin"}')"
[ -n "$TESSERA_FAN_SESSION" ] && [ -n "$TESSERA_STAFF_SESSION" ] || {
  echo "signing in failed" >&2
  exit 1
}
export TESSERA_FAN_SESSION TESSERA_STAFF_SESSION

curl -fsS "$BASE/api/openapi.json" >"$WORK/openapi.json"
echo "--- openapi-spec-validator ---"
"$VENV/bin/openapi-spec-validator" "$WORK/openapi.json"

echo "--- schemathesis (budget ${MAX_TIME}s) ---"
status=0
"$VENV/bin/st" --config-file tools/fuzz/schemathesis.toml run "$BASE/api/openapi.json" \
  --checks all --exclude-by '/x-websocket == true' --max-time "$MAX_TIME" \
  --seed "${FUZZ_SEED:-1}" --no-color "$@" || status=$?
if [ $status != 0 ]; then
  echo "--- server log (last 40 lines) ---"
  tail -40 "$WORK/server.log"
fi
exit $status
