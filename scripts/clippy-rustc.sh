#!/usr/bin/env bash
# rustc for the workspace's own crates with clippy's lints, any warning an
# error: scripts/test.sh names this as RUSTC_WORKSPACE_WRAPPER (how `cargo
# clippy` itself runs clippy-driver), so its debug build of the tests is
# also the lint and the code is type-checked once, not twice. Cargo calls it
# as `clippy-rustc.sh <path to rustc> <rustc's arguments>`.
exec clippy-driver "$@" -D warnings
