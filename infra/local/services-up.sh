#!/usr/bin/env bash
# `make services-up`: the services, run natively against the native stack, as background processes:
# inventory, catalog x CATALOG_INSTANCES, order API x ORDER_INSTANCES, the order worker, review, the review
# projector, and the gateway in front of them. Pid files $RUN_DIR/svc-<name>.pid, logs $LOG_DIR/svc-<name>.log.
# Idempotent: a process that is already running is left alone. Each process must answer GET /health/ready
# before the next group starts; at the end the URLs are printed and written to .local/services.env.
#
# This is a DEMO stack: the gateway serves POST /auth/demo-token (DEMO_TOKENS_ENABLED=true) and trusts
# X-Forwarded-For from any client (TRUST_PROXY=true), so k6 on loopback can act as thousands of buyers
# from thousands of addresses. Never run a gateway like this behind a real load balancer or on the internet.
source "$(dirname "$0")/lib.sh"

READY_TIMEOUT=${SERVICES_READY_TIMEOUT:-90}
# Readiness is 503 this long on SIGTERM before a process stops accepting (services default to 5 s, for a
# real load balancer; nothing routes around the demo stack but our own gateway, whose health checks run every 2 s).
DRAIN_MS=${SERVICES_DRAIN_MS:-1000}
AUTH_ENV="$LOCAL_DIR/auth.env"
SECRET_ENV="$LOCAL_DIR/demo-admin.env"

have node || die "node not found" "run make deps (it installs Node 24 into .local/tools)"
have curl || die "curl not found (readiness checks use it)" "apt-get install curl"
[ -s "$STACK_ENV" ] && [ -s "$AUTH_ENV" ] || die "the native stack is not up ($STACK_ENV or $AUTH_ENV is missing)" "run make infra-up first (make services-up does it for you)"
PGBIN=$(pg_bin) || die "PostgreSQL binaries not found" "run make deps"
[ -n "$("$ROOT/infra/local/pg-formation.sh" primary "$STATE_DIR/pg")" ] || die "the PostgreSQL formation has no primary (or its monitor on :$PG_MONITOR_PORT is down)" "run make infra-up"
# The services reach Redis through its Sentinels, so they follow a failover by themselves (@flashsale/redis).
REDIS_SENTINEL_URL=$(sed -n 's/^REDIS_SENTINEL_URL=//p' "$STACK_ENV")
REDIS_DIRECT_URL=$(sed -n 's/^REDIS_URL=//p' "$STACK_ENV")
redis-cli -u "$REDIS_DIRECT_URL" ping 2>/dev/null | grep -q PONG || die "Redis is not answering at $REDIS_DIRECT_URL" "run make infra-up"
port_open "$KAFKA_PORT" || die "Kafka is not listening on :$KAFKA_PORT" "run make infra-up"
[ "$CATALOG_INSTANCES" -ge 1 ] && [ "$ORDER_INSTANCES" -ge 1 ] || die "CATALOG_INSTANCES and ORDER_INSTANCES must be at least 1" "unset them (default 2) or set a positive number"
mkdir -p "$LOG_DIR" "$RUN_DIR"

# ---------------------------------------------------------------- secrets of the demo stack
# The admin demo-token secret: made once per checkout, kept in .local/ (git-ignored), the same across restarts.
if [ ! -s "$SECRET_ENV" ]; then
  (umask 077 && printf 'DEMO_ADMIN_SECRET=%s\n' "$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')" >"$SECRET_ENV")
fi
DEMO_ADMIN_SECRET=$(sed -n 's/^DEMO_ADMIN_SECRET=//p' "$SECRET_ENV")
[ -n "$DEMO_ADMIN_SECRET" ] || die "$SECRET_ENV has no DEMO_ADMIN_SECRET" "delete it and run make services-up again"
# The waiting-room pass key (ADR 0039): one for every gateway instance, added to a secrets file made before it.
if ! grep -q '^WAITING_ROOM_PASS_SECRET=' "$SECRET_ENV"; then
  (umask 077 && printf 'WAITING_ROOM_PASS_SECRET=%s\n' "$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')" >>"$SECRET_ENV")
fi
WAITING_ROOM_PASS_SECRET=$(sed -n 's/^WAITING_ROOM_PASS_SECRET=//p' "$SECRET_ENV")

# The order worker (and the order API's DLQ tooling) call the inventory's gate steps as an admin.
SERVICE_TOKEN=$(cd "$ROOT" && node --env-file="$AUTH_ENV" packages/auth/src/bin/issue-token.ts --user order-service --role admin --ttl $((30 * 24 * 3600))) ||
  die "could not mint the order service's inventory token" "check AUTH_JWT_PRIVATE_JWK in $AUTH_ENV (make infra-up writes it)"

