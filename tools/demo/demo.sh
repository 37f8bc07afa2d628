#!/usr/bin/env bash
# `make demo`: bootstrap → infrastructure → migrations → catalog seed → services (two instances of order
# and catalog behind the gateway) → the demo's sales → a k6 flash sale → verify → a summary. Leaves the
# stack up and prints its URLs; `make down` stops everything. Every step says what it is doing.
#   DURATION=60s      length of the flash sale's arrival ramp (CI: 20s)
#   USERS=3000        buyers with tokens racing for the hot SKU
#   HOT_UNITS=300     units of the hot sale
source "$(dirname "$0")/../../infra/local/lib.sh"
# kafkajs 2.2.4 schedules negative timeouts on Node >= 22: a harmless warning on every start.
export NODE_OPTIONS="${NODE_OPTIONS:---disable-warning=TimeoutNegativeWarning}"

STEPS=9
step=0
next() {
  step=$((step + 1))
  STEP_STARTED=$(date +%s)
  printf '\n\033[1;35m[%d/%d]\033[0m \033[1m%s\033[0m\n' "$step" "$STEPS" "$*"
}
took() { ok "done in $(($(date +%s) - STEP_STARTED)) s"; }

DEMO_DIR="$LOCAL_DIR/demo"
mkdir -p "$DEMO_DIR"
started=$(date +%s)

next "bootstrap: install what is missing (Node 24, npm packages, PostgreSQL, Redis, Kafka, k6, Toxiproxy)"
"$ROOT/infra/local/bootstrap.sh"
took

next "infrastructure: PostgreSQL primary + 2 streaming replicas, Redis, Kafka (KRaft), Toxiproxy"
"$ROOT/infra/local/up.sh"
took

next "migrations: every service's schema on the primary"
node --env-file="$STACK_ENV" "$ROOT/tools/demo/src/migrate.ts"
took

next "seed: the catalog (10,000 products, deterministic), its Bloom filter and cache invalidations"
node --env-file="$STACK_ENV" "$ROOT/services/catalog/src/bin/seed.ts" --seed 42 --count 10000 | sed 's/^/    /'
took

next "services: inventory, catalog ×2, order ×2 + worker, review + projector, gateway"
"$ROOT/infra/local/services-up.sh"
took

next "sales: a fresh hot flash sale and a few ordinary ones, through the inventory admin API"
node --env-file="$STACK_ENV" --env-file="$LOCAL_DIR/auth.env" "$ROOT/tools/demo/src/create-sales.ts"
took

next "flash sale: k6 ${DURATION:-60s} of buyers racing for the hot SKU (k6/scenarios/flash-sale.js)"
# Degradation episodes are counted by the gateway since it started; the summary shows this run's.
degraded_before=$(curl -fsS -m 3 "http://127.0.0.1:$GATEWAY_PORT/metrics" 2>/dev/null | awk '/^gateway_degradation_changes_total\{.*state="degraded"/ {s += $NF} END {print s + 0}') || degraded_before=0
rm -f "$ROOT/k6/results/flash-sale.latest.json" # never summarise a previous run
k6_status=0
make --no-print-directory -C "$ROOT" load-flash-sale || k6_status=$?
[ "$k6_status" = 0 ] || warn "k6 exited $k6_status: a threshold was crossed (see the summary above); verifying anyway"
took

next "verify: no oversell, nothing lost, no duplicates, Redis = Postgres, consumers drained"
verify_status=0
node --env-file="$STACK_ENV" "$ROOT/tools/verify/src/bin/verify.ts" --wait 90 --json "$DEMO_DIR/verify.json" | sed 's/^/    /' || verify_status=$?
[ -f "$DEMO_DIR/verify.json" ] || die "verify could not read the stack (see above)" "make infra-status; make infra-logs"
took

next "summary"
node "$ROOT/tools/demo/src/summary.ts" \
  --k6 "$ROOT/k6/results/flash-sale.latest.json" --verify "$DEMO_DIR/verify.json" --demo-env "$LOCAL_DIR/demo.env" \
  --services-env "$LOCAL_DIR/services.env" --degraded-before "$degraded_before" --seconds "$(($(date +%s) - started))"

if [ "$verify_status" != 0 ]; then
  die "verify found broken invariants (listed above); the stack is left up for you to look at" \
    "read docs/runbooks/verify-failed.md; make infra-logs; make verify re-checks"
fi
