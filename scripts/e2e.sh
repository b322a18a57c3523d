#!/usr/bin/env bash
# Runs the Playwright suite against the release build (target/release/server,
# built by `cargo leptos build --release`) on fresh SQLite databases in demo
# mode (seeded with the demo data, test cards accepted): one server with the
# demo's settings, one whose demo holds last a few seconds (for the expiry
# test), one that takes cards in Stripe's Payment Element, pointed at the
# Stripe stand-in (which serves a stand-in for Stripe.js too), and one for
# the specs that run beside the others (see below). Starts and stops
# them all itself.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

[ -x target/release/server ] || { echo "build first: cargo leptos build --release" >&2; exit 1; }
WORK="$(mktemp -d /tmp/tessera-e2e.XXXXXX)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_server NAME URL_VAR [ENV=VALUE...]: sets URL_VAR to the base URL
# once healthy. Not run in $(...): a subshell would lose the recorded pid,
# and the cleanup would leave the server running.
start_server() {
  local name="$1" url_var="$2"; shift 2
  local port; port="$(free_port)"
  env TESSERA_DEMO=1 "$@" LEPTOS_SITE_ADDR="127.0.0.1:$port" DATABASE_URL="sqlite://$WORK/$name.db" \
    TESSERA_TICKET_KEY_FILE="$WORK/$name.key" RUST_LOG="${RUST_LOG:-info}" \
    target/release/server >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  local pid=$!
  # Poll the health check (the first start seeds a 50,000-seat stadium).
  for _ in $(seq 1 240); do
    if curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then
      printf -v "$url_var" '%s' "http://127.0.0.1:$port"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then break; fi
    sleep 0.5
  done
  cat "$WORK/$name.log" >&2
  echo "server $name never became healthy" >&2
  return 1
}

# Before the servers start: on a fresh target/ this build takes minutes.
scripts/build-tools.sh --quiet
TOOLS="${TESSERA_TOOLS_DIR:-target/release}"
start_server main BASE_URL
start_server short-hold SHORT_HOLD_URL TESSERA_DEMO_HOLD_SECONDS=6
start_server solo SOLO_URL

"$TOOLS/stripe-stand-in" --addr 127.0.0.1:0 >"$WORK/stripe.out" 2>"$WORK/stripe.log" &
PIDS+=($!)
for _ in $(seq 1 100); do
  STRIPE_URL="$(head -1 "$WORK/stripe.out" 2>/dev/null || true)"
  [ -n "$STRIPE_URL" ] && break
  sleep 0.1
done
[ -n "$STRIPE_URL" ] || { echo "the Stripe stand-in did not start" >&2; exit 1; }
start_server card-form CARD_FORM_URL TESSERA_STRIPE_SECRET_KEY=sk_test_standin \
  TESSERA_STRIPE_API_BASE="$STRIPE_URL" TESSERA_STRIPE_PUBLISHABLE_KEY=pk_test_standin \
  TESSERA_STRIPE_JS_URL="$STRIPE_URL/v3/"

# Two Playwright runs side by side, each one test at a time: the "solo"
# project (the waiting room and axe-core specs, mostly waiting on a clock
# or walking nodes) on a server of its own, the rest on the others. The
# solo run's report is printed after the other's, so lines never mix. With
# a filter (`-g ...`) one of the two may find nothing to run.
filter=()
[ $# -gt 0 ] && filter=(--pass-with-no-tests)
cd end2end
export TESSERA_BASE_URL="$BASE_URL" TESSERA_SHORT_HOLD_URL="$SHORT_HOLD_URL" \
  TESSERA_CARD_FORM_URL="$CARD_FORM_URL" TESSERA_SOLO_URL="$SOLO_URL"
npx playwright test --project solo "${filter[@]}" "$@" >"$WORK/solo.out" 2>&1 &
solo=$!
PIDS+=("$solo")
status=0
npx playwright test --project shared "${filter[@]}" "$@" || status=$?
solo_status=0
wait "$solo" || solo_status=$?
cat "$WORK/solo.out"
[ $status -ne 0 ] || status=$solo_status
if [ $status -ne 0 ]; then
  echo "--- server logs (tail) ---"
  tail -n 30 "$WORK"/*.log
fi
exit $status