INVENTORY_URL="http://127.0.0.1:$INVENTORY_PORT"

# ---------------------------------------------------------------- chaos proxies (CHAOS_PROXIES=on)
# The services' connections to every PostgreSQL node and Redis node, and the order service's calls to the
# inventory, pass through Toxiproxy proxies, so a drill can slow, hang or reset one real path (tools/chaos).
# Off by default: each hop costs a little CPU. Unset, the mode of the services already running is kept (make demo
# after a drill leaves them as they are); asked for explicitly, a different mode needs the services restarted.
running_mode=$([ ! -f "$SERVICES_ENV" ] || sed -n 's/^CHAOS_PROXIES=//p' "$SERVICES_ENV")
some_running=false
for pidfile in "$RUN_DIR"/svc-*.pid; do [ -e "$pidfile" ] && svc_alive "$pidfile" && some_running=true; done
if [ -z "${CHAOS_PROXIES:-}" ]; then
  CHAOS_PROXIES=off
  [ "$some_running" = false ] || CHAOS_PROXIES=${running_mode:-off}
fi
case "$CHAOS_PROXIES" in on | off) ;; *) die "CHAOS_PROXIES must be on or off, got '$CHAOS_PROXIES'" "e.g. make services-up CHAOS_PROXIES=on" ;; esac
if [ "$some_running" = true ] && [ "${running_mode:-off}" != "$CHAOS_PROXIES" ]; then
  die "the services run with CHAOS_PROXIES=${running_mode:-off}, not $CHAOS_PROXIES" "make services-down, then make services-up CHAOS_PROXIES=$CHAOS_PROXIES"
fi
PG_PRIMARY_URL=$(sed -n 's/^PG_PRIMARY_URL=//p' "$STACK_ENV")
PG_REPLICA_URLS=$(sed -n 's/^PG_REPLICA_URLS=//p' "$STACK_ENV")
SERVICE_REDIS_URL=${REDIS_SENTINEL_URL:-$REDIS_DIRECT_URL}
ORDER_INVENTORY_URL=$INVENTORY_URL
if [ "$CHAOS_PROXIES" = on ]; then
  port_open "$TOXIPROXY_PORT" || die "Toxiproxy is not listening on :$TOXIPROXY_PORT" "run make infra-up"
  [ -n "$REDIS_SENTINEL_URL" ] || die "CHAOS_PROXIES=on needs the Sentinels (REDIS_SENTINEL_URL in $STACK_ENV)" "run make infra-up"
  read -r -a pg_proxies <<<"$PG_PROXY_PORTS"
  read -r -a redis_proxies <<<"$REDIS_PROXY_PORTS"
  i=0
  for port in $PG_PORTS; do
    proxy=${pg_proxies[$i]:-}
    [ -n "$proxy" ] || die "PG_PROXY_PORTS names fewer ports than PG_PORTS ($PG_PORTS)" "set PG_PROXY_PORTS with one port per node"
    toxi_proxy "postgres-$port" "$proxy" "$port" || die "could not make the Toxiproxy proxy for PostgreSQL :$port" "read $LOG_DIR/toxiproxy.log"
    PG_PRIMARY_URL=${PG_PRIMARY_URL//127.0.0.1:$port/127.0.0.1:$proxy}
    PG_REPLICA_URLS=${PG_REPLICA_URLS//127.0.0.1:$port/127.0.0.1:$proxy}
    i=$((i + 1))
  done
  nat="" i=0
  for port in $REDIS_PORT $REDIS_REPLICA_PORT; do
    proxy=${redis_proxies[$i]:-}
    [ -n "$proxy" ] || die "REDIS_PROXY_PORTS must name two ports (master, replica)" "unset it, or set two free ports"
    toxi_proxy "redis-$port" "$proxy" "$port" || die "could not make the Toxiproxy proxy for Redis :$port" "read $LOG_DIR/toxiproxy.log"
    nat="${nat:+$nat,}127.0.0.1:$port>127.0.0.1:$proxy"
    i=$((i + 1))
  done
  SERVICE_REDIS_URL="$REDIS_SENTINEL_URL?natMap=$nat"
  toxi_proxy inventory "$INVENTORY_PROXY_PORT" "$INVENTORY_PORT" || die "could not make the Toxiproxy proxy for the inventory" "read $LOG_DIR/toxiproxy.log"
  ORDER_INVENTORY_URL="http://127.0.0.1:$INVENTORY_PROXY_PORT"
  ok "chaos proxies: PostgreSQL via :${PG_PROXY_PORTS// /, :}, Redis via :${REDIS_PROXY_PORTS// /, :}, order -> inventory via :$INVENTORY_PROXY_PORT (Toxiproxy, pass-through)"
fi
CATALOG_URLS=$(instance_urls "$CATALOG_PORT" "$CATALOG_INSTANCES")
ORDER_URLS=$(instance_urls "$ORDER_PORT" "$ORDER_INSTANCES")
REVIEW_URL="http://127.0.0.1:$REVIEW_PORT"
GATEWAY_URL="http://127.0.0.1:$GATEWAY_PORT"

# ---------------------------------------------------------------- one process
process_line() { service_processes | awk -v n="$1" '$1 == n'; }

# The variable that moves NAME's port, for the how-to-fix of a port clash.
port_var() {
  case "$1" in
  catalog-*) echo "CATALOG_PORT (and INSTANCE_PORT_STEP)" ;; order-worker) echo ORDER_WORKER_PORT ;;
  order-*) echo "ORDER_PORT (and INSTANCE_PORT_STEP)" ;; review-projector) echo REVIEW_PROJECTOR_PORT ;;
  *) echo "$(echo "$1" | tr 'a-z-' 'A-Z_')_PORT" ;;
  esac
}

