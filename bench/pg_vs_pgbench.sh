#!/usr/bin/env bash
# PostgreSQL throughput of holds through the whole server (loadgen) against
# pgbench running the bare claim statement, in the same run on the same
# cluster. Needs the release build and loadgen:
#   cargo leptos build --release && cargo build --release -p server --bin loadgen
#   scripts/with-postgres.sh bench/pg_vs_pgbench.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
: "${PG_URL:?run under scripts/with-postgres.sh}"
OUT="${BENCH_OUT:-/tmp/tessera-bench}"
mkdir -p "$OUT"
DB="${PG_URL%/postgres}/bench"
psql "$PG_URL" -qc "CREATE DATABASE bench"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
LEPTOS_SITE_ADDR="127.0.0.1:$PORT" DATABASE_URL="$DB" RUST_LOG=warn target/release/server >"$OUT/pg-server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.5; done
EVENT="$(curl -s "http://127.0.0.1:$PORT/api/events?limit=100" |
  python3 -c "import json,sys; print([e['id'] for e in json.load(sys.stdin)['events'] if e['venue']=='Northgate Stadium'][0])")"
echo "stadium event $EVENT"
target/release/loadgen --base-url "http://127.0.0.1:$PORT" --event "$EVENT" --buyers 256 --duration-secs 10 \
  --mode hold --database-url "$DB" --json-out "$OUT/pg-hold.json"
kill $PID; wait $PID 2>/dev/null || true
PGBENCH="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)/pgbench"
"$PGBENCH" -n -f bench/hold_statement.sql -D event="$EVENT" -c 32 -j 2 -T 10 "$DB"
