#!/usr/bin/env bash
# `make prometheus-rules-check`: promtool on the Prometheus configs, the alert rules and their unit tests.
# promtool comes with Debian's `prometheus` package; installed here with --no-install-recommends, and the
# daemon the package would start is stopped and disabled (we never run it as a system service).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT/infra/prometheus"
say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
die() { printf '\033[31mprometheus-rules-check: %s\033[0m\n' "$1" >&2; [ -n "${2:-}" ] && printf '  how to fix: %s\n' "$2" >&2; exit 1; }

if ! command -v promtool >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null ||
    die "promtool not found" "sudo apt-get install --no-install-recommends prometheus (then: sudo systemctl disable --now prometheus)"
  say "installing promtool (Debian package prometheus, --no-install-recommends)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus >/dev/null ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus >/dev/null; }
  if command -v systemctl >/dev/null 2>&1; then systemctl disable --now prometheus >/dev/null 2>&1 || true; fi
fi

say "promtool $(promtool --version 2>&1 | head -1 | awk '{print $3}'): configs"
# prometheus.yml's rule_files point into the container (/etc/prometheus/rules); check a copy pointed here.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s|/etc/prometheus/rules/|$PWD/rules/|" prometheus.yml >"$tmp/prometheus.yml"
promtool check config "$tmp/prometheus.yml"
promtool check config prometheus-native.yml

say "alert and recording rules"
promtool check rules rules/*.yml

say "rule unit tests (tests/*.test.yml)"
promtool test rules tests/*.test.yml
