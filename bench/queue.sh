#!/usr/bin/env bash
# A queued onsale: the stadium event is put behind a waiting room whose
# onsale is DURATION (+5) seconds away; VISITORS fans, each its own browser
# session, join spread over those seconds and poll their place until they
# are admitted (1,200 a minute, at most 1,500 shopping at once). Prints
# loadgen's JSON: everyone placed, the oldest position shown, the pace
# against the rate, the most active against the cap, the server's memory.
#   cargo build --release -p server --bin server && scripts/build-tools.sh && bench/queue.sh
#   VISITORS=5000 DURATION=20 bench/queue.sh
#   BENCH_POSTGRES=1 scripts/with-postgres.sh bench/queue.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VISITORS="${VISITORS:-50000}"
DURATION="${DURATION:-60}"
source bench/release-server.sh
target/release/loadgen --base-url "$BASE" --event "$EVENT" --queue-visitors "$VISITORS" \
  --duration-secs "$DURATION" --server-pid "$PID" --database-url "$DB" "$@"
