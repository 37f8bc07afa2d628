#!/usr/bin/env bash
# The faults of the chaos drills and how each is undone, on the native stack (infra/local):
#   tools/chaos/fault.sh inject|recover DRILL
# DRILL: order-instance (SIGKILL order-$ORDER_INSTANCE, default 1; recover: make services-up restarts it)
#        kafka          (SIGKILL the broker; recover: make infra-up starts it again, KRaft log recovery)
#        replica        (SIGKILL a standby PostgreSQL node, keeper and all; recover: make infra-up starts it, it catches up)
#        primary        (SIGKILL the PostgreSQL primary node, keeper and all; pg_auto_failover promotes a standby by
#                        itself; recover: make infra-up starts the old primary again, and it rejoins as a standby)
#        redis          (SIGKILL the Redis master the Sentinels name; they promote the replica by themselves;
#                        recover: make infra-up starts the old master again, as the new master's replica)
#        downstream-500 (a fault flag: the inventory answers 500 to every reservation, on every instance;
#                        recover: the flag is deleted; it would also end by itself after 15 minutes)
#        latency        (a fault flag: +LATENCY_MS (300) ms on every reservation at the inventory; recover: deleted)
#        hang           (a fault flag: the inventory never answers a reservation, a hung dependency; recover: deleted)
#        latency-postgres (+LATENCY_MS (300) ms on every reply of every PostgreSQL node to the services: a Toxiproxy latency
#                        toxic on their proxies, so the services must run with CHAOS_PROXIES=on; recover: removed)
#        pool-exhaustion (a session on the primary holds an ACCESS EXCLUSIVE lock on orders.orders, as a slow
#                        migration would: every query on the table waits, on the primary and, once the lock is
#                        replayed, on the standbys; the pools of the order API and worker fill with waiting
#                        queries; recover: the session ends and the lock goes; it also ends by itself after 15 min)
#        retry-storm    (the downstream-500 fault, while the drill's buyers retry every refusal at once, without
#                        backoff; recover: the flag is deleted)
# A hard kill, not a clean stop: that is the failure the design has to survive.
source "$(dirname "$0")/../../infra/local/lib.sh"

action=${1:-} drill=${2:-}
usage="usage: tools/chaos/fault.sh inject|recover order-instance|kafka|replica|primary|redis|downstream-500|latency|hang|latency-postgres|pool-exhaustion|retry-storm"
case "$action" in inject | recover) ;; *) die "unknown action '${action}'" "$usage" ;; esac
# The latency drills' added milliseconds (default 300 ms, a slow dependency's typical added delay), e.g. LATENCY_MS=1000 make chaos-latency.
LATENCY_MS=${LATENCY_MS:-300}
[[ "$LATENCY_MS" =~ ^[1-9][0-9]{0,4}$ ]] && [ "$LATENCY_MS" -le 60000 ] ||
  die "LATENCY_MS must be a whole number of milliseconds, 1-60000, got '$LATENCY_MS'" "e.g. LATENCY_MS=1000 make chaos-latency"

