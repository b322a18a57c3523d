# Shell functions for a throwaway PostgreSQL cluster, sourced by
# with-postgres.sh (one command's lifetime) and cluster.sh (until `stop`).
# PostgreSQL refuses to run as root, so as root the cluster runs as the
# `postgres` user.

PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
AS_PG=()
if [ "$(id -u)" = "0" ]; then AS_PG=(runuser -u postgres --); fi

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# pg_start DIR PORT [SETTING...]: a new cluster in DIR (which must not
# exist), listening on 127.0.0.1:PORT, trusted local access as `postgres`;
# each SETTING (name=value) is passed to the server as `-c SETTING`.
pg_start() {
  local dir="$1" port="$2" setting extra=""
  shift 2
  for setting in "$@"; do extra+=" -c $setting"; done
  [ -x "$PG_BIN/initdb" ] || { echo "PostgreSQL server binaries missing: run scripts/setup-toolchain.sh" >&2; return 1; }
  # /tmp is traversable by postgres; the data dir must be owned by it.
  mkdir -p "$dir"
  chmod 755 "$dir"
  if [ "$(id -u)" = "0" ]; then chown postgres:postgres "$dir"; fi
  "${AS_PG[@]}" "$PG_BIN/initdb" -D "$dir/data" -U postgres -A trust --no-sync -E UTF8 >/dev/null
  # Durability is on unless the caller's settings say otherwise.
  # Connections sized for parallel test binaries.
  "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o \
    "-k $dir -p $port -c listen_addresses=127.0.0.1 -c max_connections=400 -c shared_buffers=256MB$extra" \
    start >/dev/null
}

# pg_stop DIR: stops the cluster in DIR (if running) and deletes DIR.
pg_stop() {
  local dir="$1"
  "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
