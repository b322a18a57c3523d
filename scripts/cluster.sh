#!/usr/bin/env bash
# The scale-out topology on one machine, without containers: a throwaway
# PostgreSQL, three release servers on their own ports sharing it, and nginx
# (the distribution's package, run in the foreground of its own process with
# a generated configuration) balancing them. deploy/compose.yaml describes the
# same topology for containers; a test checks the two agree.
#
#   scripts/cluster.sh start       # prints the load balancer's URL last
#   scripts/cluster.sh stop        # stops everything `start` started
#   scripts/cluster.sh kill N      # kill -9 of instance N (1..3)
#   scripts/cluster.sh restart N   # graceful stop of N if running, then start it
#   scripts/cluster.sh url [N|db]  # the load balancer's URL, instance N's, or the database's
#   scripts/cluster.sh status
#
# `start` runs in demo mode unless TESSERA_DEMO=0; every other TESSERA_*
# variable of its environment is passed to every instance (and kept for
# `restart`). Needs `cargo leptos build --release` first. State, logs and the
# database live in $TESSERA_CLUSTER_DIR (default /tmp/tessera-cluster).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=postgres-lib.sh
. "$ROOT/scripts/postgres-lib.sh"

DIR="${TESSERA_CLUSTER_DIR:-/tmp/tessera-cluster}"
INSTANCES=3
# An instance takes traffic once this answers 200 (and not while stopping).
READY_PATH=/readyz
# Another build of the server (a debug one, say) with TESSERA_CLUSTER_SERVER.
SERVER="${TESSERA_CLUSTER_SERVER:-$ROOT/target/release/server}"

