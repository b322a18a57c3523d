#!/usr/bin/env bash
# Runs the site for development: installs the toolchain if missing, then
# `cargo leptos watch` on http://127.0.0.1:3000 with the embedded SQLite
# database under data/, in demo mode: created, migrated and seeded with demo
# data (and the demo admin) on first start, test cards accepted. Edits
# rebuild and reload the page.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup-toolchain.sh
export TESSERA_DEMO=1
exec cargo leptos watch
