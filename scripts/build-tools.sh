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
# TESSERA_TOOLS_DIR names tools built elsewhere (scripts/test.sh uses debug
# builds from its test build): the scripts run those, and there is nothing
# to build here.
if [ -n "${TESSERA_TOOLS_DIR:-}" ]; then exit 0; fi
# cargo-leptos compiles the release server with LEPTOS_OUTPUT_NAME set, and
# leptos reads it at compile time: the same value here lets this build reuse
# that one's crates (see bin-cargo-args in Cargo.toml) instead of rebuilding
# leptos and everything above it.
LEPTOS_OUTPUT_NAME="$(awk -F'"' '/^\[\[workspace.metadata.leptos\]\]/ { in_leptos = 1 }
  in_leptos && /^name = / { print $2; exit }' Cargo.toml)"
export LEPTOS_OUTPUT_NAME
cargo build --release -p loadgen -p crashtest -p clustertest -p stripe-stand-in "$@"