log() { printf '[cluster] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# The values `start` chose, read back by every later command.
load_state() {
  [ -f "$DIR/state" ] || die "not running (no $DIR/state): scripts/cluster.sh start"
  # shellcheck source=/dev/null
  . "$DIR/state"
}

check_instance() {
  [[ "$1" =~ ^[1-9][0-9]*$ ]] && [ "$1" -le "$INSTANCES" ] || die "no instance '$1' (1..$INSTANCES)"
}

instance_pid() { cat "$DIR/instance$1.pid" 2>/dev/null || true; }

# A process that has exited but not been reaped (a zombie) is not running.
running() {
  [ -n "$1" ] && kill -0 "$1" 2>/dev/null && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# What instance N is given besides the TESSERA_* variables of `start`'s
# environment, one NAME=VALUE a line. deploy/compose.yaml gives each
# container the same names (a test checks, through `topology`).
instance_env() {
  local port_var="PORT_$1"
  echo "DATABASE_URL=$PG_URL"
  echo "LEPTOS_SITE_ADDR=127.0.0.1:${!port_var}"
  # One signing key for all: sessions and tickets are valid everywhere.
  echo "TESSERA_TICKET_KEY_FILE=$DIR/ticket.key"
  # nginx is the only proxy: its X-Forwarded-For names the client.
  echo "TESSERA_TRUSTED_PROXIES=127.0.0.1/32"
}

# Starts instance N in the background (its own session, so it outlives this
# script and a terminal's ctrl-c), with the environment saved at `start`.
launch_instance() {
  local n="$1" line
  (
    cd "$ROOT"
    # shellcheck source=/dev/null
    . "$DIR/env"
    while IFS= read -r line; do export "${line?}"; done < <(instance_env "$n")
    exec setsid "$SERVER" </dev/null >>"$DIR/instance$n.log" 2>&1
  ) &
  echo $! >"$DIR/instance$n.pid"
}

# Waits until instance N answers /readyz (the first start migrates and, in
# demo mode, seeds a 50,000-seat stadium: allow two minutes).
wait_ready() {
  local n="$1" port_var="PORT_$1" pid
  pid="$(instance_pid "$1")"
  for _ in $(seq 1 480); do
    curl -fsS -o /dev/null "http://127.0.0.1:${!port_var}$READY_PATH" 2>/dev/null && return 0
    running "$pid" || { tail -20 "$DIR/instance$n.log" >&2; die "instance $n exited while starting"; }
    sleep 0.25
  done
  tail -20 "$DIR/instance$n.log" >&2
  die "instance $n not ready after 120 s"
}

write_nginx_conf() {
  local upstreams="" n port_var
  for n in $(seq 1 "$INSTANCES"); do
    port_var="PORT_$n"
    upstreams+="    server 127.0.0.1:${!port_var} max_fails=1 fail_timeout=2s;"$'\n'
  done
  mkdir -p "$DIR/nginx"
  sed -e "s|@LISTEN@|127.0.0.1:$LB_PORT|" -e "s|@DIR@|$DIR/nginx|g" \
    -e "/@UPSTREAMS@/{r /dev/stdin" -e "d}" \
    "$ROOT/deploy/nginx/cluster.conf.in" >"$DIR/nginx/nginx.conf" <<<"$upstreams"
  cp "$ROOT/deploy/nginx/tessera-locations.conf" "$DIR/nginx/"
}

cmd_start() {
  [ -x "$SERVER" ] || die "build first: cargo leptos build --release"
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || die "nginx missing: run scripts/setup-toolchain.sh"
  [ ! -e "$DIR/state" ] || die "already running ($DIR/state): scripts/cluster.sh stop"
  mkdir -p "$DIR"
  chmod 755 "$DIR"
  local pg_port lb_port n
  pg_port="$(free_port)"
  lb_port="${TESSERA_CLUSTER_PORT:-$(free_port)}"
  {
    echo "PG_URL=postgres://postgres@127.0.0.1:$pg_port/postgres"
    echo "LB_PORT=$lb_port"
    for n in $(seq 1 "$INSTANCES"); do echo "PORT_$n=$(free_port)"; done
  } >"$DIR/state.new"
  # Every TESSERA_* variable of this environment, for each start of an instance.
  export TESSERA_DEMO="${TESSERA_DEMO:-1}"
  export -p | grep -E '^declare -x TESSERA_[A-Z0-9_]*=' | grep -v '^declare -x TESSERA_CLUSTER_' |
    sed 's/^declare -x /export /' >"$DIR/env" || true
  mv "$DIR/state.new" "$DIR/state"
  load_state
  started=0
  trap '[ $started = 1 ] || { log "start failed; stopping what started"; cmd_stop; }' EXIT

  pg_start "$DIR/pg" "$pg_port"
  log "PostgreSQL on port $pg_port"
  # Instance 1 alone first: it runs the migrations, seeds the demo data and
  # creates the signing key, which the others then find in place.
  launch_instance 1
  wait_ready 1
  for n in $(seq 2 "$INSTANCES"); do launch_instance "$n"; done
  for n in $(seq 2 "$INSTANCES"); do wait_ready "$n"; done
  write_nginx_conf
  local nginx_bin
  nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"
  setsid "$nginx_bin" -p "$DIR/nginx" -c "$DIR/nginx/nginx.conf" -e "$DIR/nginx/error.log" \
    </dev/null >>"$DIR/nginx/stdout.log" 2>&1 &
  echo $! >"$DIR/nginx.pid"
  for _ in $(seq 1 40); do
    curl -fsS -o /dev/null "http://127.0.0.1:$LB_PORT$READY_PATH" 2>/dev/null && break
    sleep 0.25
  done
  curl -fsS -o /dev/null "http://127.0.0.1:$LB_PORT$READY_PATH" || {
    cat "$DIR/nginx/error.log" >&2
    die "nginx not answering on port $LB_PORT"
  }
  started=1
  log "$INSTANCES instances ready; logs in $DIR"
  echo "http://127.0.0.1:$LB_PORT"
}

# Graceful stop of one process: SIGTERM, then SIGKILL after `grace` seconds.
stop_pid() {
  local pid="$1" grace="$2"
  running "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 $((grace * 10))); do
    running "$pid" || return 0
    sleep 0.1
  done
  log "pid $pid still running after ${grace}s: kill -9"
  kill -KILL "$pid" 2>/dev/null || true
}

cmd_stop() {
  [ -d "$DIR" ] || { log "not running"; return 0; }
  local n
  if [ -f "$DIR/nginx.pid" ]; then
    # SIGQUIT: nginx's graceful shutdown.
    kill -QUIT "$(cat "$DIR/nginx.pid")" 2>/dev/null || true
  fi
  for n in $(seq 1 "$INSTANCES"); do
    if running "$(instance_pid "$n")"; then kill -TERM "$(instance_pid "$n")" 2>/dev/null || true; fi
  done
  for n in $(seq 1 "$INSTANCES"); do stop_pid "$(instance_pid "$n")" 30; done
  [ -f "$DIR/nginx.pid" ] && stop_pid "$(cat "$DIR/nginx.pid")" 10
  pg_stop "$DIR/pg"
  rm -rf "$DIR"
  log "stopped"
}

cmd_kill() {
  load_state
  check_instance "$1"
  local pid
  pid="$(instance_pid "$1")"
  running "$pid" || die "instance $1 is not running"
  kill -KILL "$pid"
  while running "$pid"; do sleep 0.05; done
  log "instance $1 killed (kill -9 of pid $pid)"
}

cmd_restart() {
  load_state
  check_instance "$1"
  # A running instance stops gracefully first (a rolling restart).
  stop_pid "$(instance_pid "$1")" 30
  launch_instance "$1"
  wait_ready "$1"
  log "instance $1 ready again (pid $(instance_pid "$1"))"
}

cmd_url() {
  load_state
  if [ $# -eq 0 ]; then
    echo "http://127.0.0.1:$LB_PORT"
  elif [ "$1" = db ]; then
    echo "$PG_URL"
  else
    check_instance "$1"
    local port_var="PORT_$1"
    echo "http://127.0.0.1:${!port_var}"
  fi
}

# The topology as JSON, for the test that compares it with
# deploy/compose.yaml: needs nothing running.
cmd_topology() {
  local names
  names="$(PG_URL=x PORT_1=0 instance_env 1 | cut -d= -f1 | sed 's/.*/"&"/' | paste -sd, -)"
  printf '{"instances": %d, "ready_path": "%s", "live_path": "/healthz", "instance_env": [%s], ' \
    "$INSTANCES" "$READY_PATH" "$names"
  printf '"default_env": {"TESSERA_DEMO": "1"}, "database": "postgres", "proxy": "nginx", '
  printf '"proxy_locations": "deploy/nginx/tessera-locations.conf"}\n'
}

cmd_status() {
  load_state
  local n port_var state
  echo "load balancer http://127.0.0.1:$LB_PORT (nginx pid $(cat "$DIR/nginx.pid" 2>/dev/null))"
  for n in $(seq 1 "$INSTANCES"); do
    port_var="PORT_$n"
    state=down
    running "$(instance_pid "$n")" && state="up (pid $(instance_pid "$n"))"
    echo "instance $n http://127.0.0.1:${!port_var} $state"
  done
  echo "database ${PG_URL}"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  kill) [ $# -eq 2 ] || die "usage: scripts/cluster.sh kill N"; cmd_kill "$2" ;;
  restart) [ $# -eq 2 ] || die "usage: scripts/cluster.sh restart N"; cmd_restart "$2" ;;
  url) shift; cmd_url "$@" ;;
  status) cmd_status ;;
  topology) cmd_topology ;;
  *) die "usage: scripts/cluster.sh start|stop|kill N|restart N|url [N|db]|status|topology" ;;
esac
