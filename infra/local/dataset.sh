#!/usr/bin/env bash
# PostgreSQL, Redis and Kafka hold one dataset between them: every order in Kafka's orders.requested must be in
# PostgreSQL or the DLQ, and Redis's gates count the units PostgreSQL sold. One of them made afresh beside the
# others' old data contradicts them: a new PostgreSQL beside an old Kafka log finds every order of that log
# "lost", and make verify fails on a stack nobody broke. So each part's data dir carries the id of the dataset
# it was made for (a file named dataset-id), and infra-up starts only a state dir whose parts agree.
#
#   dataset.sh verdict STATE_DIR   prints "fresh" (no part holds data), "same ID", or "mixed pg=… redis=… kafka=…"
#   dataset.sh mark STATE_DIR      writes a new id into every part's dir (for a fresh state dir)
#   dataset.sh set-aside STATE_DIR moves every part's dir to STATE_DIR/set-aside/<time>/ (the stack must be stopped)
#
# A part's dir holds "none" (absent or empty), "unmarked" (data made before dataset ids, or by hand), or an id.
# Anything but all-none or one id everywhere is mixed: made before ids existed, or a part deleted by hand.
# Nothing is deleted: make infra-clean removes what was set aside with the rest.
set -Eeuo pipefail

PARTS=(pg redis kafka)

usage() {
  echo "usage: $0 verdict|mark|set-aside STATE_DIR" >&2
  exit 2
}

part_id() { # DIR
  local dir=$1
  if [ -s "$dir/dataset-id" ]; then
    tr -d '[:space:]' <"$dir/dataset-id"
  elif [ -d "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
    echo unmarked
  else
    echo none
  fi
}

verdict() {
  local state=$1 part id first="" same=1 all_none=1 detail=""
  for part in "${PARTS[@]}"; do
    id=$(part_id "$state/$part")
    detail="${detail:+$detail }$part=$id"
    [ "$id" = none ] || all_none=0
    if [ -z "$first" ]; then first=$id; elif [ "$id" != "$first" ]; then same=0; fi
  done
  if [ "$all_none" = 1 ]; then
    echo fresh
  elif [ "$same" = 1 ] && [ "$first" != unmarked ]; then
    echo "same $first"
  else
    echo "mixed $detail"
  fi
}

mark() {
  local state=$1 part id
  id=$(cat /proc/sys/kernel/random/uuid)
  for part in "${PARTS[@]}"; do
    mkdir -p "$state/$part"
    printf '%s\n' "$id" >"$state/$part/dataset-id"
  done
  echo "$id"
}

set_aside() {
  local state=$1 part aside
  aside="$state/set-aside/$(date -u +%Y%m%dT%H%M%SZ)"
  mkdir -p "$aside"
  for part in "${PARTS[@]}"; do
    [ -e "$state/$part" ] || continue
    mv "$state/$part" "$aside/$part"
  done
  echo "$aside"
}

[ $# = 2 ] || usage
case "$1" in
  verdict) verdict "$2" ;;
  mark) mark "$2" ;;
  set-aside) set_aside "$2" ;;
  *) usage ;;
esac
