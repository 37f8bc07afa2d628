#!/usr/bin/env bash
# k6/run.sh SCENARIO [k6 args...]: runs k6/scenarios/SCENARIO.js against the running stack (make load-*).
# The gateway URL comes from .local/services.env (make services-up writes it; default http://127.0.0.1:8080);
# the hot sale from the environment (SKU, SALE_ID, STOCK) or else from .local/demo.env (HOT_SKU,
# HOT_SALE_ID, HOT_STOCK: the demo's seed step writes it). Every other knob is an environment variable
# the scenario reads (DURATION=20s make load-flash-sale); see k6/README.md. Results: k6/results/.
source "$(dirname "$0")/../infra/local/lib.sh"

scenario=${1:?usage: k6/run.sh SCENARIO [k6 args...]}
shift
script="$ROOT/k6/scenarios/$scenario.js"
[ -f "$script" ] || die "no scenario $scenario ($script)" "pick one of: $(cd "$ROOT/k6/scenarios" && ls ./*.js | sed 's|^\./||; s|\.js$||' | tr '\n' ' ')"
have k6 || die "k6 not found" "run make deps (it builds k6 $K6_VERSION into .local/tools/bin)"

# env_from FILE NAME [AS]: export AS (default NAME) from FILE's NAME=value, unless AS is already set.
env_from() {
  local file=$1 name=$2 as=${3:-$2} value
  [ -z "${!as:-}" ] && [ -f "$file" ] || return 0
  value=$(sed -n "s/^$name=//p" "$file" | tail -n 1)
  [ -z "$value" ] || export "$as=$value"
}
env_from "$SERVICES_ENV" GATEWAY_URL
export GATEWAY_URL=${GATEWAY_URL:-http://127.0.0.1:$GATEWAY_PORT}
DEMO_ENV="$LOCAL_DIR/demo.env"
env_from "$DEMO_ENV" HOT_SKU SKU
env_from "$DEMO_ENV" HOT_SALE_ID SALE_ID
env_from "$DEMO_ENV" HOT_STOCK STOCK

curl -fsS -o /dev/null -m 3 "$GATEWAY_URL/health/ready" 2>/dev/null ||
  die "the gateway at $GATEWAY_URL is not answering GET /health/ready" "run make services-up (or make demo) first; make infra-status shows what runs"
case "$scenario" in
flash-sale | bots)
  [ -n "${SKU:-}" ] || die "$scenario needs the SKU of an open sale: SKU is not set and $DEMO_ENV has no HOT_SKU" \
    "run make demo (its seed step writes HOT_SKU), or create a sale (k6/README.md) and run SKU=<sku> make load-$scenario"
  ;;
esac

mkdir -p "$ROOT/k6/results"
say "k6 $scenario → $GATEWAY_URL${SKU:+ (sku $SKU)}"
quiet=()
[ -t 1 ] || quiet=(--quiet) # no progress bar in CI logs; the summary still prints
cd "$ROOT"
exec k6 run "${quiet[@]}" "$@" "k6/scenarios/$scenario.js"
