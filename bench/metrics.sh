#!/usr/bin/env bash
# How long a Prometheus scrape of /metrics takes while VIEWERS live viewers
# of the stadium are connected (compact channel) and buyers hold and release
# seats at HOLD_RATE holds/s: SCRAPES scrapes, one every 0.2 s, once the
# viewers are in. Prints the scrape times (curl's time_total, ms) and size.
#   cargo build --release -p server --bin server && scripts/build-tools.sh && bench/metrics.sh
#   HOLD_RATE=0 bench/metrics.sh      # viewers only, no seat changes
#   LISTENER=main bench/metrics.sh    # scrape the site's own listener
# By default the server also serves /metrics on an address of its own
# (TESSERA_METRICS_ADDR, a thread of its own), and that is what is scraped.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VIEWERS="${VIEWERS:-10000}"
HOLD_RATE="${HOLD_RATE:-500}"
SCRAPES="${SCRAPES:-100}"
# Seconds to wait after the last viewer is counted in: the server counts a
# viewer when it subscribes, before its snapshot has gone out.
SETTLE="${SETTLE:-20}"
LISTENER="${LISTENER:-own}"
if [ "$LISTENER" = own ]; then
  METRICS_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  export TESSERA_METRICS_ADDR="127.0.0.1:$METRICS_PORT"
fi
source bench/release-server.sh
if [ "$LISTENER" = own ]; then
  METRICS_URL="http://$TESSERA_METRICS_ADDR/metrics"
else
  METRICS_URL="$BASE/metrics"
fi
LOAD_ARGS=(--base-url "$BASE" --event "$EVENT" --viewers "$VIEWERS" --live-format compact
  --duration-secs 180)
if [ "$HOLD_RATE" -gt 0 ]; then
  LOAD_ARGS+=(--hold-rate "$HOLD_RATE" --buyers 64 --seats-per-hold 2 --mode hold)
else
  # loadgen's default is 64 buyers in a full onsale: none here.
  LOAD_ARGS+=(--buyers 0)
fi
target/release/loadgen "${LOAD_ARGS[@]}" >"$WORK/loadgen.json" 2>"$WORK/loadgen.log" &
LOAD=$!
# Wait until the server counts the viewers in (or 60 s).
for _ in $(seq 1 120); do
  connected="$(curl -fsS "$METRICS_URL" | awk '/^tessera_live_viewers /{print int($2)}')"
  [ "${connected:-0}" -ge "$VIEWERS" ] && break
  sleep 0.5
done
echo "viewers connected: ${connected:-0}; scraping $METRICS_URL after ${SETTLE}s"
sleep "$SETTLE"
for _ in $(seq 1 "$SCRAPES"); do
  curl -fsS -o /dev/null -w '%{time_total} %{size_download}\n' "$METRICS_URL"
  sleep 0.2
done | sort -n | awk '
  { t[NR] = $1 * 1000; size = $2 }
  END {
    printf "scrapes: %d, bytes: %d\n", NR, size
    printf "ms: min %.1f, median %.1f, p90 %.1f, p99 %.1f, max %.1f\n",
      t[1], t[int(NR * 0.5)], t[int(NR * 0.9)], t[int(NR * 0.99)], t[NR]
  }'
kill "$LOAD" 2>/dev/null || true
wait "$LOAD" 2>/dev/null || true
