#!/usr/bin/env bash
# `make infra-logs`: the last lines of every server log of the native stack (N=200 for more).
source "$(dirname "$0")/lib.sh"
n=${N:-40}
[ -d "$LOG_DIR" ] || die "no logs yet in $LOG_DIR" "run make infra-up first"
for f in "$LOG_DIR"/*.log "$LOG_DIR"/kafka/server.log; do
  [ -s "$f" ] || continue
  printf '\n\033[1m--- %s\033[0m\n' "${f#"$LOG_DIR"/}"
  tail -n "$n" "$f"
done
