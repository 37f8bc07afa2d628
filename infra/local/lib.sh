# shellcheck shell=bash
# Shared settings and helpers for the native stack scripts (bootstrap, up, down, status, logs).
# Sourced, never run. Everything here can be overridden from the environment.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../versions.env
source "$ROOT/infra/versions.env"

# Project-local, git-ignored: installed tools and the env file services and tests read.
LOCAL_DIR="$ROOT/.local"
TOOLS_DIR="$LOCAL_DIR/tools"
STACK_ENV="$LOCAL_DIR/stack.env"
# Project-local tools (Node 24, k6, toxiproxy-server) win over the machine's.
export PATH="$TOOLS_DIR/bin:$PATH"

# Server state (data, logs, sockets, pids) lives outside the checkout: PostgreSQL refuses to run as
# root, and the unprivileged postgres user cannot traverse a private clone dir such as mktemp's.
# One state dir per checkout, so two clones never share data files.
checkout_id=$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)
STATE_DIR=${FLASHSALE_STATE_DIR:-/var/tmp/flashsale-$checkout_id}
LOG_DIR="$STATE_DIR/logs"
RUN_DIR="$STATE_DIR/run"

# Non-default loopback ports, so the stack never collides with a system PostgreSQL/Redis/Kafka.
PG_PRIMARY_PORT=${PG_PRIMARY_PORT:-55432}
PG_REPLICA_PORTS=${PG_REPLICA_PORTS:-"55433 55434"}
PG_DATABASE=${PG_DATABASE:-flashsale}
REDIS_PORT=${REDIS_PORT:-56379}
KAFKA_PORT=${KAFKA_PORT:-59092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-59093}
KAFKA_HEAP=${KAFKA_HEAP:-512m}
TOXIPROXY_PORT=${TOXIPROXY_PORT:-58474}

KAFKA_LIBS="$TOOLS_DIR/kafka-$KAFKA_VERSION/libs"

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

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

pg_url() { printf 'postgres://postgres@127.0.0.1:%s/%s' "$1" "${2:-$PG_DATABASE}"; }
