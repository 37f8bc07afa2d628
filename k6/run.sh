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

# k6's built-in web dashboard (https://grafana.com/docs/k6/latest/results-output/web-dashboard/): live while the
# run lasts, and a self-contained HTML report (it opens offline) beside the JSON and text summaries. k6 stays
# until a browser tab still showing the dashboard is closed; without a terminal (CI, make test) there is no one
# to close it, so only the report is written (port -1). K6_WEB_DASHBOARD=false turns both off.
export K6_WEB_DASHBOARD=${K6_WEB_DASHBOARD:-true}
if [ "$K6_WEB_DASHBOARD" = true ]; then
  export K6_WEB_DASHBOARD_HOST=${K6_WEB_DASHBOARD_HOST:-127.0.0.1}
  # A point a second (k6's default is 10 s, and it writes no report for a run shorter than its period).
  export K6_WEB_DASHBOARD_PERIOD=${K6_WEB_DASHBOARD_PERIOD:-1s}
  if [ -t 1 ] && [ -z "${CI:-}" ]; then export K6_WEB_DASHBOARD_PORT=${K6_WEB_DASHBOARD_PORT:-5665}; else export K6_WEB_DASHBOARD_PORT=-1; fi
  export K6_WEB_DASHBOARD_EXPORT="$ROOT/k6/results/$scenario.latest.html"
  rm -f "$K6_WEB_DASHBOARD_EXPORT" # never show a previous run's report as this one's
  [ "$K6_WEB_DASHBOARD_PORT" = -1 ] ||
    ok "live dashboard: http://$K6_WEB_DASHBOARD_HOST:$K6_WEB_DASHBOARD_PORT (k6 waits for its tab to close before it exits)"
fi
cd "$ROOT"
status=0
k6 run "${quiet[@]}" "$@" "k6/scenarios/$scenario.js" || status=$?
if [ "$K6_WEB_DASHBOARD" = true ] && [ -s "$K6_WEB_DASHBOARD_EXPORT" ]; then
  cp "$K6_WEB_DASHBOARD_EXPORT" "$ROOT/k6/results/$scenario-$(date -u +%Y-%m-%dT%H-%M-%SZ).html"
  ok "HTML report: k6/results/$scenario.latest.html (self-contained; open it in any browser)"
fi
exit "$status"
