#!/usr/bin/env bash
# A PostgreSQL formation with automatic failover, managed by pg_auto_failover (Debian's
# postgresql-15-auto-failover): a monitor (a Postgres of its own that holds the formation's state and
# health-checks the nodes) and one keeper per node (`pg_autoctl run`: it starts, stops, promotes, demotes
# and rewinds its Postgres as the monitor assigns). The first node becomes the primary, the others hot
# standbys; when the primary dies the monitor promotes the most advanced standby, and a node that comes
# back rejoins as a standby (pg_rewind). https://pg-auto-failover.readthedocs.io/en/main/architecture.html
#
# One script for `make infra-up` / `make infra-down`, the chaos drill and the failover test of packages/db,
# so every one of them builds and breaks the same thing.
#
# Usage: pg-formation.sh up DIR DATABASE MONITOR_PORT PORT...   create what is missing, start what is stopped,
#                                                                wait for 1 primary + the standbys
#        pg-formation.sh down DIR                                stop the monitor, then every node
#        pg-formation.sh primary DIR                             print the primary's port (empty when none)
#        pg-formation.sh kill DIR PORT                           SIGKILL a node: its keeper and its Postgres
#        pg-formation.sh start DIR PORT                          start one node's keeper (after kill)
#        pg-formation.sh switchover DIR                          demote the primary and promote a standby, in order
#        pg-formation.sh state DIR                               pg_autoctl show state
# Everything pg_autoctl keeps (data, its config and state files, logs) stays under DIR.
source "$(dirname "$0")/lib.sh"

PGBIN=$(pg_bin) || die "PostgreSQL server binaries not found under /usr/lib/postgresql" "run make deps"
have pg_autoctl || die "pg_autoctl not found (pg_auto_failover)" "run make deps (apt-get install postgresql-$PG_MAJOR-auto-failover)"

