#!/usr/bin/env bash
# Live viewers while seats change: VIEWERS WebSocket viewers of the stadium
# (50,000 seats) connect first, then buyers hold 2 named seats and release
# them at HOLD_RATE holds/s. Each cycle is 4 seat changes (2 held, 2
# available), so the default 500 holds/s is 2,000 changes/s. Prints loadgen's
# JSON: delta delay percentiles, frames, bytes, the server's memory.
#   cargo build --release -p server --bin server && scripts/build-tools.sh && bench/viewers.sh
#   VIEWERS=1000 DURATION=10 bench/viewers.sh --measure-viewers 20
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VIEWERS="${VIEWERS:-10000}"
HOLD_RATE="${HOLD_RATE:-500}"
DURATION="${DURATION:-20}"
BUYERS="${BUYERS:-128}"
source bench/release-server.sh
target/release/loadgen --base-url "$BASE" --event "$EVENT" --viewers "$VIEWERS" \
  --hold-rate "$HOLD_RATE" --buyers "$BUYERS" --seats-per-hold 2 --mode hold \
  --duration-secs "$DURATION" --server-pid "$PID" --database-url "$DB" "$@"
