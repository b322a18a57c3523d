#!/usr/bin/env bash
# Runs the site for development: installs the toolchain if missing, then
# `cargo leptos watch` on http://127.0.0.1:3000 with the embedded SQLite
# database under data/ (created, migrated and seeded with demo data on first
# start). Edits rebuild and reload the page.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup-toolchain.sh
exec cargo leptos watch
