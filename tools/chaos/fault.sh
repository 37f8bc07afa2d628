#!/usr/bin/env bash
# The faults of the chaos drills and how each is undone, on the native stack (infra/local):
#   tools/chaos/fault.sh inject|recover DRILL
# DRILL: order-instance (SIGKILL order-$ORDER_INSTANCE, default 1; recover: make services-up restarts it)
#        kafka          (SIGKILL the broker; recover: make infra-up starts it again, KRaft log recovery)
#        replica        (immediate stop of replica 1; recover: make infra-up starts it, it catches up)
#        redis          (SIGKILL the Redis master the Sentinels name; they promote the replica by themselves;
#                        recover: make infra-up starts the old master again, as the new master's replica)
# A hard kill, not a clean stop: that is the failure the design has to survive.
source "$(dirname "$0")/../../infra/local/lib.sh"

action=${1:-} drill=${2:-}
usage="usage: tools/chaos/fault.sh inject|recover order-instance|kafka|replica|redis"
case "$action" in inject | recover) ;; *) die "unknown action '${action}'" "$usage" ;; esac

kill_pidfile() { # PIDFILE NAME
  [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null || die "$2 is not running (no live pid in $1)" "bring the stack up first: make services-up (or make demo)"
  kill -KILL "$(cat "$1")"
  ok "$2 killed (SIGKILL, pid $(cat "$1"))"
}

case "$drill:$action" in
order-instance:inject) kill_pidfile "$RUN_DIR/svc-order-${ORDER_INSTANCE:-1}.pid" "order-${ORDER_INSTANCE:-1}" ;;
order-instance:recover) "$ROOT/infra/local/services-up.sh" >"$LOG_DIR/chaos-recover.log" 2>&1 || die "services-up failed" "read $LOG_DIR/chaos-recover.log"; ok "services-up: order-${ORDER_INSTANCE:-1} restarted" ;;
kafka:inject) kill_pidfile "$RUN_DIR/kafka.pid" "the Kafka broker" ;;
replica:inject)
  as_pg "$(pg_bin)/pg_ctl" -D "$STATE_DIR/pg/replica1" -m immediate stop >/dev/null || die "could not stop replica 1" "make infra-status"
  ok "replica 1 stopped (immediate)" ;;
redis:inject)
  sentinel=${REDIS_SENTINEL_PORTS%% *}
  port=$(redis-cli -p "$sentinel" sentinel get-master-addr-by-name "$REDIS_MASTER_NAME" 2>/dev/null | tail -1)
  [ -n "$port" ] || die "the Sentinel on :$sentinel does not name a master for $REDIS_MASTER_NAME" "make infra-status; make infra-up starts the Sentinels"
  kill_pidfile "$RUN_DIR/redis-$port.pid" "the Redis master (:$port)" ;;
kafka:recover | replica:recover | redis:recover) "$ROOT/infra/local/up.sh" >"$LOG_DIR/chaos-recover.log" 2>&1 || die "infra-up failed" "read $LOG_DIR/chaos-recover.log"; ok "infra-up: $drill started again" ;;
*) die "unknown drill '${drill}'" "$usage" ;;
esac
