#!/usr/bin/env bash
# `make infra-up`: PostgreSQL (a primary + 2 standbys with automatic failover), Redis, Kafka (KRaft, single node),
# started natively on loopback. Idempotent: parts already running are left alone. Waits until each
# part really answers (replicas streaming, Kafka metadata and topics), then writes .local/stack.env.
source "$(dirname "$0")/lib.sh"

PGBIN=$(pg_bin) || die "PostgreSQL server binaries not found under /usr/lib/postgresql" "run make deps"
have redis-server || die "redis-server not found" "run make deps"
have java || die "java not found (the Kafka broker runs on the JVM)" "run make deps"
have prometheus || die "prometheus not found" "run make deps (it installs Debian's prometheus package)"
[ -f "$KAFKA_LIBS/kafka_2.13-$KAFKA_VERSION.jar" ] || die "Kafka $KAFKA_VERSION jars not found in $KAFKA_LIBS" "run make deps"

mkdir -p "$STATE_DIR" "$LOG_DIR" "$RUN_DIR" "$LOCAL_DIR"
ln -sfn "$STATE_DIR" "$LOCAL_DIR/state"

# The stack's fixed ports lie in Linux's default ephemeral range (32768-60999): an outgoing connection of any
# client may be given one as its source port, and a server then fails to bind it ("Address already in use";
# seen once for Kafka's 59092 right after a full test run). Reserved, the kernel never hands them out.
# https://docs.kernel.org/networking/ip-sysctl.html (ip_local_reserved_ports)
reserved=/proc/sys/net/ipv4/ip_local_reserved_ports
if [ "$(id -u)" = 0 ] && [ -w "$reserved" ]; then
  ours="$PG_MONITOR_PORT,${PG_PORTS// /,},$REDIS_PORT,$REDIS_REPLICA_PORT,${REDIS_SENTINEL_PORTS// /,},$KAFKA_PORT,$KAFKA_CONTROLLER_PORT,$TOXIPROXY_PORT,$PROMETHEUS_PORT,${PG_PROXY_PORTS// /,},${REDIS_PROXY_PORTS// /,},$INVENTORY_PROXY_PORT"
  current=$(cat "$reserved")
  echo "${current:+$current,}$ours" >"$reserved" 2>/dev/null || warn "could not reserve the stack's ports ($reserved)"
fi

# ---------------------------------------------------------------- one dataset
# PostgreSQL, Redis and Kafka hold one dataset between them, and a part made afresh beside the others' old data
# contradicts them (every order of an old Kafka log "lost" to a new PostgreSQL). Each part's dir carries the id of
# its dataset (infra/local/dataset.sh); a state dir whose parts disagree (made before those ids, or a part deleted
# by hand) is stopped, set aside whole and started over. CI keeps the state dir of its fixed path between runs,
# so this must happen by itself. Nothing is deleted: make infra-clean removes what was set aside.
dataset=$("$ROOT/infra/local/dataset.sh" verdict "$STATE_DIR")
case "$dataset" in
  fresh) ok "a new dataset ($("$ROOT/infra/local/dataset.sh" mark "$STATE_DIR"))" ;;
  same\ *) ;;
  *)
    warn "PostgreSQL, Redis and Kafka hold data of different datasets (${dataset#mixed }): starting over with new data"
    "$ROOT/infra/local/down.sh"
    aside=$("$ROOT/infra/local/dataset.sh" set-aside "$STATE_DIR")
    "$ROOT/infra/local/dataset.sh" mark "$STATE_DIR" >/dev/null
    warn "the old data is in $aside, not used any more; make infra-clean deletes it with the rest of the stack's data"
    ;;
esac

