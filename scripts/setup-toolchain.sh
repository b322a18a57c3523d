#!/usr/bin/env bash
# Installs, idempotently, every tool Tessera's build and tests need on a fresh
# Debian 12 machine with rustup + node/npm: the wasm target, cargo-leptos,
# the wasm-bindgen CLI matching Cargo.lock, wasm-opt, PostgreSQL server
# binaries, Chromium, nginx, the Playwright client and Python's venv module. Each step is skipped when the
# right version is already present, so running it again costs seconds.
#
# Only package registries are used (crates.io, npm, Debian apt; PyPI for scripts/fuzz.sh): no step
# downloads a prebuilt binary from elsewhere.
#
# TESSERA_SETUP=build installs only what a release build needs (the
# container image's build stage): steps 1-4.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CARGO_LEPTOS_VERSION="0.3.11"
BINARYEN_VERSION="132.0.0"
PLAYWRIGHT_VERSION="1.65.1"

log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }

# Root on CI and dev boxes here; otherwise use sudo when it exists.
SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null; then SUDO="sudo"; fi

apt_updated=0
apt_install() {
  if [ $apt_updated = 0 ]; then
    $SUDO apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@"
}

# Build a cargo tool from its published crate with one lockfile pin, because
# `cargo install --locked` of these exact versions fails on current stable
# (a dependency in their lockfile needs a newer rustc / is missing from the
# index). The pin keeps everything else exactly as its authors locked it.
install_crate_with_pin() {
  local crate="$1" version="$2" pin_pkg="$3" pin_version="$4" profile="$5"
  local work
  work="$(mktemp -d)"
  (cd "$work" && cargo info "$crate@$version" >/dev/null 2>&1 || true)
  local archive
  archive="$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/"$crate-$version.crate" 2>/dev/null | head -1)"
  if [ -z "$archive" ]; then
    log "fetching $crate $version source"
    (cd "$work" && cargo new -q fetcher && cd fetcher && cargo add -q "$crate@=$version" && cargo fetch -q) || true
    archive="$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/"$crate-$version.crate" | head -1)"
  fi
  tar -xzf "$archive" -C "$work"
  (
    cd "$work/$crate-$version"
    cargo update -q -p "$pin_pkg" --precise "$pin_version"
    if [ "$profile" = debug ]; then
      # A tool that only orchestrates other programs: its own speed does
      # not matter, and a debug build takes a third of the time.
      cargo install -q --debug --path . --locked --force
    else
      # Thin, parallel codegen: a tool build does not need fat LTO.
      CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
        cargo install -q --path . --locked --force
    fi
  )
  rm -rf "$work"
}

# 1. wasm target
if ! rustup target list --installed | grep -q '^wasm32-unknown-unknown$'; then
  log "adding wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# 2. cargo-leptos
if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
  log "building cargo-leptos $CARGO_LEPTOS_VERSION (several minutes, once)"
  install_crate_with_pin cargo-leptos "$CARGO_LEPTOS_VERSION" cargo-util-schemas 0.14.1 debug
fi

# 3. wasm-bindgen CLI: must equal the wasm-bindgen crate in Cargo.lock, since
# cargo-leptos uses whatever is on PATH without checking.
WB_VERSION="$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' "$ROOT/Cargo.lock")"
if ! wasm-bindgen --version 2>/dev/null | grep -q " $WB_VERSION\$"; then
  log "building wasm-bindgen-cli $WB_VERSION (several minutes, once)"
  install_crate_with_pin wasm-bindgen-cli "$WB_VERSION" webpki-roots 1.0.10 release
fi

# 4. wasm-opt from npm binaryen (Debian's is too old: the page never hydrates).
if ! wasm-opt --version 2>/dev/null | grep -q "version ${BINARYEN_VERSION%%.*}"; then
  log "installing wasm-opt (binaryen $BINARYEN_VERSION)"
  $SUDO npm install -g --silent "binaryen@$BINARYEN_VERSION"
fi

if [ "${TESSERA_SETUP:-all}" = build ]; then
  log "build toolchain ready"
  exit 0
fi

# 5. PostgreSQL server binaries (tests start a throwaway cluster).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  log "installing PostgreSQL server"
  apt_install postgresql
fi
if ! id postgres >/dev/null 2>&1; then
  $SUDO useradd --system --home /var/lib/postgresql --shell /bin/bash postgres
fi

# 6. Chromium for end2end (never a browser download by Playwright).
if ! [ -x /usr/bin/chromium ]; then
  log "installing Chromium"
  apt_install chromium
fi

# 7. nginx, the load balancer of scripts/cluster.sh (run from a generated
# configuration, never as the system service).
if ! command -v nginx >/dev/null && ! [ -x /usr/sbin/nginx ]; then
  log "installing nginx"
  apt_install nginx
fi

# 8. Playwright test runner and the other end2end packages, pinned in
# end2end/package-lock.json: installed again whenever that file changes.
LOCK_HASH="$(sha256sum "$ROOT/end2end/package-lock.json" | cut -d' ' -f1)"
if ! [ -x "$ROOT/end2end/node_modules/.bin/playwright" ] ||
  ! grep -q "\"version\": \"$PLAYWRIGHT_VERSION\"" "$ROOT/end2end/node_modules/@playwright/test/package.json" 2>/dev/null ||
  [ "$(cat "$ROOT/end2end/node_modules/.tessera-lock-hash" 2>/dev/null)" != "$LOCK_HASH" ]; then
  log "installing the end2end packages"
  (cd "$ROOT/end2end" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --silent --no-audit --no-fund)
  echo "$LOCK_HASH" >"$ROOT/end2end/node_modules/.tessera-lock-hash"
fi

# 9. Python virtualenvs for the OpenAPI checks (scripts/fuzz.sh installs
# openapi-spec-validator and schemathesis from PyPI, pinned in
# tools/fuzz/requirements.txt, into one).
if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  log "installing python3-venv"
  apt_install python3-venv
fi

log "toolchain ready"
