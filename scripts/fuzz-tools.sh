#!/usr/bin/env bash
# Installs the OpenAPI checkers scripts/fuzz.sh runs (openapi-spec-validator
# and schemathesis, at the versions pinned in tools/fuzz/requirements.txt)
# into a virtualenv under target/; a no-op once they are there. Run by
# fuzz.sh, and by scripts/test.sh at its start, beside the builds, so a
# fresh checkout's fuzz step does not wait for PyPI.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

VENV=target/fuzz-venv
if ! cmp -s tools/fuzz/requirements.txt "$VENV/requirements.txt" 2>/dev/null; then
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r tools/fuzz/requirements.txt
  cp tools/fuzz/requirements.txt "$VENV/requirements.txt"
fi