# ---------------------------------------------------------------- PostgreSQL
# A formation under pg_auto_failover: a monitor and one keeper per node; the first node starts as the primary,
# the others as hot standbys, and the monitor fails over by itself (infra/local/pg-formation.sh, ADR 0031).
# shellcheck disable=SC2086 # PG_PORTS is a list
read -r -a pg_ports <<<"$PG_PORTS"
[ "${#pg_ports[@]}" -ge 2 ] || die "PG_PORTS must name at least 2 ports (a primary and a standby), got '$PG_PORTS'" "e.g. PG_PORTS='55432 55433 55434'"
say "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') under pg_auto_failover: monitor on :$PG_MONITOR_PORT, nodes on ${pg_ports[*]}"
[ "$(id -u)" != 0 ] || chown postgres:postgres "$LOG_DIR" "$RUN_DIR"
chmod 0755 "$STATE_DIR" "$LOG_DIR" "$RUN_DIR"
[ "$(id -u)" != 0 ] || chmod 1777 "$LOG_DIR" "$RUN_DIR"
"$ROOT/infra/local/pg-formation.sh" up "$STATE_DIR/pg" "$PG_DATABASE" "$PG_MONITOR_PORT" "${pg_ports[@]}"
pg_primary_port=$("$ROOT/infra/local/pg-formation.sh" primary "$STATE_DIR/pg")
ok "primary on :$pg_primary_port, $((${#pg_ports[@]} - 1)) standbys streaming"

# ---------------------------------------------------------------- Redis (+ replica + Sentinels)
say "Redis $(redis-server --version | awk '{print $3}' | tr -d v=): a master, a replica, 3 Sentinels (master name $REDIS_MASTER_NAME)"
REDIS_DIR="$STATE_DIR/redis"
mkdir -p "$REDIS_DIR"
# After a failover the Sentinels' config names the new master: start that one as the master again, so a
# restart never brings back the older dataset as the master.
redis_master_port=$REDIS_PORT
redis_replica_port=$REDIS_REPLICA_PORT
if [ -f "$REDIS_DIR/sentinel-1.conf" ]; then
  known=$(awk -v name="$REDIS_MASTER_NAME" '$1 == "sentinel" && $2 == "monitor" && $3 == name { print $5 }' "$REDIS_DIR/sentinel-1.conf")
  if [ "$known" = "$REDIS_REPLICA_PORT" ]; then redis_master_port=$REDIS_REPLICA_PORT redis_replica_port=$REDIS_PORT; fi
fi
redis_node() { # PORT NAME [extra redis-server arguments...]
  local port=$1 name=$2
  shift 2
  if redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; then
    ok "$name already running on :$port"
    return
  fi
  port_open "$port" && die "port $port is taken by another program" "stop it or set REDIS_PORT / REDIS_REPLICA_PORT=..."
  mkdir -p "$REDIS_DIR/$port"
  # AOF with fsync every second: reservations survive a restart; losing Redis entirely is a drill.
  redis-server --bind 127.0.0.1 --port "$port" --daemonize yes --dir "$REDIS_DIR/$port" \
    --pidfile "$RUN_DIR/redis-$port.pid" --logfile "$LOG_DIR/redis-$port.log" \
    --appendonly yes --appendfsync everysec --save "" --maxclients 10000 "$@" ||
    die "redis-server ($name) did not start" "read $LOG_DIR/redis-$port.log"
  wait_for 20 "$name" redis-cli -p "$port" ping || die "$name is not answering" "read $LOG_DIR/redis-$port.log"
  ok "$name started on :$port"
}
redis_node "$redis_master_port" "redis master"
redis_node "$redis_replica_port" "redis replica" --replicaof 127.0.0.1 "$redis_master_port"
i=0
for port in $REDIS_SENTINEL_PORTS; do
  i=$((i + 1))
  if redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; then
    ok "sentinel $i already running on :$port"
    continue
  fi
  port_open "$port" && die "port $port is taken by another program" "stop it or set REDIS_SENTINEL_PORTS=..."
  conf="$REDIS_DIR/sentinel-$i.conf"
  # Sentinel rewrites its own file (the current master, the replicas and the other Sentinels it found);
  # it is written here only the first time.
  if [ ! -f "$conf" ]; then
    printf '%s\n' "port $port" "bind 127.0.0.1" "dir $REDIS_DIR" \
      "sentinel monitor $REDIS_MASTER_NAME 127.0.0.1 $redis_master_port 2" \
      "sentinel down-after-milliseconds $REDIS_MASTER_NAME 2000" \
      "sentinel failover-timeout $REDIS_MASTER_NAME 10000" \
      "sentinel parallel-syncs $REDIS_MASTER_NAME 1" >"$conf"
  fi
  redis-server "$conf" --sentinel --daemonize yes --pidfile "$RUN_DIR/redis-sentinel-$i.pid" --logfile "$LOG_DIR/redis-sentinel-$i.log" ||
    die "redis sentinel $i did not start" "read $LOG_DIR/redis-sentinel-$i.log"
  wait_for 20 "sentinel $i" redis-cli -p "$port" ping || die "sentinel $i is not answering" "read $LOG_DIR/redis-sentinel-$i.log"
  ok "sentinel $i started on :$port"
