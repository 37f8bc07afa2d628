#!/usr/bin/env bash
# The last phase of `make test` (and CI): the real services end to end. Starts them (or uses the ones
# already running, like with-stack.sh does for the infrastructure), creates a fresh hot sale, runs a short
# k6 flash sale through the gateway, then `verify`. Fails when an invariant is violated or no order got
# through. k6's latency thresholds are reported but do not fail the build: these machines are shared and
# noisy, and a wall-clock threshold is not a test (the benchmarks measure speed, as ratios).
#   E2E_DURATION=20s E2E_USERS=1000 E2E_HOT_UNITS=100
source "$(dirname "$0")/../../infra/local/lib.sh"

# shellcheck source=steps.sh
source "$ROOT/tools/demo/steps.sh"
say "end to end: a ${E2E_DURATION:-20s} flash sale through the real services, then verify"

if curl -fsS -o /dev/null -m 2 "http://127.0.0.1:$GATEWAY_PORT/health/ready" 2>/dev/null; then
  ok "using the services that are already running (make services-down stops them)"
else
  trap '"$ROOT/infra/local/services-down.sh"' EXIT
  "$ROOT/infra/local/services-up.sh"
fi

create_sales "${E2E_HOT_UNITS:-100}"
degraded_before=$(degradation_episodes)
DURATION=${E2E_DURATION:-20s} USERS=${E2E_USERS:-1000} run_flash_sale
run_verify "$DEMO_DIR/e2e-verify.json"
summarize "$DEMO_DIR/e2e-verify.json" "$degraded_before" --e2e
[ "$VERIFY_STATUS" = 0 ] || die "end to end: verify found broken invariants after the flash sale (listed above)" "read docs/runbooks/verify-failed.md; the services' logs are in $LOG_DIR"
ok "end to end: orders went through and every invariant holds"
