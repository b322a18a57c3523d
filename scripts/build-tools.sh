#!/usr/bin/env bash
# Builds the release tools the test scripts run (loadgen, the crash and
# cluster tests, the Stripe stand-in) in one cargo invocation. Cargo
# resolves a dependency's features per invocation: built one script at a
# time, each tool's own feature set made cargo compile tokio, hyper, syn
# and the crates above them again (39 crate variants by `cargo tree`
# features against 8 for one invocation). Every script asks for the same
# set, so after the first this is a no-op.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release -p loadgen -p crashtest -p clustertest -p stripe-stand-in "$@"