done
sentinel_hosts=""
for port in $REDIS_SENTINEL_PORTS; do sentinel_hosts="${sentinel_hosts:+$sentinel_hosts,}127.0.0.1:$port"; done
REDIS_SENTINEL_URL="redis+sentinel://$sentinel_hosts/$REDIS_MASTER_NAME"

# ---------------------------------------------------------------- Kafka
say "Kafka $KAFKA_VERSION (KRaft, combined broker+controller) on :$KAFKA_PORT"
KAFKA_DIR="$STATE_DIR/kafka"
KAFKA_PID="$RUN_DIR/kafka.pid"
mkdir -p "$KAFKA_DIR"
kafka_java() { java -Xms128m -Xmx256m -cp "$KAFKA_LIBS/*" "$@"; }
if pid_alive "$KAFKA_PID"; then
  ok "kafka already running (pid $(cat "$KAFKA_PID"))"
else
  port_open "$KAFKA_PORT" && die "port $KAFKA_PORT is taken by another program" "stop it or set KAFKA_PORT=..."
  cat >"$KAFKA_DIR/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DIR/data
num.partitions=3
# One broker: internal topics cannot have more replicas than that; with the default of 3 a consumer group finds
# no coordinator (https://github.com/tulios/kafkajs/issues/1752).
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# Topics are created from packages/kafka's one definition, never by a typo in a producer.
auto.create.topics.enable=false
EOF
  if [ ! -f "$KAFKA_DIR/data/meta.properties" ]; then
    cluster_id=$(kafka_java kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)
    kafka_java kafka.tools.StorageTool format -t "$cluster_id" -c "$KAFKA_DIR/server.properties" \
      >"$LOG_DIR/kafka-format.log" 2>&1 || die "formatting Kafka storage failed" "read $LOG_DIR/kafka-format.log"
  fi
  mkdir -p "$LOG_DIR/kafka"
  nohup java "-Xms$KAFKA_HEAP" "-Xmx$KAFKA_HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    "-Dkafka.logs.dir=$LOG_DIR/kafka" "-Dlog4j2.configurationFile=$ROOT/infra/kafka/log4j2.properties" \
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_DIR/server.properties" >"$LOG_DIR/kafka.out" 2>&1 &
  echo $! >"$KAFKA_PID"
  wait_for 60 kafka port_open "$KAFKA_PORT" || die "the Kafka broker did not open :$KAFKA_PORT" "read $LOG_DIR/kafka.out and $LOG_DIR/kafka/server.log"
  ok "kafka started (pid $(cat "$KAFKA_PID"))"
fi

