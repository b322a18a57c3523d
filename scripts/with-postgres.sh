#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL cluster: starts one on a free
# port (as the `postgres` user: PostgreSQL refuses to run as root), exports
# TEST_DATABASE_URL / PG_URL for the command, and always stops and deletes
# the cluster afterwards.
#
#   scripts/with-postgres.sh cargo test -p server
set -euo pipefail

PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
[ -x "$PG_BIN/initdb" ] || { echo "PostgreSQL server binaries missing: run scripts/setup-toolchain.sh" >&2; exit 1; }

AS_PG=()
if [ "$(id -u)" = "0" ]; then AS_PG=(runuser -u postgres --); fi

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

PORT="${PG_PORT:-$(free_port)}"
# /tmp is traversable by postgres; the data dir must be owned by it.
DATA_DIR="$(mktemp -d /tmp/tessera-pg.XXXXXX)"
chmod 755 "$DATA_DIR"
[ "$(id -u)" = "0" ] && chown postgres:postgres "$DATA_DIR"

cleanup() {
  "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$DATA_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$DATA_DIR"
}
trap cleanup EXIT

"${AS_PG[@]}" "$PG_BIN/initdb" -D "$DATA_DIR/data" -U postgres -A trust --no-sync -E UTF8 >/dev/null
# Durability stays on (synchronous_commit=on, fsync=on): the tests measure the
# real thing. Connections sized for parallel test binaries.
"${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$DATA_DIR/data" -l "$DATA_DIR/server.log" -w -o \
  "-k $DATA_DIR -p $PORT -c listen_addresses=127.0.0.1 -c max_connections=400 -c shared_buffers=256MB" \
  start >/dev/null

export PG_URL="postgres://postgres@127.0.0.1:$PORT/postgres"
export TEST_DATABASE_URL="$PG_URL"
echo "[with-postgres] PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on port $PORT"
"$@"