STARTED=()
launch() { # NAME
  local name=$1 port entry pidfile log
  read -r _ port entry <<<"$(process_line "$name")"
  pidfile="$RUN_DIR/svc-$name.pid" log="$LOG_DIR/svc-$name.log"
  if svc_alive "$pidfile"; then
    ok "$name already running (pid $(cat "$pidfile"), :$port)"
    return
  fi
  rm -f "$pidfile"
  port_open "$port" && die "port $port is taken by another program, so $name cannot start" \
    "stop it (ss -ltnp | grep :$port) or move $name: $(port_var "$name")=... make services-up"

  # Per-process settings win over the env files (node --env-file never overrides the environment). Only the
  # gateway reads auth.env, for AUTH_JWT_PRIVATE_JWK (it signs demo tokens); stack.env has the public key only.
  local -a env=(HOST=127.0.0.1 SHUTDOWN_DRAIN_MS="$DRAIN_MS" REDIS_URL="$SERVICE_REDIS_URL" PG_PRIMARY_URL="$PG_PRIMARY_URL" PG_REPLICA_URLS="$PG_REPLICA_URLS")
  local -a env_files=(--env-file="$STACK_ENV")
  [ "$name" != gateway ] || env_files+=(--env-file="$AUTH_ENV")
  case "$name" in
  inventory) env+=(PORT="$port") ;;
  catalog-*) env+=(PORT="$port" INVENTORY_URLS="$INVENTORY_URL") ;;
  order-worker) env+=(WORKER_PORT="$port" INVENTORY_URLS="$ORDER_INVENTORY_URL" INVENTORY_SERVICE_TOKEN="$SERVICE_TOKEN") ;;
  order-*) env+=(PORT="$port" INVENTORY_URLS="$ORDER_INVENTORY_URL" INVENTORY_SERVICE_TOKEN="$SERVICE_TOKEN") ;;
  review-projector) env+=(PROJECTOR_PORT="$port" CATALOG_URLS="$CATALOG_URLS") ;;
  review) env+=(PORT="$port" PROJECTOR_PORT="$REVIEW_PROJECTOR_PORT" CATALOG_URLS="$CATALOG_URLS") ;;
  gateway)
    env+=(PORT="$port" ORDER_URLS="$ORDER_URLS" CATALOG_URLS="$CATALOG_URLS" INVENTORY_URLS="$INVENTORY_URL" REVIEW_URLS="$REVIEW_URL"
      DEMO_TOKENS_ENABLED=true DEMO_ADMIN_SECRET="$DEMO_ADMIN_SECRET" TRUST_PROXY=true WAITING_ROOM_PASS_SECRET="$WAITING_ROOM_PASS_SECRET")
    ;;
  esac

  printf '\n==== %s services-up: %s on :%s\n' "$(date -u +%FT%TZ)" "$name" "$port" >>"$log"
  # setsid: its own session, so a Ctrl-C in the terminal that ran make (or k6 after it) does not reach it.
  # Without job control the subshell is no process-group leader, so setsid, nohup and env all exec: $! is node.
  (cd "$ROOT" && exec setsid nohup env "${env[@]}" node "${env_files[@]}" "$entry" >>"$log" 2>&1 </dev/null) &
  echo $! >"$pidfile"
  STARTED+=("$name")
}

ready() { curl -fsS -o /dev/null -m 2 "http://127.0.0.1:$1/health/ready" 2>/dev/null; }