# ---------------------------------------------------------------- Toxiproxy
# A TCP proxy with an HTTP API, for tests and drills that cut or slow one connection path
# (e.g. one replica unreachable) without stopping a server other suites share.
say "Toxiproxy $TOXIPROXY_VERSION API on :$TOXIPROXY_PORT"
TOXI_PID="$RUN_DIR/toxiproxy.pid"
have toxiproxy-server || die "toxiproxy-server not found in .local/tools/bin" "run make deps"
if pid_alive "$TOXI_PID"; then
  ok "toxiproxy already running (pid $(cat "$TOXI_PID"))"
else
  port_open "$TOXIPROXY_PORT" && die "port $TOXIPROXY_PORT is taken by another program" "stop it or set TOXIPROXY_PORT=..."
  nohup toxiproxy-server -host 127.0.0.1 -port "$TOXIPROXY_PORT" >"$LOG_DIR/toxiproxy.log" 2>&1 &
  echo $! >"$TOXI_PID"
  wait_for 20 toxiproxy port_open "$TOXIPROXY_PORT" || die "toxiproxy did not open :$TOXIPROXY_PORT" "read $LOG_DIR/toxiproxy.log"
  ok "toxiproxy started (pid $(cat "$TOXI_PID"))"
fi

# ---------------------------------------------------------------- Prometheus
# Scrapes every service instance of make services-up (infra/prometheus/prometheus-native.yml, every second) with
# the project's alert rules, so a load run or a drill can be watched as it happens (/graph, /alerts). Its data
# is metrics only, kept across restarts for 2 days; not part of the dataset (infra/local/dataset.sh).
say "Prometheus $(prometheus --version 2>&1 | awk 'NR==1 {print $3}') on :$PROMETHEUS_PORT"
PROM_PID="$RUN_DIR/prometheus.pid"
if pid_alive "$PROM_PID"; then
  ok "prometheus already running (pid $(cat "$PROM_PID"))"
else
  port_open "$PROMETHEUS_PORT" && die "port $PROMETHEUS_PORT is taken by another program" "stop it or set PROMETHEUS_PORT=..."
  mkdir -p "$STATE_DIR/prometheus"
  nohup prometheus --config.file="$ROOT/infra/prometheus/prometheus-native.yml" --storage.tsdb.path="$STATE_DIR/prometheus" \
    --storage.tsdb.retention.time=2d --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" --log.level=warn \
    >"$LOG_DIR/prometheus.log" 2>&1 </dev/null &
  echo $! >"$PROM_PID"
  wait_for 60 prometheus curl -fsS -o /dev/null "http://127.0.0.1:$PROMETHEUS_PORT/-/ready" ||
    die "Prometheus is not ready on :$PROMETHEUS_PORT" "read $LOG_DIR/prometheus.log"
  ok "prometheus started (pid $(cat "$PROM_PID")): http://127.0.0.1:$PROMETHEUS_PORT"
fi

# ---------------------------------------------------------------- env file
# Dev signing keys for bearer tokens (ES256), made once per checkout and kept across restarts.
AUTH_ENV="$LOCAL_DIR/auth.env"
if [ ! -s "$AUTH_ENV" ]; then
  (cd "$ROOT" && node packages/auth/src/bin/generate-keys.ts) >"$AUTH_ENV.tmp" && mv "$AUTH_ENV.tmp" "$AUTH_ENV" ||
    die "could not generate the dev token signing keys" "run make deps (npm packages), then make infra-up"
fi
# Writes: every node, in the multi-host form of libpq's connection URIs; packages/db keeps to the one that is
# the primary now and looks again when it fails over. Reads: every node; the ones that are standbys serve them.
pg_hosts="" replica_urls=""
for port in "${pg_ports[@]}"; do
  pg_hosts="${pg_hosts:+$pg_hosts,}127.0.0.1:$port"
  replica_urls="${replica_urls:+$replica_urls,}$(pg_url "$port")"
