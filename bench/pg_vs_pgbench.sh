#!/usr/bin/env bash
# PostgreSQL throughput of holds through the whole server (loadgen) against
# pgbench running the bare claim statement, in the same run on the same
# cluster. Needs the release build and loadgen:
#   cargo leptos build --release && scripts/build-tools.sh
#   scripts/with-postgres.sh bench/pg_vs_pgbench.sh
#   PERF=1 scripts/with-postgres.sh bench/pg_vs_pgbench.sh   # + profile in $BENCH_OUT
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
: "${PG_URL:?run under scripts/with-postgres.sh}"
OUT="${BENCH_OUT:-/tmp/tessera-bench}"
mkdir -p "$OUT"
DB="${PG_URL%/postgres}/bench"
psql "$PG_URL" -qc "CREATE DATABASE bench"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
# Demo mode: the demo stadium to hold seats in. One loopback address: per-address caps off.
TESSERA_DEMO=1 TESSERA_CLIENT_LIMITS=off LEPTOS_SITE_ADDR="127.0.0.1:$PORT" DATABASE_URL="$DB" RUST_LOG=warn target/release/server >"$OUT/pg-server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.5; done
EVENT="$(curl -s "http://127.0.0.1:$PORT/api/events?limit=100" |
  python3 -c "import json,sys; print([e['id'] for e in json.load(sys.stdin)['events'] if e['venue']=='Northgate Stadium'][0])")"
echo "stadium event $EVENT"
if [ -n "${PERF:-}" ]; then
  # PERF=1: the server's profile for 8 s of the run, and PostgreSQL's CPU
  # share beside it.
  (sleep 1 && perf record -F 499 -g -p "$PID" -o "$OUT/pg-server.perf" -- sleep 8 >/dev/null 2>&1) &
  PERF_PID=$!
  (sleep 2 && top -b -n 1 -w 200 | head -20 >"$OUT/pg-top.txt") &
fi
target/release/loadgen --base-url "http://127.0.0.1:$PORT" --event "$EVENT" --buyers 256 --duration-secs 10 \
  --mode hold --database-url "$DB" --json-out "$OUT/pg-hold.json"
[ -z "${PERF_PID:-}" ] || wait "$PERF_PID"
kill $PID; wait $PID 2>/dev/null || true
PGBENCH="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)/pgbench"
"$PGBENCH" -n -f bench/hold_statement.sql -D event="$EVENT" -c 32 -j 2 -T 10 "$DB"
