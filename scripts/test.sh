#!/usr/bin/env bash
# Runs every test Tessera has, on a fresh machine too: installs the toolchain
# (skipped when present), then formatting, lints, unit + integration tests on
# SQLite and on a throwaway PostgreSQL cluster, one release build, the
# end2end suite in headless Chromium against that build, the OpenAPI
# document checked and fuzzed against it, a few-second loadgen smoke run
# against it, the cluster test (three instances on PostgreSQL behind nginx,
# with kills and a rolling restart), and a short crash test (SIGKILLs during
# an onsale paid through the Stripe stand-in).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

started=$(date +%s)
# A from-scratch run gains nothing from incremental compilation, which would
# add ~16 GB of cache to the target directory.
export CARGO_INCREMENTAL=0
# Everything is also logged, to total the test counts at the end.
LOG="$(mktemp /tmp/tessera-test.XXXXXX.log)"
exec > >(tee "$LOG") 2>&1
step() { printf '\n\033[1;32m=== %s\033[0m (at %ss)\n' "$*" "$(($(date +%s) - started))"; }

# A step that runs in the background, at a lower priority than the
# foreground's: its output goes to a file of its own and is printed whole
# when the step is joined, so the log never interleaves two steps' lines. A
# failed background step fails the run when joined.
BG_DIR="$(mktemp -d /tmp/tessera-steps.XXXXXX)"
declare -A BG_PID=() BG_LOG=()
start_bg() {
  local title="$1"; shift
  step "$title (started in the background)"
  BG_LOG[$title]="$BG_DIR/${#BG_PID[@]}.log"
  # At a lower priority, in its own process group (setsid), so a run that
  # stops early stops it too. A new session is also a new scheduler
  # autogroup, whose share `nice` alone does not lower: the group is
  # niced too, or the tests in the foreground get a third of the box.
  setsid bash -c 'echo 10 >/proc/self/autogroup 2>/dev/null || true; exec nice -n 10 "$@"' \
    background "$@" >"${BG_LOG[$title]}" 2>&1 &
  BG_PID[$title]=$!
}
stop_bg() { for pid in "${BG_PID[@]}"; do kill -- "-$pid" 2>/dev/null || true; done; }
trap stop_bg EXIT
join_bg() {
  local title="$1" status=0
  wait "${BG_PID[$title]}" || status=$?
  step "$title (finished)"
  cat "${BG_LOG[$title]}"
  if [ "$status" != 0 ]; then echo "failed: $title (exit $status)"; exit "$status"; fi
}

# Every Rust package but the browser bundle, named the same way for the lint
# and both test runs: cargo unifies dependency features per invocation, and
# the PostgreSQL run with fewer packages compiled the server and its
# dependencies a second time (a few minutes) to run the same tests.
PACKAGES=(-p app -p server -p stripe-stand-in -p crashtest -p loadgen -p clustertest)

step "toolchain"
scripts/setup-toolchain.sh

step "format"
cargo fmt --all -- --check

# The release build starts now, in the background at a lower priority: it
# takes the cores whenever the foreground leaves one idle (a link, a test
# waiting on a database or a socket), and it is what the end2end suite
# waits for. Its two halves run side by side: cargo-leptos builds them one
# after the other when it precompresses, and the bundle's last minutes (its
# one-unit link, wasm-opt, compression) use one core. They share no build
# directory with the tests or each other, and never the lint below (clippy
# would compile the site's crates without MIR optimisation).
start_bg "release build: the browser bundle" \
  env -u RUSTC_WORKSPACE_WRAPPER cargo leptos build --release --precompress --frontend-only
start_bg "release build: the server" \
  env -u RUSTC_WORKSPACE_WRAPPER cargo leptos build --release --server-only

# The fuzzer's Python tools, from PyPI on a fresh checkout: installed now,
# beside the builds, rather than when the fuzz step starts.
start_bg "the fuzzer's tools (openapi-spec-validator, schemathesis)" scripts/fuzz-tools.sh

# Clippy's lints run inside the debug build of the tests: cargo hands the
# workspace's own crates to RUSTC_WORKSPACE_WRAPPER (as `cargo clippy`
# does), here clippy-driver with any warning an error, which lints and then
# compiles them. One pass instead of `cargo clippy` followed by the build,
# which type-checked everything twice (3m53s of lint before, in a fresh
# clone). Every cargo command of the tests below keeps this setting, or it
# would compile the workspace's crates again.
export RUSTC_WORKSPACE_WRAPPER="$PWD/scripts/clippy-rustc.sh"
step "lint (clippy, warnings denied) and build the tests: server, shared crate, Stripe stand-in, crash test, loadgen, cluster test"
cargo test "${PACKAGES[@]}" --all-targets --no-run
# The tools the later steps run against the release server (loadgen, the
# crash and cluster tests, the Stripe stand-in): debug builds from this
# test build's crates. `--tests` keeps the test run's dependency features,
# so only the tools' own binaries are compiled. Built for release, their
# link-time optimisation cost minutes; as test drivers their speed does
# not matter. The benchmarks build them for release (scripts/build-tools.sh).
cargo build "${PACKAGES[@]}" --bins --tests
export TESSERA_TOOLS_DIR=target/debug

step "lint the browser bundle (clippy for wasm, warnings denied)"
cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings

step "unit + integration tests on SQLite"
timeout 1800 cargo test "${PACKAGES[@]}"

step "the same tests on PostgreSQL"
timeout 1800 scripts/with-postgres.sh --no-fsync cargo test "${PACKAGES[@]}"

join_bg "release build: the browser bundle"
join_bg "release build: the server"

step "end2end in headless Chromium"
scripts/e2e.sh

# The fuzzer and the crash test run in the background, beside the smoke and
# cluster runs, at a lower priority. The fuzzer stops at its time limit, so
# it runs fewer cases, never longer; the crash test checks books, not
# speed (a 30 s onsale of 24 buyers, then it waits for retries to drain and
# the reconciler to settle). The cluster test keeps the foreground: its one
# limit is a p99 (250 ms) across instances. The browser suite ran alone before
# them: its clicks and timeouts are the most sensitive to a busy box.
FUZZ="OpenAPI document: openapi-spec-validator, then schemathesis (all checks, 150 s) against the release server"
CRASH="crash test (4 SIGKILLs during an onsale paid through the Stripe stand-in; books checked)"
join_bg "the fuzzer's tools (openapi-spec-validator, schemathesis)"
start_bg "$FUZZ" scripts/fuzz.sh --max-time 150
start_bg "$CRASH" timeout 600 scripts/crash.sh --kills 4

step "loadgen smoke (correctness only: no oversell, no unexpected 5xx)"
scripts/smoke.sh

step "cluster test (3 instances on PostgreSQL behind nginx: cross-instance delay, kill -9s, rolling restart)"
timeout 600 scripts/cluster-test.sh

join_bg "$CRASH"
join_bg "$FUZZ"

step "all tests passed in $(($(date +%s) - started))s"
# One closing line with the totals: cargo's "test result" lines (SQLite and
# PostgreSQL runs) plus Playwright's summary.
sed 's/\x1b\[[0-9;]*m//g' "$LOG" | awk '
  /^test result: / { passed += $4; failed += $6 }
  /^  [0-9]+ passed \(/ { passed += $1 }
  END { printf "tests: %d passed, %d failed\n", passed, failed }'
rm -rf "$LOG" "$BG_DIR"
