#!/usr/bin/env bash
# make chaos-<drill>: a chaos drill on the running native stack, then make verify.
#   tools/chaos/drill.sh DRILL [--seconds 60] [--fault-at 10] [--recover-at 30] [--rate 20]
# DRILL: order-instance|kafka|replica|primary|redis|downstream-500|latency|hang|latency-postgres|pool-exhaustion|retry-storm
# (tools/chaos/fault.sh says what each breaks).
# Needs the stack and the services up (make demo, or make services-up). Exit 0 when the drill ran and every
# invariant holds afterwards; else verify's code (1 an invariant is violated, 2 it could not check), or 1
# when the drill itself could not run.
source "$(dirname "$0")/../../infra/local/lib.sh"

[ $# -ge 1 ] || die "which drill?" "tools/chaos/drill.sh order-instance|kafka|replica|primary|redis|downstream-500|latency|hang|latency-postgres|pool-exhaustion|retry-storm (or make chaos-<drill>)"
have node || die "node not found" "run make deps"
[ -s "$SERVICES_ENV" ] && [ -s "$STACK_ENV" ] && [ -s "$LOCAL_DIR/auth.env" ] ||
  die "the stack is not up (no $SERVICES_ENV)" "run make demo (or make services-up) first; drills break a running stack"
# A drill on a real connection needs the services to reach PostgreSQL through Toxiproxy (CHAOS_PROXIES=on).
if [ "$1" = latency-postgres ] && [ "$(sed -n 's/^CHAOS_PROXIES=//p' "$SERVICES_ENV")" != on ]; then
  say "the $1 drill slows the services' own connections: restarting them through Toxiproxy (CHAOS_PROXIES=on)"
  "$ROOT/infra/local/services-down.sh" >"$LOG_DIR/chaos-services.log" 2>&1 &&
    CHAOS_PROXIES=on "$ROOT/infra/local/services-up.sh" >>"$LOG_DIR/chaos-services.log" 2>&1 ||
    die "the services did not come back up with CHAOS_PROXIES=on" "read $LOG_DIR/chaos-services.log"
  ok "services up, their PostgreSQL, Redis and inventory connections through Toxiproxy (make services-down && make services-up restores direct ones)"
fi
gateway=$(sed -n 's/^GATEWAY_URL=//p' "$SERVICES_ENV")
curl -fsS -o /dev/null --max-time 3 "${gateway:-http://127.0.0.1:8080}/health/ready" ||
  die "the gateway at ${gateway:-http://127.0.0.1:8080} is not ready" "run make services-up (make infra-status shows what is down)"

say "chaos drill: $1"
node --env-file="$STACK_ENV" --env-file="$LOCAL_DIR/auth.env" --env-file="$SERVICES_ENV" "$ROOT/tools/chaos/src/drill.ts" "$@" ||
  die "the drill did not complete" "the lines above say why; make infra-status and make services-up bring the stack back"

say "verify: nothing lost, nothing oversold, nothing duplicated after the drill"
status=0
node --env-file="$STACK_ENV" "$ROOT/tools/verify/src/bin/verify.ts" --wait 120 | sed 's/^/    /' || status=$?
[ "$status" = 0 ] && ok "every invariant holds after the drill" || warn "verify exited $status: docs/runbooks/verify-failed.md"
exit "$status"