usage() { die "usage: $0 up DIR DATABASE MONITOR_PORT PORT... | down DIR | primary DIR | kill DIR PORT | start DIR PORT | switchover DIR | state DIR" "see the comment at the top of $0"; }
[ $# -ge 2 ] || usage
cmd=$1 dir=$2
shift 2

# pg_autoctl keeps its config and state files under XDG_CONFIG_HOME / XDG_DATA_HOME (default: the postgres
# user's home): kept beside the data, so removing DIR forgets the formation entirely.
autoctl() {
  as_pg env PATH="$PGBIN:/usr/bin:/bin" XDG_CONFIG_HOME="$dir/xdg/config" XDG_DATA_HOME="$dir/xdg/data" \
    XDG_RUNTIME_DIR="$dir/xdg/run" pg_autoctl "$@"
}
running() { autoctl status --pgdata "$1" >/dev/null 2>&1; }
created() { [ -f "$dir/xdg/config/pg_autoctl$1/pg_autoctl.cfg" ]; }
# The keeper runs in a session of its own, so a drill can kill it with its Postgres as one process group.
start_keeper() { # PGDATA NAME
  as_pg env PATH="$PGBIN:/usr/bin:/bin" XDG_CONFIG_HOME="$dir/xdg/config" XDG_DATA_HOME="$dir/xdg/data" \
    XDG_RUNTIME_DIR="$dir/xdg/run" setsid pg_autoctl run --pgdata "$1" >>"$dir/logs/$2.log" 2>&1 </dev/null &
  wait_for 30 "$2" running "$1"
}
run_keeper() { # PGDATA NAME
  local log="$dir/logs/$2.log" from
  from=$(($(stat -c %s "$log" 2>/dev/null || echo 0) + 1)) # only this start's lines count below
  start_keeper "$@" && return
  # A keeper that found its PID file gone at start ("PID file not found ... quitting": the last process of a
  # `create` removing it as it exits, seen once in a clean clone) quits with its children: once more, alone.
  tail -c +"$from" "$log" 2>/dev/null | grep -q 'PID file not found' || die "pg_autoctl for $2 did not start" "read $log"
  warn "pg_autoctl for $2 lost its PID file at start; starting it again"
  pkill -f "^pg_autoctl run --pgdata $1\$" 2>/dev/null || true
  sleep 2
  start_keeper "$@" || die "pg_autoctl for $2 did not start" "read $dir/logs/$2.log"
}
# `pg_autoctl create` can return while its Postgres controller is still stopping the server it ran for the init;
# a keeper started meanwhile can lose its PID file to that exit. Wait for that server to be down first.
init_done() { [ ! -e "$1/postmaster.pid" ]; }
monitor_port() { sed -n 's/^port = \([0-9]*\).*/\1/p' "$dir/monitor/postgresql-auto-failover.conf" 2>/dev/null | tail -n 1; }
monitor_sql() { "$PGBIN/psql" -X -q -At -h 127.0.0.1 -p "$(monitor_port)" -U autoctl_node -d pg_auto_failover -c "$1"; }
# Ready: one node reports and is assigned primary, every other one secondary.
settled() { # NODES
  [ "$(monitor_sql "SELECT count(*) FILTER (WHERE reportedstate = 'primary' AND goalstate = 'primary') || ' ' ||
    count(*) FILTER (WHERE reportedstate = 'secondary' AND goalstate = 'secondary') FROM pgautofailover.node")" = "1 $(($1 - 1))" ]
}
node_pgid() { # PORT: the process group of the node's keeper (empty when it is not running)
  local pid
  pid=$(pgrep -f "^pg_autoctl run --pgdata $dir/$1\$" | head -n 1) || return 0
  ps -o pgid= -p "$pid" | tr -d ' '
}

up() {
  [ $# -ge 4 ] || usage
  local db=$1 mport=$2
  shift 2
  local ports=("$@") port pgdata first=1
  mkdir -p "$dir/logs"
  [ "$(id -u)" != 0 ] || chown postgres:postgres "$dir" "$dir/logs"

  if ! created "$dir/monitor"; then
    rm -rf "$dir/monitor"
    autoctl create monitor --pgdata "$dir/monitor" --pgport "$mport" --hostname 127.0.0.1 --listen 127.0.0.1 \
      --auth trust --no-ssl >"$dir/monitor-create.log" 2>&1 || die "pg_autoctl create monitor failed" "read $dir/monitor-create.log"
  fi
  if running "$dir/monitor"; then ok "pg_auto_failover monitor already running on :$(monitor_port)"; else
    [ "$(monitor_port)" = "$mport" ] || die "the monitor in $dir/monitor was made for port $(monitor_port), not $mport" \
      "use the ports the stack was made with, or make infra-clean to start over"
    port_open "$mport" && die "port $mport is taken by another program" "stop it (ss -ltnp | grep :$mport) or set PG_MONITOR_PORT=..."
    run_keeper "$dir/monitor" monitor
    wait_for 30 monitor monitor_sql 'SELECT 1' || die "the pg_auto_failover monitor is not answering on :$mport" "read $dir/logs/monitor.log"
    ok "pg_auto_failover monitor started on :$mport"
  fi
  # Failure detection in seconds, not the default ~20-30 s: a flash sale cannot wait half a minute. The
  # monitor health-checks every node each second and calls a primary unhealthy after 5 s without an answer
  # (nor a report from its keeper). Shorter was tried: 3 s failed a healthy primary over once on this
  # 2-core machine while every test suite ran. Set on every start (ALTER SYSTEM, then a reload), so a
  # change here reaches a formation made before it.
  # https://pg-auto-failover.readthedocs.io/en/main/operations.html#monitor-configuration
  "$PGBIN/psql" -X -q -At -h 127.0.0.1 -p "$mport" -U postgres -d pg_auto_failover -v ON_ERROR_STOP=1 \
    -c "ALTER SYSTEM SET pgautofailover.health_check_period = 1000" \
    -c "ALTER SYSTEM SET pgautofailover.health_check_timeout = 2000" \
    -c "ALTER SYSTEM SET pgautofailover.health_check_retry_delay = 500" \
    -c "ALTER SYSTEM SET pgautofailover.health_check_max_retries = 1" \
    -c "ALTER SYSTEM SET pgautofailover.node_considered_unhealthy_timeout = 5000" \
    -c "ALTER SYSTEM SET pgautofailover.primary_demote_timeout = 5000" \
    -c "SELECT pg_reload_conf()" >/dev/null || die "could not set the monitor's failure detection" "read $dir/logs/monitor.log"
  local monitor_uri="postgres://autoctl_node@127.0.0.1:$mport/pg_auto_failover?sslmode=disable"

  # A restart: the node that was the primary first, and the others once it reports as the primary again. The
  # monitor judges each node by its last report, from before the stop (minutes or hours old); with every keeper
  # started at once, a standby that reported first found the primary "unhealthy" and began a failover while it
  # was still starting, and a standby left on the old timeline kept the formation from ever settling
  # ("requested timeline 2 is not a child of this server's history"). A keeper cannot start before the monitor
  # (it asks the monitor about its node first), hence this order.
  local was_primary
  was_primary=$(monitor_sql "SELECT nodeport FROM pgautofailover.node WHERE goalstate = 'primary' AND reportedstate = 'primary'" 2>/dev/null | head -n 1)
  if [ -n "$was_primary" ] && [[ " ${ports[*]} " == *" $was_primary "* ]] && created "$dir/$was_primary" && ! running "$dir/$was_primary"; then
    port_open "$was_primary" && die "port $was_primary is taken by another program" "stop it (ss -ltnp | grep :$was_primary) or set PG_PORTS='...'"
    run_keeper "$dir/$was_primary" "pg-$was_primary"
    wait_for 60 "pg-$was_primary" node_ready "$was_primary" || warn "node :$was_primary (the primary before the restart) is not serving yet"
    ok "node :$was_primary started (the primary before the restart)"
  fi

  local n=0
  for port in "${ports[@]}"; do
    n=$((n + 1))
    pgdata="$dir/$port"
    if running "$pgdata"; then ok "node :$port already running"; first=0; continue; fi
    port_open "$port" && die "port $port is taken by another program" "stop it (ss -ltnp | grep :$port) or set PG_PORTS='...'"
    if ! created "$pgdata"; then
      rm -rf "$pgdata"
      # The first node created becomes the primary; each later one is cloned from it (pg_basebackup) as a standby.
      autoctl create postgres --pgdata "$pgdata" --pgport "$port" --hostname 127.0.0.1 --listen 127.0.0.1 \
        --name "pg-$port" --dbname "$db" --monitor "$monitor_uri" --auth trust --no-ssl \
        >"$dir/logs/pg-$port-create.log" 2>&1 || die "pg_autoctl create postgres (:$port) failed" "read $dir/logs/pg-$port-create.log"
      if [ "$first" = 1 ] && [ "$n" = 1 ]; then
        # Appended after pg_auto_failover's include, so these win; standbys copy this file with the data.
        # pg_autoctl sizes memory for a machine of its own (shared_buffers = 1/4 of RAM); this one is shared.
        cat >>"$pgdata/postgresql.conf" <<EOF

# --- flash-sale formation (infra/local/pg-formation.sh) ---
max_connections = 400
shared_buffers = '128MB'
work_mem = '4MB'
maintenance_work_mem = '64MB'
effective_cache_size = '1GB'
wal_keep_size = '256MB'
pg_stat_statements.track = all
EOF
      fi
      wait_for 60 "pg-$port: the init's Postgres to stop" init_done "$pgdata" || die "the Postgres that pg_autoctl create ran for :$port did not stop" "read $dir/logs/pg-$port-create.log"
      sleep 1 # and its controller to exit
      run_keeper "$pgdata" "pg-$port"
      # One node at a time: a standby is cloned from a primary that must already be serving.
      wait_for 60 "pg-$port" node_ready "$port" || die "node :$port did not join the formation" "read $dir/logs/pg-$port.log"
      ok "node :$port created ($(monitor_sql "SELECT reportedstate FROM pgautofailover.node WHERE nodeport = $port"))"
    else
      # A restart: every keeper at once, and the monitor tells each whether it is the primary or a standby.
      run_keeper "$pgdata" "pg-$port"
      ok "node :$port started"
    fi
    first=0
  done
  wait_for 90 formation settled "${#ports[@]}" ||
    die "the formation has no primary with ${#ports[@]} - 1 standbys" "read $dir/logs/*.log; $0 state $dir"
}
node_ready() { # PORT: reports the state the monitor assigned it, and serves
  [ -n "$(monitor_sql "SELECT 1 FROM pgautofailover.node WHERE nodeport = $1 AND reportedstate = goalstate
    AND reportedstate IN ('single', 'wait_primary', 'primary', 'secondary')")" ] && "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$1"
}

down() {
  # The monitor first: with it gone nothing is failed over while the nodes stop one after another.
  local pgdata
  if [ -d "$dir/monitor" ] && running "$dir/monitor"; then autoctl stop --pgdata "$dir/monitor" >/dev/null 2>&1 && ok "monitor stopped"; fi
  for pgdata in "$dir"/[0-9]*; do
    [ -d "$pgdata" ] && running "$pgdata" || continue
    autoctl stop --pgdata "$pgdata" >/dev/null 2>&1 || warn "pg_autoctl stop failed for $pgdata"
    wait_for 60 "stop" bash -c "! [ -f '$pgdata/postmaster.pid' ]" || warn "Postgres in $pgdata is still running"
    ok "node :$(basename "$pgdata") stopped"
  done
  # Leave no process behind, even of a keeper that did not answer.
  for pgdata in "$dir"/monitor "$dir"/[0-9]*; do
    pkill -9 -f "^pg_autoctl run --pgdata $pgdata\$" 2>/dev/null || true
  done
}

case "$cmd" in
  up) up "$@" ;;
  down) down ;;
  primary) monitor_sql "SELECT nodeport FROM pgautofailover.node WHERE reportedstate = 'primary' AND goalstate = 'primary'" 2>/dev/null || true ;;
  kill)
    [ $# = 1 ] || usage
    pgid=$(node_pgid "$1")
    [ -n "$pgid" ] || die "no keeper is running for node :$1 in $dir" "$0 state $dir"
    postmaster=$(head -n 1 "$dir/$1/postmaster.pid" 2>/dev/null || true)
    kill -9 -- "-$pgid"
    # A Postgres the keeper restarted through pg_ctl (after a role change) runs in a session of its own, out
    # of the keeper's process group: it is killed by its pid, with its backends.
    if [ -n "$postmaster" ] && kill -0 "$postmaster" 2>/dev/null; then
      kill -STOP "$postmaster" 2>/dev/null || true # no new backend while its children go
      pkill -9 -P "$postmaster" 2>/dev/null || true
      kill -9 "$postmaster" 2>/dev/null || true
    fi
    ;;
  start)
    [ $# = 1 ] || usage
    running "$dir/$1" || run_keeper "$dir/$1" "pg-$1"
    ;;
  switchover)
    nodes=$(monitor_sql "SELECT count(*) FROM pgautofailover.node")
    # The monitor refuses a switchover while a node is still catching up (after a failback, say).
    wait_for 60 formation settled "$nodes" || die "the formation is not settled (1 primary, $((nodes - 1)) standbys)" "$0 state $dir"
    autoctl perform switchover --pgdata "$dir/monitor" --wait 60 >>"$dir/logs/switchover.log" 2>&1 || die "the switchover did not complete" "read $dir/logs/switchover.log" ;;
  state) autoctl show state --pgdata "$dir/monitor" ;;
  *) usage ;;
esac
