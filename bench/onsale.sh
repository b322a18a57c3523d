#!/usr/bin/env bash
# The full stadium onsale: every one of its 50,000 seats sold, 2 per buyer
# (25,000 buyers, each purchase by a fresh session), until nothing is left.
# Buyers name the next 2 seats of the map; BEST_AVAILABLE=1 makes them ask
# for the best 2 available instead. Prints loadgen's JSON: time to the last
# purchase, purchases/s, and the seats sold, distinct buyers and oversold
# seats read back from the database.
#   cargo build --release -p server --bin server && scripts/build-tools.sh && bench/onsale.sh
#   BUYERS=256 bench/onsale.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUYERS="${BUYERS:-128}"
LIMIT="${LIMIT:-900}"
BEST=()
[ -n "${BEST_AVAILABLE:-}" ] && BEST=(--best-available)
source bench/release-server.sh
target/release/loadgen --base-url "$BASE" --event "$EVENT" --buyers "$BUYERS" --seats-per-hold 2 \
  --mode buy "${BEST[@]}" --until-sold-out --duration-secs "$LIMIT" \
  --server-pid "$PID" --database-url "$DB" "$@"
