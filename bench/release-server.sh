# Sourced by the bench scripts: starts the release server on a fresh SQLite
# database in a temporary folder, and stops it (and removes the folder) on
# exit. Sets PORT, BASE, DB, PID, WORK and EVENT (the stadium event).
# BENCH_LOG sets the server's RUST_LOG (default warn; 'warn,sqlx::query=debug'
# logs every statement), and BENCH_KEEP_LOG=FILE keeps its log there.
[ -x target/release/server ] && [ -x target/release/loadgen ] || {
  echo "build first: cargo build --release -p server --bin server && scripts/build-tools.sh" >&2
  exit 1
}
WORK="$(mktemp -d /tmp/tessera-bench.XXXXXX)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT"
# Under scripts/with-postgres.sh (PG_URL set), BENCH_POSTGRES=1 benchmarks a
# fresh database in its throwaway cluster instead of SQLite.
if [ -n "${BENCH_POSTGRES:-}" ]; then
  : "${PG_URL:?BENCH_POSTGRES=1 runs under scripts/with-postgres.sh}"
  DB="${PG_URL%/postgres}/bench"
  psql "$PG_URL" -qc "CREATE DATABASE bench"
else
  DB="sqlite://$WORK/tessera.db"
fi
# The server raises its own open-file limit to the hard limit; so does loadgen.
# Demo mode: the demo stadium to sell, and the test gateway to pay with.
# Every buyer comes from one loopback address: the per-address caps are off.
TESSERA_DEMO=1 LEPTOS_SITE_ADDR="127.0.0.1:$PORT" DATABASE_URL="$DB" TESSERA_TICKET_KEY_FILE="$WORK/ticket.key" \
  TESSERA_CLIENT_LIMITS=off RUST_LOG=${BENCH_LOG:-warn} target/release/server >"$WORK/server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; [ -n "${BENCH_KEEP_LOG:-}" ] && cp "$WORK/server.log" "$BENCH_KEEP_LOG"; rm -rf "$WORK"' EXIT
for _ in $(seq 1 240); do
  curl -fsS "$BASE/healthz" >/dev/null 2>&1 && break
  sleep 0.5
done
EVENT="$(curl -fsS "$BASE/api/events?limit=100" |
  python3 -c "import json,sys; print([e['id'] for e in json.load(sys.stdin)['events'] if e['venue']=='Northgate Stadium'][0])")"
echo "server pid $PID on $BASE, stadium event $EVENT" >&2