kill_pidfile() { # PIDFILE NAME
  [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null || die "$2 is not running (no live pid in $1)" "bring the stack up first: make services-up (or make demo)"
  kill -KILL "$(cat "$1")"
  ok "$2 killed (SIGKILL, pid $(cat "$1"))"
}

# The inventory's fault flag (@flashsale/faults), set and removed with an admin token minted here.
inventory_flag() { # NAME METHOD [BODY]
  local name=$1
  shift
  local url token
  url=$(sed -n 's/^INVENTORY_URLS=//p' "$SERVICES_ENV" | cut -d, -f1)
  [ -n "$url" ] || die "no INVENTORY_URLS in $SERVICES_ENV" "make services-up writes it"
  token=$(cd "$ROOT" && node --env-file="$LOCAL_DIR/auth.env" packages/auth/src/bin/issue-token.ts --user chaos-drill --role admin --ttl 3600) ||
    die "could not mint an admin token" "check $LOCAL_DIR/auth.env (make infra-up writes it)"
  local -a body=()
  [ -z "${2:-}" ] || body=(-H 'content-type: application/json' -d "$2")
  curl -fsS -o /dev/null -X "$1" "$url/admin/faults/$name" -H "authorization: Bearer $token" "${body[@]}" ||
    die "the inventory did not take the fault flag ($1)" "is it up? make infra-status"
}

# The services' proxies to PostgreSQL (services-up with CHAOS_PROXIES=on).
pg_proxies() {
  [ "$(sed -n 's/^CHAOS_PROXIES=//p' "$SERVICES_ENV")" = on ] ||
    die "the services do not reach PostgreSQL through Toxiproxy" "make services-down, then make services-up CHAOS_PROXIES=on (tools/chaos/drill.sh does it for the drills that need it)"
  local port
  for port in $PG_PORTS; do echo "postgres-$port"; done
}

drill_sql() { # PORT SQL: one value
  "$(pg_bin)/psql" -X -q -At -h 127.0.0.1 -p "$1" -U postgres -d "$PG_DATABASE" -v ON_ERROR_STOP=1 -c "$2"
}
lock_held() { # PORT
  [ "$(drill_sql "$1" "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
    WHERE a.application_name = 'chaos-pool-exhaustion' AND l.mode = 'AccessExclusiveLock' AND l.granted")" != 0 ]
}

case "$drill:$action" in
order-instance:inject) kill_pidfile "$RUN_DIR/svc-order-${ORDER_INSTANCE:-1}.pid" "order-${ORDER_INSTANCE:-1}" ;;
order-instance:recover) "$ROOT/infra/local/services-up.sh" >"$LOG_DIR/chaos-recover.log" 2>&1 || die "services-up failed" "read $LOG_DIR/chaos-recover.log"; ok "services-up: order-${ORDER_INSTANCE:-1} restarted" ;;
kafka:inject) kill_pidfile "$RUN_DIR/kafka.pid" "the Kafka broker" ;;
replica:inject | primary:inject)
  # The node, not only its Postgres: the keeper would restart a Postgres that died under it within a second.
  formation=("$ROOT/infra/local/pg-formation.sh")
  primary=$("${formation[@]}" primary "$STATE_DIR/pg")
  [ -n "$primary" ] || die "the pg_auto_failover monitor names no primary" "make infra-status; make infra-up"
  if [ "$drill" = primary ]; then port=$primary; else
    port=$(for p in $PG_PORTS; do [ "$p" = "$primary" ] || echo "$p"; done | head -n 1)
  fi
  "${formation[@]}" kill "$STATE_DIR/pg" "$port" || die "could not kill the node on :$port" "make infra-status"
  ok "PostgreSQL node :$port killed (SIGKILL of its keeper and its Postgres; it was the $([ "$port" = "$primary" ] && echo primary || echo "standby"))" ;;
redis:inject)
  sentinel=${REDIS_SENTINEL_PORTS%% *}
  port=$(redis-cli -p "$sentinel" sentinel get-master-addr-by-name "$REDIS_MASTER_NAME" 2>/dev/null | tail -1)
  [ -n "$port" ] || die "the Sentinel on :$sentinel does not name a master for $REDIS_MASTER_NAME" "make infra-status; make infra-up starts the Sentinels"
  kill_pidfile "$RUN_DIR/redis-$port.pid" "the Redis master (:$port)" ;;
downstream-500:inject | retry-storm:inject)
  inventory_flag drill-downstream-500 PUT '{"kind":"error","rate":1,"status":500,"route":"POST /reservations","durationSeconds":900}'
  ok "fault flag set: the inventory answers 500 to every POST /reservations" ;;
downstream-500:recover | retry-storm:recover)
  inventory_flag drill-downstream-500 DELETE
  ok "fault flag removed: the inventory reserves again" ;;
