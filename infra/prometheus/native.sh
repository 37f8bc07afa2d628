#!/usr/bin/env bash
# Prometheus for the native stack (make services-up), with the same alert rules as docker-compose.yml.
# make infra-up starts one with the stack (http://127.0.0.1:59090, data in the state dir); this script runs others:
#   infra/prometheus/native.sh          run it in the foreground on 127.0.0.1:${PROM_PORT:-9090} (Ctrl-C stops it)
#   infra/prometheus/native.sh --check  start it on a spare port, scrape for ${CHECK_SECONDS:-20} s, then report:
#                                       every target up, every rule evaluated without error, alerts pending or
#                                       firing; stop it. Exit 1 when a target is down or a rule fails.
# Uses the Debian package's binary (make prometheus-rules-check installs it); data in a temp dir.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CONFIG="$ROOT/infra/prometheus/prometheus-native.yml"
die() { printf '\033[31mprometheus: %s\033[0m\n' "$1" >&2; [ -n "${2:-}" ] && printf '  how to fix: %s\n' "$2" >&2; exit 1; }
command -v prometheus >/dev/null || die "prometheus not found" "make prometheus-rules-check installs the Debian package"
DATA=$(mktemp -d)

if [ "${1:-}" != --check ]; then
  trap 'rm -rf "$DATA"' EXIT
  echo "Prometheus for the native stack on http://127.0.0.1:${PROM_PORT:-9090} (alerts: /alerts); Ctrl-C stops it"
  prometheus --config.file="$CONFIG" --storage.tsdb.path="$DATA" --web.listen-address="127.0.0.1:${PROM_PORT:-9090}" --log.level=warn
  exit
fi

PORT=${PROM_CHECK_PORT:-19090}
prometheus --config.file="$CONFIG" --storage.tsdb.path="$DATA" --web.listen-address="127.0.0.1:$PORT" --log.level=warn >"$DATA/log" 2>&1 &
PID=$!
trap 'kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; rm -rf "$DATA"' EXIT
sleep "${CHECK_SECONDS:-20}"
kill -0 "$PID" 2>/dev/null || { cat "$DATA/log" >&2; die "prometheus exited (port $PORT taken?)" "PROM_CHECK_PORT=<free port>"; }
python3 - "http://127.0.0.1:$PORT" <<'EOF'
import json, sys, urllib.request
base = sys.argv[1]
get = lambda path: json.load(urllib.request.urlopen(base + path))['data']
bad = 0
for t in sorted(get('/api/v1/targets?state=active')['activeTargets'], key=lambda t: t['scrapeUrl']):
    up = t['health'] == 'up'
    bad += not up
    print(f"    {'ok  ' if up else 'DOWN'}  {t['labels']['job']:<17} {t['scrapeUrl']} {t['lastError'][:80]}")
rules = [r for g in get('/api/v1/rules')['groups'] for r in g['rules']]
broken = [r for r in rules if r.get('health') != 'ok']
for r in broken:
    print(f"    FAIL  rule {r['name']}: {r.get('lastError')}")
bad += len(broken)
print(f"    {len(rules) - len(broken)}/{len(rules)} rules evaluated without error")
for a in get('/api/v1/alerts')['alerts']:
    labels = {k: v for k, v in a['labels'].items() if k not in ('alertname', 'severity')}
    print(f"    {a['state']:<8} {a['labels']['alertname']} ({a['labels'].get('severity')}) {labels} value={float(a['value']):.3g}")
sys.exit(1 if bad else 0)
EOF
