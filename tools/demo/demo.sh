#!/usr/bin/env bash
# `make demo`: bootstrap → infrastructure → migrations → catalog seed → services (two instances of order
# and catalog behind the gateway) → the demo's sales → a k6 flash sale → verify → a summary. Leaves the
# stack up and prints its URLs; `make down` stops everything. Every step says what it is doing.
#   DURATION=60s      length of the flash sale's arrival ramp (CI: 20s)
#   USERS=3000        buyers with tokens racing for the hot SKU
#   HOT_UNITS=300     units of the hot sale
source "$(dirname "$0")/../../infra/local/lib.sh"

STEPS=10
step=0
next() {
  step=$((step + 1))
  STEP_STARTED=$(date +%s)
  printf '\n\033[1;35m[%d/%d]\033[0m \033[1m%s\033[0m\n' "$step" "$STEPS" "$*"
}
took() { ok "done in $(($(date +%s) - STEP_STARTED)) s"; }

# shellcheck source=steps.sh
source "$ROOT/tools/demo/steps.sh"
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
create_sales
took

next "flash sale: k6 ${DURATION:-60s} of buyers racing for the hot SKU (k6/scenarios/flash-sale.js)"
degraded_before=$(degradation_episodes)
run_flash_sale
took

next "waiting room: 2,000 buyers over 5 s for 50 units of a sale with a room (k6/scenarios/waiting-room.js)"
run_waiting_room 2000 50 5s
[ "$ROOM_STATUS" = 0 ] || warn "the waiting room crossed a threshold (see above); the invariants decide"
took

next "verify: no oversell, nothing lost, no duplicates, Redis = Postgres, consumers drained"
run_verify "$DEMO_DIR/verify.json"
took

next "summary"
summarize "$DEMO_DIR/verify.json" "$degraded_before" --seconds "$(($(date +%s) - started))"

if [ "$VERIFY_STATUS" != 0 ]; then
  die "verify found broken invariants (listed above); the stack is left up for you to look at" \
    "read docs/runbooks/verify-failed.md; make infra-logs; make verify re-checks"
fi
