#!/usr/bin/env bash
# with-stack.sh COMMAND...: runs COMMAND with the native stack up. If this script started the stack,
# it stops it afterwards (CI starts with nothing and must end with nothing); a stack that was already
# up (a developer's warm one) is left running. Exits with COMMAND's status.
source "$(dirname "$0")/lib.sh"

already_up=0
if [ -f "$STACK_ENV" ] && "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$PG_MONITOR_PORT" 2>/dev/null &&
  redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && port_open "$KAFKA_PORT"; then
  already_up=1
fi

if [ "$already_up" = 1 ]; then
  say "using the native stack that is already up (make infra-down stops it)"
else
  trap '"$ROOT/infra/local/down.sh"' EXIT
  "$ROOT/infra/local/up.sh"
fi

status=0
"$@" || status=$?
exit $status
