# shellcheck shell=bash
# Shared settings and helpers for the native stack scripts (bootstrap, up, down, status, logs).
# Sourced, never run. Everything here can be overridden from the environment.

set -Eeuo pipefail
# A command that fails where no `die` explains it still says where, instead of the script ending silently.
trap '[ "$BASH_SUBSHELL" != 0 ] || printf "\n\033[1;31mERROR:\033[0m %s line %s: \"%s\" failed (exit %s)\n" "${BASH_SOURCE[0]##*/}" "$LINENO" "$BASH_COMMAND" "$?" >&2' ERR

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../versions.env
source "$ROOT/infra/versions.env"

# Project-local, git-ignored: installed tools and the env file services and tests read.
LOCAL_DIR="$ROOT/.local"
TOOLS_DIR="$LOCAL_DIR/tools"
STACK_ENV="$LOCAL_DIR/stack.env"
# Project-local tools (Node 24, k6, toxiproxy-server) win over the machine's.
export PATH="$TOOLS_DIR/bin:$PATH"
# kafkajs 2.2.4 schedules negative timeouts on Node >= 22: a harmless warning on every node start (the
# Makefile sets the same; this covers the scripts run by hand).
export NODE_OPTIONS="${NODE_OPTIONS:---disable-warning=TimeoutNegativeWarning}"

# Server state (data, logs, sockets, pids) lives outside the checkout: PostgreSQL refuses to run as
# root, and the unprivileged postgres user cannot traverse a private clone dir such as mktemp's.
# One state dir per checkout, so two clones never share data files.
checkout_id=$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)
STATE_DIR=${FLASHSALE_STATE_DIR:-/var/tmp/flashsale-$checkout_id}
LOG_DIR="$STATE_DIR/logs"
RUN_DIR="$STATE_DIR/run"

# Non-default loopback ports, so the stack never collides with a system PostgreSQL/Redis/Kafka.
# PostgreSQL nodes under pg_auto_failover: the first starts as the primary; which one is the primary later is
# the monitor's to say (infra/local/pg-formation.sh primary "$STATE_DIR/pg").
PG_PORTS=${PG_PORTS:-"55432 55433 55434"}
PG_MONITOR_PORT=${PG_MONITOR_PORT:-55431}
PG_DATABASE=${PG_DATABASE:-flashsale}
REDIS_PORT=${REDIS_PORT:-56379}
# A replica and three Sentinels that fail the master over by themselves (quorum 2); the services reach the
# master through the Sentinels (REDIS_SENTINEL_URL, @flashsale/redis).
REDIS_REPLICA_PORT=${REDIS_REPLICA_PORT:-56380}
REDIS_SENTINEL_PORTS=${REDIS_SENTINEL_PORTS:-"56381 56382 56383"}
REDIS_MASTER_NAME=${REDIS_MASTER_NAME:-flashsale}
KAFKA_PORT=${KAFKA_PORT:-59092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-59093}
KAFKA_HEAP=${KAFKA_HEAP:-512m}
TOXIPROXY_PORT=${TOXIPROXY_PORT:-58474}
# Prometheus, started with the stack: scrapes every service instance with the alert rules (not 9090, the
# Debian package's own daemon's port).
PROMETHEUS_PORT=${PROMETHEUS_PORT:-59090}
OPS_PORT=${OPS_PORT:-59091}
# With CHAOS_PROXIES=on, services-up routes the services' connections to each PostgreSQL node, each Redis node
# and the order service's calls to the inventory through Toxiproxy proxies on these ports (in the same order as
# PG_PORTS, then REDIS_PORT and REDIS_REPLICA_PORT): pass-through until a drill adds a toxic (tools/chaos).
PG_PROXY_PORTS=${PG_PROXY_PORTS:-"58480 58481 58482"}
REDIS_PROXY_PORTS=${REDIS_PROXY_PORTS:-"58490 58491"}
INVENTORY_PROXY_PORT=${INVENTORY_PROXY_PORT:-58499}

KAFKA_LIBS="$TOOLS_DIR/kafka-$KAFKA_VERSION/libs"

# The services, run natively on loopback by services-up.sh (make services-up / make demo). Instance i
# (1-based) of a scaled service listens on its port + (i - 1) * INSTANCE_PORT_STEP: catalog 3001, 3101, ...
GATEWAY_PORT=${GATEWAY_PORT:-8080}
CATALOG_PORT=${CATALOG_PORT:-3001}
CATALOG_INSTANCES=${CATALOG_INSTANCES:-2}
INVENTORY_PORT=${INVENTORY_PORT:-3002}
ORDER_PORT=${ORDER_PORT:-3003}
ORDER_INSTANCES=${ORDER_INSTANCES:-2}
ORDER_WORKER_PORT=${ORDER_WORKER_PORT:-3013}
REVIEW_PORT=${REVIEW_PORT:-3004}
REVIEW_PROJECTOR_PORT=${REVIEW_PROJECTOR_PORT:-3014}
INSTANCE_PORT_STEP=${INSTANCE_PORT_STEP:-100}
# Written by services-up.sh for scripts and k6: GATEWAY_URL, DEMO_ADMIN_SECRET, instance URLs.
SERVICES_ENV="$LOCAL_DIR/services.env"

say() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
ok() { printf '    \033[32mok\033[0m %s\n' "$*"; }
warn() { printf '    \033[33m!!\033[0m %s\n' "$*" >&2; }
# die MESSAGE HOW-TO-FIX: every failure says what is missing and how to get it.
die() {
  printf '\n\033[1;31mERROR:\033[0m %s\n' "$1" >&2
  [ $# -lt 2 ] || printf '  how to fix: %s\n' "$2" >&2
  exit 1
}

have() { command -v "$1" >/dev/null 2>&1; }

# Highest installed PostgreSQL major's bin dir (Debian keeps them off PATH).
pg_bin() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] && [ -x "$d/postgres" ] || return 1
  printf '%s' "$d"
}

# Run a PostgreSQL binary as the unprivileged postgres user when we are root.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for SECONDS DESCRIPTION COMMAND...: poll until COMMAND succeeds, or die naming the log to read.
wait_for() {
  local secs=$1 what=$2 i
  shift 2
  for ((i = 0; i < secs * 4; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.25
  done
  return 1
}

# A mark on the ops page's charts (tools/ops/src/events.ts reads the file): a drill's fault, a flash sale's start.
mark_event() { # KIND TEXT
  [ -d "$STATE_DIR" ] || return 0
  # Quotes, backslashes and control characters dropped: each mark stays one line of valid JSON.
  local kind text
  kind=$(printf '%s' "$1" | tr -d '"\\[:cntrl:]') text=$(printf '%s' "$2" | tr -d '"\\[:cntrl:]')
  printf '{"at":%s,"kind":"%s","text":"%s"}\n' "$(date +%s%3N)" "$kind" "$text" >>"$STATE_DIR/chaos-events.jsonl"
}
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

pg_url() { printf 'postgres://postgres@127.0.0.1:%s/%s' "$1" "${2:-$PG_DATABASE}"; }

# service_processes: the service processes of the native stack, in start order, one line each:
# NAME PORT ENTRY (ENTRY relative to the checkout). Pid file $RUN_DIR/svc-NAME.pid, log $LOG_DIR/svc-NAME.log.
service_processes() {
  local i
  echo "inventory $INVENTORY_PORT services/inventory/src/server.ts"
  for ((i = 1; i <= CATALOG_INSTANCES; i++)); do echo "catalog-$i $((CATALOG_PORT + (i - 1) * INSTANCE_PORT_STEP)) services/catalog/src/server.ts"; done
  for ((i = 1; i <= ORDER_INSTANCES; i++)); do echo "order-$i $((ORDER_PORT + (i - 1) * INSTANCE_PORT_STEP)) services/order/src/server.ts"; done
  echo "order-worker $ORDER_WORKER_PORT services/order/src/worker.ts"
  echo "review $REVIEW_PORT services/review/src/server.ts"
  echo "review-projector $REVIEW_PROJECTOR_PORT services/review/src/projector.ts"
  echo "gateway $GATEWAY_PORT services/gateway/src/server.ts"
}

# instance_urls PORT COUNT: the comma-separated URLs of COUNT instances starting at PORT.
instance_urls() {
  local i urls=""
  for ((i = 0; i < $2; i++)); do urls="${urls:+$urls,}http://127.0.0.1:$(($1 + i * INSTANCE_PORT_STEP))"; done
  printf '%s' "$urls"
}

# svc_alive PIDFILE: the pid in the file is alive and is still one of our service processes (not a
# recycled pid of something else).
svc_alive() {
  local pid
  [ -f "$1" ] || return 1
  pid=$(cat "$1")
  kill -0 "$pid" 2>/dev/null && grep -qa 'services/.*/src/' "/proc/$pid/cmdline" 2>/dev/null
}

# Toxiproxy's HTTP API (https://github.com/Shopify/toxiproxy#http-api), for services-up's proxies and the drills.
toxi() { # METHOD PATH [JSON BODY]: prints the answer; fails on an HTTP error
  curl -fsS -X "$1" "http://127.0.0.1:$TOXIPROXY_PORT$2" ${3:+-H 'content-type: application/json' -d "$3"}
}
# A proxy NAME listening on 127.0.0.1:LISTEN_PORT for 127.0.0.1:UPSTREAM_PORT, made when missing; one that
# exists is left as it is (recreating it would cut the connections through it).
toxi_proxy() { # NAME LISTEN_PORT UPSTREAM_PORT
  local code
  code=$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$TOXIPROXY_PORT/proxies/$1") || return 1
  [ "$code" = 200 ] && return 0
  toxi POST /proxies "{\"name\":\"$1\",\"listen\":\"127.0.0.1:$2\",\"upstream\":\"127.0.0.1:$3\",\"enabled\":true}" >/dev/null
}
