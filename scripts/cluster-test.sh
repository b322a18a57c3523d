#!/usr/bin/env bash
# The cluster test: scripts/cluster.sh's three release servers on one
# PostgreSQL behind nginx, driven by tools/clustertest (cross-instance delay
# p50/p99, throughput against one instance, kill -9s and a rolling restart
# during onsales; books and live maps checked), paying through the Stripe
# stand-in. Prints a JSON summary.
#
#   scripts/cluster-test.sh                 # the CI run
#   scripts/cluster-test.sh --kills 5       # more clustertest flags
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

[ -x target/release/server ] || { echo "build first: cargo leptos build --release" >&2; exit 1; }
scripts/build-tools.sh
TOOLS="${TESSERA_TOOLS_DIR:-target/release}"
# Its own state directory, so a cluster left by someone else is not touched;
# every buyer comes through nginx from one address: per-address caps off.
export TESSERA_CLUSTER_DIR="${TESSERA_CLUSTER_DIR:-$(mktemp -d /tmp/tessera-cluster-test.XXXXXX)}"
rmdir "$TESSERA_CLUSTER_DIR" 2>/dev/null || true
export TESSERA_CLIENT_LIMITS=off RUST_LOG="${RUST_LOG:-warn,tessera::access=warn}"

# One payment processor for the three instances, as Stripe is one: a buyer
# whose instance is killed mid-payment retries on another, which looks the
# payment up by its id and finishes it. (Demo mode's built-in gateway lives
# in each server's memory and dies with it: nothing could finish those.)
STAND_IN_OUT="$(mktemp /tmp/tessera-cluster-stripe.XXXXXX)"
"$TOOLS/stripe-stand-in" --addr 127.0.0.1:0 --latency-ms 20 >"$STAND_IN_OUT" &
STAND_IN_PID=$!
trap 'scripts/cluster.sh stop >/dev/null 2>&1 || true; kill "$STAND_IN_PID" 2>/dev/null || true; rm -f "$STAND_IN_OUT"' EXIT
for _ in $(seq 100); do [ -s "$STAND_IN_OUT" ] && break; sleep 0.1; done
TESSERA_STRIPE_API_BASE="$(head -n1 "$STAND_IN_OUT")"
[ -n "$TESSERA_STRIPE_API_BASE" ] || { echo "the Stripe stand-in did not start" >&2; exit 1; }
export TESSERA_STRIPE_API_BASE TESSERA_STRIPE_SECRET_KEY=sk_test_standin
"$TOOLS/clustertest" "$@"
