#!/usr/bin/env bash
# Crash test: an onsale paid through the Stripe adapter against the local
# Stripe stand-in (150 ms per request, search lagging 75 s), during which
# the release server is killed with SIGKILL at random moments and
# restarted, while buyers retry under their Idempotency-Keys; then the
# books (database and the stand-in's records) are checked: no customer
# charged without tickets, no purchase or hold charged twice, nothing left
# pending, no seat sold twice, every 201 still paid. Prints the JSON
# summary; exits non-zero on any violation.
#
#   scripts/crash.sh                                 # 4 kills (the CI run)
#   scripts/crash.sh --kills 20                      # the long run
#   scripts/crash.sh --kills 20 --seed 42            # repeat a run
#   scripts/crash.sh --kills 20 --postgres           # on a throwaway PostgreSQL
#   scripts/crash.sh --kills 4 --buyers 16 -- --duration-secs 20   # more crashtest flags
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

KILLS=4 BUYERS=24 SEED="" POSTGRES=0
EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --kills) KILLS="$2"; shift 2 ;;
    --buyers) BUYERS="$2"; shift 2 ;;
    --seed) SEED="$2"; shift 2 ;;
    --postgres) POSTGRES=1; shift ;;
    --) shift; EXTRA=("$@"); break ;;
    *) echo "usage: scripts/crash.sh [--kills K] [--buyers B] [--seed S] [--postgres] [-- crashtest flags]" >&2; exit 2 ;;
  esac
done

[ -x target/release/server ] || { echo "build first: cargo leptos build --release" >&2; exit 1; }
scripts/build-tools.sh
TOOLS="${TESSERA_TOOLS_DIR:-target/release}"

ARGS=(--kills "$KILLS" --buyers "$BUYERS" --stand-in-bin "$TOOLS/stripe-stand-in")
[ -n "$SEED" ] && ARGS+=(--seed "$SEED")
if [ "$POSTGRES" = 1 ]; then
  # with-postgres.sh exports PG_URL; crashtest creates a database of its own there.
  exec scripts/with-postgres.sh bash -c 'exec "$0" --database-url "$PG_URL" "$@"' \
    "$TOOLS/crashtest" "${ARGS[@]}" "${EXTRA[@]}"
fi
exec "$TOOLS/crashtest" "${ARGS[@]}" "${EXTRA[@]}"