done
PG_PRIMARY_URL="postgres://postgres@$pg_hosts/$PG_DATABASE?target_session_attrs=read-write"
cat >"$STACK_ENV.tmp" <<EOF
# Written by infra/local/up.sh for the native stack; read by services, tests and scripts. Do not commit.
PG_PRIMARY_URL=$PG_PRIMARY_URL
PG_MONITOR_URL=postgres://autoctl_node@127.0.0.1:$PG_MONITOR_PORT/pg_auto_failover
PG_REPLICA_URLS=$replica_urls
REDIS_URL=redis://127.0.0.1:$redis_master_port
REDIS_SENTINEL_URL=$REDIS_SENTINEL_URL
KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT
TOXIPROXY_URL=http://127.0.0.1:$TOXIPROXY_PORT
PROMETHEUS_URL=http://127.0.0.1:$PROMETHEUS_PORT
OPS_URL=http://127.0.0.1:$OPS_PORT
FLASHSALE_STATE_DIR=$STATE_DIR
EOF
# Only the public key: every process reads this file; the private key stays in auth.env, for the gateway's
# demo token endpoint and the scripts that mint tokens (issue-token, the demo's sales).
grep '^AUTH_JWT_PUBLIC_JWK=' "$AUTH_ENV" >>"$STACK_ENV.tmp" || die "$AUTH_ENV has no AUTH_JWT_PUBLIC_JWK" "delete it and run make infra-up again"
mv "$STACK_ENV.tmp" "$STACK_ENV"

# Kafka is ready when its metadata answers and the topics from the one definition exist.
say "Kafka topics (packages/kafka/src/topics.ts)"
(cd "$ROOT" && node --env-file="$STACK_ENV" packages/kafka/src/bin/ensure-topics.ts) ||
  die "Kafka is not answering metadata requests, or topic creation failed" "read $LOG_DIR/kafka/server.log"

# ---------------------------------------------------------------- the ops page
# A flash sale, a load run or a drill, watched live (tools/ops): charts from this Prometheus, and the data
# tier's roles from the pg_auto_failover monitor and the Sentinels. With the infrastructure, not the services,
# so it keeps drawing while a drill kills and restarts them. Loopback only: the page has no login.
say "ops page on :$OPS_PORT"
OPS_PID="$RUN_DIR/ops.pid"
if pid_alive "$OPS_PID"; then
  ok "ops page already running (pid $(cat "$OPS_PID"))"
else
  port_open "$OPS_PORT" && die "port $OPS_PORT is taken by another program" "stop it or set OPS_PORT=..."
  OPS_PORT=$OPS_PORT nohup node --disable-warning=ExperimentalWarning --env-file="$STACK_ENV" "$ROOT/tools/ops/src/server.ts" \
    >"$LOG_DIR/ops.log" 2>&1 </dev/null &
  echo $! >"$OPS_PID"
  wait_for 30 "the ops page" curl -fsS -o /dev/null "http://127.0.0.1:$OPS_PORT/health/ready" ||
    die "the ops page did not start on :$OPS_PORT" "read $LOG_DIR/ops.log"
  ok "ops page started (pid $(cat "$OPS_PID")): http://127.0.0.1:$OPS_PORT"
fi

say "stack is up"
cat <<EOF
    PostgreSQL           $PG_PRIMARY_URL (primary now: :$pg_primary_port)
    pg_auto_failover     monitor on :$PG_MONITOR_PORT (infra/local/pg-formation.sh state $STATE_DIR/pg)
    Redis                redis://127.0.0.1:$redis_master_port (master), :$redis_replica_port (replica)
    Redis Sentinel       $REDIS_SENTINEL_URL
    Kafka                127.0.0.1:$KAFKA_PORT
    Toxiproxy API        http://127.0.0.1:$TOXIPROXY_PORT
    Prometheus           http://127.0.0.1:$PROMETHEUS_PORT   (/alerts: the project's alert rules)
    ops page             http://127.0.0.1:$OPS_PORT   (live charts of a flash sale, a load run or a drill)
    env file             .local/stack.env     state and logs  $STATE_DIR
EOF
