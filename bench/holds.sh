#!/usr/bin/env bash
# Seat holds per second through the whole server on SQLite: 256 buyers
# (BUYERS) each holding 2 named seats of the stadium and releasing them
# again, for 10 s (SECONDS_RUN). Prints loadgen's JSON (holds/s, latency
# percentiles, statuses, oversold seats read back from the database).
# PERF=1 also records the server's profile for 8 s into $PERF_OUT.
#   cargo build --release -p server --bin server && scripts/build-tools.sh && bench/holds.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUYERS="${BUYERS:-256}"
SECONDS_RUN="${SECONDS_RUN:-10}"
source bench/release-server.sh
if [ -n "${PERF:-}" ]; then
  PERF_OUT="${PERF_OUT:-/tmp/tessera-holds.perf}"
  (sleep 1 && perf record -F 499 -g -p "$PID" -o "$PERF_OUT" -- sleep 8 >/dev/null 2>&1) &
  PERF_PID=$!
fi
target/release/loadgen --base-url "$BASE" --event "$EVENT" --buyers "$BUYERS" --seats-per-hold 2 \
  --mode hold --duration-secs "$SECONDS_RUN" --server-pid "$PID" --database-url "$DB" "$@"
[ -z "${PERF_PID:-}" ] || wait "$PERF_PID"
