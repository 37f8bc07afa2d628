#!/usr/bin/env bash
# `make infra-down`: stops every part of the native stack and leaves no process behind.
# Data stays in the state dir (make infra-clean removes it).
source "$(dirname "$0")/lib.sh"

stop_pid() { # PIDFILE NAME SECONDS
  local pidfile=$1 name=$2 secs=${3:-30} pid i
  if ! pid_alive "$pidfile"; then rm -f "$pidfile"; return; fi
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || true
  for ((i = 0; i < secs * 4; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  if kill -0 "$pid" 2>/dev/null; then warn "$name did not stop in ${secs}s; killing it"; kill -9 "$pid" 2>/dev/null || true; fi
  rm -f "$pidfile"
  ok "$name stopped"
}

# The services first (they drain, and the order worker finishes its batch while Kafka and Postgres are up),
# so stopping the stack never leaves a service orphaned.
"$ROOT/infra/local/services-down.sh" || warn "stopping the services failed; the stack is stopped anyway"

say "stopping the native stack ($STATE_DIR)"
[ -d "$STATE_DIR" ] || { ok "nothing to stop"; exit 0; }

# The Sentinels before the Redis nodes, so stopping the master is not taken for a failure to fail over.
for pidfile in "$RUN_DIR"/redis-sentinel-*.pid; do
  [ -e "$pidfile" ] || continue
  stop_pid "$pidfile" "$(basename "$pidfile" .pid)" 10
done
for pidfile in "$RUN_DIR"/*.pid; do
  [ -e "$pidfile" ] || continue
  name=$(basename "$pidfile" .pid)
  case "$name" in kafka | redis | redis-[0-9]*) continue ;; esac
  stop_pid "$pidfile" "$name" 10 # toxiproxy, and anything else started beside the stack
done
stop_pid "$RUN_DIR/kafka.pid" kafka 60
for port in $REDIS_REPLICA_PORT $REDIS_PORT; do
  if redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; then
    # SHUTDOWN writes the AOF out; the pidfile fallback below only matters if Redis ignores it.
    redis-cli -p "$port" shutdown >/dev/null 2>&1 || true
    wait_for 10 redis-exit bash -c "! redis-cli -p $port ping" && ok "redis :$port stopped"
  fi
  stop_pid "$RUN_DIR/redis-$port.pid" "redis :$port" 10
done
stop_pid "$RUN_DIR/redis.pid" redis 10 # a stack started before the replica and Sentinels existed

if [ -d "$STATE_DIR/pg/monitor" ] && have pg_autoctl; then
  "$ROOT/infra/local/pg-formation.sh" down "$STATE_DIR/pg" || warn "stopping the PostgreSQL formation failed"
fi
if PGBIN=$(pg_bin); then
  # A stack made before automatic failover (plain primary and replicas).
  for dir in "$STATE_DIR"/pg/replica* "$STATE_DIR/pg/primary"; do
    [ -f "$dir/postmaster.pid" ] || continue
    as_pg "$PGBIN/pg_ctl" -D "$dir" -m fast -w -t 60 stop >/dev/null 2>&1 && ok "$(basename "$dir") stopped" ||
      warn "pg_ctl stop failed for $dir"
  done
fi
rm -f "$STACK_ENV"
ok "stack is down"
