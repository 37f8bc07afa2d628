# shellcheck shell=bash
# The steps `make demo` (demo.sh) and the end-to-end phase of `make test` (e2e-flash-sale.sh) share.
# Sourced after infra/local/lib.sh; never run.

DEMO_DIR="$LOCAL_DIR/demo"
K6_LATEST="$ROOT/k6/results/flash-sale.latest.json"
BURST_LATEST="$ROOT/k6/results/burst.latest.json"
ROOM_LATEST="$ROOT/k6/results/waiting-room.latest.json"
mkdir -p "$DEMO_DIR"

# Degradation episodes the gateway has counted since it started (the summary shows one run's difference).
degradation_episodes() {
  { curl -fsS -m 3 "http://127.0.0.1:$GATEWAY_PORT/metrics" 2>/dev/null || true; } |
    awk '/^gateway_degradation_changes_total\{.*state="degraded"/ {s += $NF} END {print s + 0}'
}

# create_sales [HOT_UNITS]: a fresh hot sale (and the ordinary ones once), written to .local/demo.env.
create_sales() {
  HOT_UNITS=${1:-${HOT_UNITS:-300}} node --env-file="$STACK_ENV" --env-file="$LOCAL_DIR/auth.env" "$ROOT/tools/demo/src/create-sales.ts"
}

# run_flash_sale: k6's flash-sale scenario (DURATION, USERS from the environment). A crossed threshold is
# reported, not fatal: what decides is verify (and, in the e2e phase, that orders got through).
run_flash_sale() {
  rm -f "$K6_LATEST" # never summarise a previous run
  local status=0
  mark_event demo "flash sale starts (k6, ${DURATION:-60s})"
  "$ROOT/k6/run.sh" flash-sale || status=$?
  mark_event demo "flash sale ends"
  [ "$status" = 0 ] || warn "k6 exited $status: a threshold was crossed (see above); the invariants decide"
}

# run_burst BUYERS STOCK: k6's burst scenario: a fresh sale of STOCK units of its own, BUYERS buyers at the
# same instant, one attempt each. Sets BURST_STATUS: 0 its thresholds held, 99 one was crossed (its summary
# prints FAIL lines); any other exit means the burst could not run (its sale, the tokens), which stops here.
# The scenario creates its sale as an admin: DEMO_ADMIN_SECRET and INVENTORY_URLS come from services.env.
run_burst() {
  rm -f "$BURST_LATEST" # never report a previous run
  BURST_STATUS=0
  mark_event demo "burst: $1 buyers for $2 units"
  (
    set -a
    [ ! -f "$SERVICES_ENV" ] || source "$SERVICES_ENV"
    set +a
    BUYERS=$1 STOCK=$2 exec "$ROOT/k6/run.sh" burst
  ) || BURST_STATUS=$?
  [ "$BURST_STATUS" = 0 ] || [ "$BURST_STATUS" = 99 ] ||
    die "the k6 burst could not run (k6 exited $BURST_STATUS; the lines above say why)" "make infra-status; make services-up; DEMO_ADMIN_SECRET must be in $SERVICES_ENV"
}

# run_waiting_room BUYERS STOCK ARRIVAL: k6's waiting-room scenario: a fresh sale of STOCK units with a
# waiting room, BUYERS buyers arriving over ARRIVAL. Its time threshold (every buyer answered within 2 s) is
# reported, not enforced (TIME_THRESHOLDS=0: a wall clock is not a test); its counts are: every unit sold, no
# 503 in the room, no FIFO inversion. Sets ROOM_STATUS like run_burst sets BURST_STATUS.
run_waiting_room() {
  rm -f "$ROOM_LATEST"
  ROOM_STATUS=0
  mark_event demo "waiting room: $1 buyers over $3 for $2 units"
  (
    set -a
    [ ! -f "$SERVICES_ENV" ] || source "$SERVICES_ENV"
    set +a
    BUYERS=$1 STOCK=$2 ARRIVAL=$3 VUS=${ROOM_VUS:-20} TIME_THRESHOLDS=0 exec "$ROOT/k6/run.sh" waiting-room
  ) || ROOM_STATUS=$?
  [ "$ROOM_STATUS" = 0 ] || [ "$ROOM_STATUS" = 99 ] ||
    die "the k6 waiting room could not run (k6 exited $ROOM_STATUS; the lines above say why)" "make infra-status; make services-up; DEMO_ADMIN_SECRET must be in $SERVICES_ENV"
}

# run_verify JSON: make verify, its report kept in JSON; sets VERIFY_STATUS (0 = every invariant holds).
run_verify() {
  rm -f "$1"
  VERIFY_STATUS=0
  node --env-file="$STACK_ENV" "$ROOT/tools/verify/src/bin/verify.ts" --wait 90 --json "$1" | sed 's/^/    /' || VERIFY_STATUS=$?
  [ -f "$1" ] || die "verify could not read the stack (see above)" "make infra-status; make infra-logs"
}

# summarize VERIFY_JSON DEGRADATIONS_BEFORE [summary.ts options...]
summarize() {
  local verify_json=$1 before=$2
  shift 2
  node "$ROOT/tools/demo/src/summary.ts" --k6 "$K6_LATEST" --verify "$verify_json" --demo-env "$LOCAL_DIR/demo.env" \
    --services-env "$SERVICES_ENV" --stack-env "$STACK_ENV" --degraded-before "$before" "$@"
}
