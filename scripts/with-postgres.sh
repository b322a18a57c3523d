#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL cluster: starts one on a free
# port (as the `postgres` user: PostgreSQL refuses to run as root), exports
# TEST_DATABASE_URL / PG_URL for the command, and always stops and deletes
# the cluster afterwards.
#
#   scripts/with-postgres.sh [--no-fsync] cargo test -p server
set -euo pipefail
# shellcheck source=postgres-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/postgres-lib.sh"

PORT="${PG_PORT:-$(free_port)}"
DATA_DIR="$(mktemp -d /tmp/tessera-pg.XXXXXX)"
trap 'pg_stop "$DATA_DIR"' EXIT
# --no-fsync: the cluster does not wait for the disk at each commit. That
# changes what survives a crash of the machine, nothing a query can see: for
# test runs (scripts/test.sh), never for benchmarks, which measure the real
# thing.
SETTINGS=()
if [ "${1:-}" = "--no-fsync" ]; then
  SETTINGS=(fsync=off synchronous_commit=off full_page_writes=off)
  shift
fi
pg_start "$DATA_DIR" "$PORT" "${SETTINGS[@]}"

export PG_URL="postgres://postgres@127.0.0.1:$PORT/postgres"
export TEST_DATABASE_URL="$PG_URL"
echo "[with-postgres] PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on port $PORT"
"$@"
