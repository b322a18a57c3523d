#!/usr/bin/env bash
# The cluster test: scripts/cluster.sh's three release servers on one
# PostgreSQL behind nginx, driven by tools/clustertest (cross-instance delay
# p50/p99, throughput against one instance, kill -9s and a rolling restart
# during onsales; books and live maps checked). Prints a JSON summary.
#
#   scripts/cluster-test.sh                 # the CI run
#   scripts/cluster-test.sh --kills 5       # more clustertest flags
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

[ -x target/release/server ] || { echo "build first: cargo leptos build --release" >&2; exit 1; }
cargo build --release -p clustertest
# Its own state directory, so a cluster left by someone else is not touched;
# every buyer comes through nginx from one address: per-address caps off.
export TESSERA_CLUSTER_DIR="${TESSERA_CLUSTER_DIR:-$(mktemp -d /tmp/tessera-cluster-test.XXXXXX)}"
rmdir "$TESSERA_CLUSTER_DIR" 2>/dev/null || true
export TESSERA_CLIENT_LIMITS=off RUST_LOG="${RUST_LOG:-warn,tessera::access=warn}"
trap 'scripts/cluster.sh stop >/dev/null 2>&1 || true' EXIT
target/release/clustertest "$@"