latency:inject)
  inventory_flag drill-latency PUT "{\"kind\":\"latency\",\"rate\":1,\"ms\":$LATENCY_MS,\"route\":\"POST /reservations\",\"durationSeconds\":900}"
  ok "fault flag set: +$LATENCY_MS ms on every POST /reservations at the inventory" ;;
latency:recover)
  inventory_flag drill-latency DELETE
  ok "fault flag removed: the inventory answers at its own pace again" ;;
hang:inject)
  inventory_flag drill-hang PUT '{"kind":"hang","rate":1,"route":"POST /reservations","durationSeconds":900}'
  ok "fault flag set: the inventory holds every POST /reservations unanswered" ;;
hang:recover)
  inventory_flag drill-hang DELETE
  ok "fault flag removed: the inventory answers reservations again" ;;
latency-postgres:inject)
  for proxy in $(pg_proxies); do
    toxi POST "/proxies/$proxy/toxics" "{\"name\":\"drill-latency\",\"type\":\"latency\",\"stream\":\"downstream\",\"attributes\":{\"latency\":$LATENCY_MS}}" >/dev/null ||
      die "Toxiproxy did not take the latency toxic on $proxy" "make infra-status; read $LOG_DIR/toxiproxy.log"
  done
  ok "Toxiproxy: +$LATENCY_MS ms on every reply of every PostgreSQL node to the services" ;;
latency-postgres:recover)
  for proxy in $(pg_proxies); do toxi DELETE "/proxies/$proxy/toxics/drill-latency" >/dev/null || die "could not remove the latency toxic of $proxy" "read $LOG_DIR/toxiproxy.log"; done
  ok "Toxiproxy: the latency toxics are removed" ;;
pool-exhaustion:inject)
  primary=$("$ROOT/infra/local/pg-formation.sh" primary "$STATE_DIR/pg")
  [ -n "$primary" ] || die "the pg_auto_failover monitor names no primary" "make infra-status; make infra-up"
  # In the background, for at most 15 minutes; its pid is kept so recover can end it. The lock is WAL-logged and
  # replayed on the standbys, where it blocks reads of the table too; the first commit of anyone flushes it there,
  # and with the worker blocked nothing may commit for a while: pg_switch_wal() flushes it at once.
  setsid "$(pg_bin)/psql" -X -q -h 127.0.0.1 -p "$primary" -U postgres -d "$PG_DATABASE" -v ON_ERROR_STOP=1 \
    -c "SET application_name = 'chaos-pool-exhaustion'" \
    -c "BEGIN; LOCK TABLE orders.orders IN ACCESS EXCLUSIVE MODE; SELECT pg_switch_wal(); SELECT pg_sleep(900); COMMIT;" >"$LOG_DIR/chaos-lock.log" 2>&1 </dev/null &
  echo $! >"$RUN_DIR/chaos-lock.pid"
  wait_for 10 "the lock" lock_held "$primary" || die "the lock was not taken" "read $LOG_DIR/chaos-lock.log"
  ok "a session on the primary (:$primary) holds an ACCESS EXCLUSIVE lock on orders.orders" ;;
pool-exhaustion:recover)
  primary=$("$ROOT/infra/local/pg-formation.sh" primary "$STATE_DIR/pg")
  drill_sql "$primary" "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'chaos-pool-exhaustion'" >/dev/null ||
    die "could not end the locking session" "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'chaos-pool-exhaustion'"
  rm -f "$RUN_DIR/chaos-lock.pid"
  ok "the locking session is ended: orders.orders is free" ;;
kafka:recover | replica:recover | primary:recover | redis:recover) "$ROOT/infra/local/up.sh" >"$LOG_DIR/chaos-recover.log" 2>&1 || die "infra-up failed" "read $LOG_DIR/chaos-recover.log"; ok "infra-up: $drill started again" ;;
*) die "unknown drill '${drill}'" "$usage" ;;
esac
mark_event chaos "$action $drill"
