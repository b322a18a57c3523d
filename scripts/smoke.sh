#!/usr/bin/env bash
# Loadgen smoke run (a few seconds): an onsale against the release server on
# a fresh SQLite database, failing only on correctness (an oversold seat read
# back from the database, an unexpected 5xx, a reply that does not read as
# the API's types, or a live viewer that never got its snapshot), never on
# speed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/build-tools.sh
TOOLS="${TESSERA_TOOLS_DIR:-target/release}"
[ -x target/release/server ] || { echo "build first: cargo leptos build --release" >&2; exit 1; }
WORK="$(mktemp -d /tmp/tessera-smoke.XXXXXX)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
DB="sqlite://$WORK/tessera.db"
# Demo mode: the demo events to sell, and the test gateway to pay with.
# Every buyer comes from one loopback address: the per-address caps are off.
TESSERA_DEMO=1 LEPTOS_SITE_ADDR="127.0.0.1:$PORT" DATABASE_URL="$DB" TESSERA_TICKET_KEY_FILE="$WORK/ticket.key" RUST_LOG=warn \
  TESSERA_CLIENT_LIMITS=off target/release/server >"$WORK/server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 240); do
  curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.5
done

echo "--- buyers holding named seats and paying, watched by live viewers ---"
"$TOOLS/loadgen" --base-url "http://127.0.0.1:$PORT" --buyers 32 --duration-secs 4 --mode buy \
  --viewers 20 --measure-viewers 5 --database-url "$DB" --check
echo "--- buyers asking for best available seats and paying ---"
"$TOOLS/loadgen" --base-url "http://127.0.0.1:$PORT" --buyers 32 --duration-secs 3 --mode buy \
  --best-available --database-url "$DB" --check
echo "--- buyers holding and releasing on a schedule (--hold-rate) ---"
"$TOOLS/loadgen" --base-url "http://127.0.0.1:$PORT" --buyers 16 --duration-secs 2 --mode hold \
  --hold-rate 200 --database-url "$DB" --check
