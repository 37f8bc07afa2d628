#!/usr/bin/env bash
# `make infra-status`: one line per part of the native stack: up or down, and where.
source "$(dirname "$0")/lib.sh"
set +e
trap - ERR # a part that is down is an answer here, not an error

line() { printf '  %-16s %-7s %s\n' "$1" "$2" "$3"; }
up_down() { if "$@" >/dev/null 2>&1; then echo up; else echo down; fi; }
pidof_file() { [ -f "$1" ] && printf 'pid %s' "$(head -n 1 "$1")" || printf 'pid -'; }
psql_at() { "$(pg_bin)/psql" -X -At -h 127.0.0.1 -p "$1" -U postgres -d postgres -c "$2" 2>/dev/null; }

say "native stack ($STATE_DIR)"
primary=$("$ROOT/infra/local/pg-formation.sh" primary "$STATE_DIR/pg" 2>/dev/null)
line pg-monitor "$(up_down psql_at "$PG_MONITOR_PORT" 'SELECT 1')" "127.0.0.1:$PG_MONITOR_PORT  pg_auto_failover monitor  (infra/local/pg-formation.sh state $STATE_DIR/pg)"
for port in $PG_PORTS; do
  if [ "$port" = "$primary" ]; then
    detail="primary  streaming standbys: $(psql_at "$port" "SELECT count(*) FROM pg_stat_replication WHERE state='streaming'")"
  else
    lag=$(psql_at "$port" "SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 ELSE round(extract(epoch FROM now() - pg_last_xact_replay_timestamp())::numeric, 3) END")
    detail="standby  replay lag: ${lag:-?}s"
  fi
  line "pg-$port" "$(up_down psql_at "$port" 'SELECT 1')" "$(pg_url "$port")  $(pidof_file "$STATE_DIR/pg/$port/postmaster.pid")  $detail"
done
for port in $REDIS_PORT $REDIS_REPLICA_PORT; do
  role=$(redis-cli -p "$port" role 2>/dev/null | head -1)
  line "redis-$port" "$(up_down redis-cli -p "$port" ping)" "redis://127.0.0.1:$port  ${role:-?}  $(pidof_file "$RUN_DIR/redis-$port.pid")"
done
i=0
for port in $REDIS_SENTINEL_PORTS; do
  i=$((i + 1))
  master=$(redis-cli -p "$port" sentinel get-master-addr-by-name "$REDIS_MASTER_NAME" 2>/dev/null | paste -sd: -)
  line "redis-sentinel-$i" "$(up_down redis-cli -p "$port" ping)" "127.0.0.1:$port  master ${master:-?}  $(pidof_file "$RUN_DIR/redis-sentinel-$i.pid")"
done
line kafka "$(up_down port_open "$KAFKA_PORT")" "127.0.0.1:$KAFKA_PORT  $(pidof_file "$RUN_DIR/kafka.pid")"
line toxiproxy "$(up_down port_open "$TOXIPROXY_PORT")" "http://127.0.0.1:$TOXIPROXY_PORT  $(pidof_file "$RUN_DIR/toxiproxy.pid")"
line prometheus "$(up_down curl -fsS -o /dev/null -m 2 "http://127.0.0.1:$PROMETHEUS_PORT/-/ready")" "http://127.0.0.1:$PROMETHEUS_PORT  $(pidof_file "$RUN_DIR/prometheus.pid")"
line ops "$(up_down curl -fsS -o /dev/null -m 2 "http://127.0.0.1:$OPS_PORT/health/live")" "http://127.0.0.1:$OPS_PORT  $(pidof_file "$RUN_DIR/ops.pid")"
for pidfile in "$RUN_DIR"/*.pid; do
  [ -e "$pidfile" ] || continue
  name=$(basename "$pidfile" .pid)
  case "$name" in kafka | redis | redis-* | toxiproxy | prometheus | ops | svc-*) continue ;; esac
  line "$name" "$(up_down pid_alive "$pidfile")" "pid $(cat "$pidfile")"
done

# The services (make services-up): up = its process runs and GET /health/ready answers 200; starting or
# draining = it runs but is not ready; down = no process.
say "services (make services-up; logs in $LOG_DIR/svc-*.log)"
while read -r name port _; do
  pidfile="$RUN_DIR/svc-$name.pid"
  if svc_alive "$pidfile"; then
    if curl -fsS -o /dev/null -m 2 "http://127.0.0.1:$port/health/ready" 2>/dev/null; then state=up; else state=unready; fi
    line "$name" "$state" "http://127.0.0.1:$port  pid $(cat "$pidfile")"
  else
    line "$name" down "http://127.0.0.1:$port"
  fi
done < <(service_processes)
