#!/usr/bin/env bash
# `make services-down`: stops the service processes that services-up.sh started, in reverse dependency
# order — the gateway first (no new requests), then the APIs, the order worker and the review projector,
# the inventory last (the worker's last batch still calls its gate). Each gets SIGTERM and drains
# (readiness 503, then close: in-flight requests and the batch in flight finish); whatever is still
# running after SERVICES_STOP_TIMEOUT seconds (default 20) gets SIGKILL. Pid files are removed.
# The infrastructure (PostgreSQL, Redis, Kafka) is left running: make infra-down or make down stops it.
source "$(dirname "$0")/lib.sh"

STOP_TIMEOUT=${SERVICES_STOP_TIMEOUT:-20}

stop_tier() { # NAME...: SIGTERM each running one, wait for all, SIGKILL leftovers
  local name pidfile pid i alive
  local -a pids=() names=()
  for name in "$@"; do
    pidfile="$RUN_DIR/svc-$name.pid"
    if svc_alive "$pidfile"; then
      pid=$(cat "$pidfile")
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid") names+=("$name")
    fi
    rm -f "$pidfile"
  done
  [ "${#pids[@]}" -gt 0 ] || return 0
  for ((i = 0; i < STOP_TIMEOUT * 4; i++)); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 1 ] || break
    sleep 0.25
  done
  for i in "${!pids[@]}"; do
    if kill -0 "${pids[$i]}" 2>/dev/null; then
      warn "${names[$i]} did not stop within ${STOP_TIMEOUT}s; killing it (pid ${pids[$i]})"
      kill -KILL "${pids[$i]}" 2>/dev/null || true
    else
      ok "${names[$i]} stopped"
    fi
  done
}

say "stopping the services"
[ -d "$RUN_DIR" ] || { ok "nothing to stop"; exit 0; }

mapfile -t all < <(service_processes | awk '{ print $1 }')
# Pid files of instances beyond today's CATALOG_INSTANCES / ORDER_INSTANCES (started with a larger count).
for pidfile in "$RUN_DIR"/svc-*.pid; do
  [ -e "$pidfile" ] || continue
  name=$(basename "$pidfile" .pid)
  name=${name#svc-}
  [[ " ${all[*]} " == *" $name "* ]] || all+=("$name")
done

middle=()
for name in "${all[@]}"; do
  case "$name" in gateway | inventory) ;; *) middle+=("$name") ;; esac
done
stop_tier gateway
stop_tier "${middle[@]}"
stop_tier inventory
rm -f "$SERVICES_ENV"
ok "services are down"