await_ready() { # NAME
  local name=$1 port pidfile log i
  read -r _ port _ <<<"$(process_line "$name")"
  pidfile="$RUN_DIR/svc-$name.pid" log="$LOG_DIR/svc-$name.log"
  # pid_alive, not svc_alive: for a moment after launch the pid is still the subshell about to exec node,
  # whose command line does not name the service yet (svc_alive's check against recycled pids). Taking
  # that moment for "exited" failed a start now and then on a busy machine, and left the node it became
  # running without a pid file. A pid we started seconds ago cannot have been recycled.
  for ((i = 0; i < READY_TIMEOUT * 4; i++)); do
    if ready "$port"; then
      [[ " ${STARTED[*]} " == *" $name "* ]] && ok "$name ready on :$port (pid $(cat "$pidfile"))"
      return 0
    fi
    pid_alive "$pidfile" || break
    sleep 0.25
  done
  local why="did not answer GET /health/ready on :$port within ${READY_TIMEOUT}s"
  if ! pid_alive "$pidfile"; then
    why="exited before it was ready"
  elif [[ " ${STARTED[*]} " == *" $name "* ]]; then
    kill "$(cat "$pidfile")" 2>/dev/null || true # ours, started just now: do not leave a half-started process
  fi
  rm -f "$pidfile"
  printf '\n\033[1m--- last lines of %s\033[0m\n' "$log" >&2
  tail -n 25 "$log" >&2
  die "$name $why" "read $log (its last lines are above): a bad variable is named there, a dependency that is down (make infra-status) or a port clash; fix it and run make services-up again (processes already running are left alone)"
}

group() { # NAME...: start them all, then wait for each
  local n
  for n in "$@"; do launch "$n"; done
  for n in "$@"; do await_ready "$n"; done
}

names_of() { service_processes | awk -v p="$1" 'index($1, p) == 1 { print $1 }'; }

# ---------------------------------------------------------------- start order
# Each service migrates its schema at boot under an advisory lock: one instance first, then the others.
say "services (logs in $LOG_DIR/svc-*.log)"
group inventory
mapfile -t catalogs < <(names_of catalog-)
group "${catalogs[0]}"
[ "${#catalogs[@]}" -lt 2 ] || group "${catalogs[@]:1}"
mapfile -t orders < <(names_of order- | grep -v '^order-worker$')
group "${orders[0]}"
group "${orders[@]:1}" order-worker
group review
group review-projector
group gateway

# ---------------------------------------------------------------- for people and scripts
cat >"$SERVICES_ENV.tmp" <<EOF
# Written by infra/local/services-up.sh for scripts and k6 (make load-*). Do not commit.
GATEWAY_URL=$GATEWAY_URL
DEMO_ADMIN_SECRET=$DEMO_ADMIN_SECRET
INVENTORY_URLS=$INVENTORY_URL
CATALOG_URLS=$CATALOG_URLS
ORDER_URLS=$ORDER_URLS
ORDER_WORKER_URL=http://127.0.0.1:$ORDER_WORKER_PORT
REVIEW_URLS=$REVIEW_URL
REVIEW_PROJECTOR_URL=http://127.0.0.1:$REVIEW_PROJECTOR_PORT
CHAOS_PROXIES=$CHAOS_PROXIES
EOF
chmod 600 "$SERVICES_ENV.tmp"
mv "$SERVICES_ENV.tmp" "$SERVICES_ENV"

say "services are up"
spaced() { tr ',' ' ' <<<"$1"; }
cat <<EOF
    gateway           $GATEWAY_URL   (demo tokens on, TRUST_PROXY=true: a demo-only setting)
    catalog           $(spaced "$CATALOG_URLS")
    inventory         $INVENTORY_URL
    order API         $(spaced "$ORDER_URLS")
    order worker      http://127.0.0.1:$ORDER_WORKER_PORT   (health and metrics only)
    review            $REVIEW_URL
    review projector  http://127.0.0.1:$REVIEW_PROJECTOR_PORT   (health and metrics only)
    API               $GATEWAY_URL/docs (browse), $GATEWAY_URL/openapi.json, and /openapi.json of every service above
    metrics           $GATEWAY_URL/metrics, and /metrics of every URL above (Prometheus text)
    logs              $LOG_DIR/svc-<name>.log   (make infra-logs)
    env for scripts   .local/services.env   (GATEWAY_URL, DEMO_ADMIN_SECRET, instance URLs)
    a buyer token     curl -s -X POST $GATEWAY_URL/auth/demo-token -H 'content-type: application/json' -d '{"userId":"u1"}'
    an admin token    the same with -H "x-demo-admin-secret: \$DEMO_ADMIN_SECRET" and {"userId":"admin","role":"admin"}
EOF
