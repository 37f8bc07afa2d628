#!/usr/bin/env bash
# The last phase of `make test` (and CI): the real services end to end. Starts them (or uses the ones
# already running, like with-stack.sh does for the infrastructure), creates a fresh hot sale, runs a short
# k6 flash sale through the gateway, then `verify`. Fails when an invariant is violated or no order got
# through. k6's latency thresholds are reported but do not fail the build: these machines are shared and
# noisy, and a wall-clock threshold is not a test (the benchmarks measure speed, as ratios).
#   E2E_DURATION=20s E2E_USERS=1000 E2E_HOT_UNITS=100
source "$(dirname "$0")/../../infra/local/lib.sh"
# kafkajs 2.2.4 schedules negative timeouts on Node >= 22: a harmless warning on every start.
export NODE_OPTIONS="${NODE_OPTIONS:---disable-warning=TimeoutNegativeWarning}"

DEMO_DIR="$LOCAL_DIR/demo"
mkdir -p "$DEMO_DIR"
say "end to end: a ${E2E_DURATION:-20s} flash sale through the real services, then verify"

if curl -fsS -o /dev/null -m 2 "http://127.0.0.1:$GATEWAY_PORT/health/ready" 2>/dev/null; then
  ok "using the services that are already running (make services-down stops them)"
else
  trap '"$ROOT/infra/local/services-down.sh"' EXIT
  "$ROOT/infra/local/services-up.sh"
fi

HOT_UNITS=${E2E_HOT_UNITS:-100} node --env-file="$STACK_ENV" --env-file="$LOCAL_DIR/auth.env" "$ROOT/tools/demo/src/create-sales.ts"

# Degradation episodes are counted by the gateway since it started; the summary shows this run's.
degraded_before=$(curl -fsS -m 3 "http://127.0.0.1:$GATEWAY_PORT/metrics" 2>/dev/null | awk '/^gateway_degradation_changes_total\{.*state="degraded"/ {s += $NF} END {print s + 0}') || degraded_before=0
rm -f "$ROOT/k6/results/flash-sale.latest.json" # never summarise a previous run
k6_status=0
DURATION=${E2E_DURATION:-20s} USERS=${E2E_USERS:-1000} "$ROOT/k6/run.sh" flash-sale || k6_status=$?
[ "$k6_status" = 0 ] || warn "k6 exited $k6_status (a threshold crossed, see above); the build is decided by verify and the outcome counts"

verify_status=0
node --env-file="$STACK_ENV" "$ROOT/tools/verify/src/bin/verify.ts" --wait 90 --json "$DEMO_DIR/e2e-verify.json" | sed 's/^/    /' || verify_status=$?
[ -f "$DEMO_DIR/e2e-verify.json" ] || die "verify could not read the stack (see above)" "make infra-status"

node "$ROOT/tools/demo/src/summary.ts" --k6 "$ROOT/k6/results/flash-sale.latest.json" --verify "$DEMO_DIR/e2e-verify.json" \
  --demo-env "$LOCAL_DIR/demo.env" --services-env "$LOCAL_DIR/services.env" --degraded-before "$degraded_before" --e2e
[ "$verify_status" = 0 ] || die "end to end: verify found broken invariants after the flash sale (listed above)" "read docs/runbooks/verify-failed.md; the services' logs are in $LOG_DIR"
ok "end to end: orders went through and every invariant holds"
