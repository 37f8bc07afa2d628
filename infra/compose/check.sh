#!/usr/bin/env bash
# `make compose-check`: validates docker-compose.yml, the Dockerfile and the monitoring config on a machine
# WITHOUT a Docker engine, and says plainly what it could not do. Steps:
#   1. compose-go (the loader of Docker Compose v2: schema, interpolation, anchors, profiles) resolves the
#      file; built once from infra/compose/validate with Go (module proxy), skipped without Go;
#   2. docker-compose v1 (Debian package) `config -q`, on a copy without the top-level `name:` (v1 predates it);
#   3. policy checks over the resolved model, the Dockerfile and .dockerignore, Prometheus targets, alert rules
#      and Grafana dashboards, metric names cross-checked against the code (infra/compose/check.py);
#   4. the image's file tree, emulated: the build context copied to a temp dir, `npm ci --omit=dev` there,
#      every module imported for real and every entry's import graph resolved, and the `keys` job run in it;
#   5. the kafka service's KRaft settings rendered to server.properties as the apache/kafka image does and
#      formatted by Kafka's own StorageTool (the native stack's jars), which validates the broker config.
# COMPOSE_CHECK_SKIP_IMAGE=1 skips step 4 (it needs the npm registry or a warm npm cache).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
export PATH="$ROOT/.local/tools/bin:$PATH"
export NODE_OPTIONS="${NODE_OPTIONS:---disable-warning=TimeoutNegativeWarning}"
TOOLS="$ROOT/.local/tools"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
die() { printf '\033[31mcompose-check: %s\033[0m\n' "$1" >&2; [ -n "${2:-}" ] && printf '  how to fix: %s\n' "$2" >&2; exit 1; }
NOT_RUN=()

have() { command -v "$1" >/dev/null 2>&1; }
apt_install() { # PACKAGE: Debian packages this check needs (root only; else say the command)
  if [ "$(id -u)" = 0 ] && have apt-get; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >/dev/null ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >/dev/null; }
  else
    return 1
  fi
}
have node && node -e 'process.exit(+process.versions.node.split(".")[0] >= 22 ? 0 : 1)' ||
  die "Node >= 22 (type stripping) not found on PATH" "run make deps (it installs Node 24 into .local/tools)"
have python3 && python3 -c 'import yaml' 2>/dev/null || apt_install python3-yaml ||
  die "python3 with PyYAML is needed" "sudo apt-get install --no-install-recommends python3-yaml"

# ---------------------------------------------------------------------------------------------- 1. compose-go
say "1. compose-go (Docker Compose v2's loader) resolves docker-compose.yml, every profile on"
VALIDATOR="$TOOLS/bin/compose-validate"
SRC="$ROOT/infra/compose/validate"
if [ ! -x "$VALIDATOR" ] || [ "$SRC/main.go" -nt "$VALIDATOR" ] || [ "$SRC/go.mod" -nt "$VALIDATOR" ]; then
  if have go; then
    mkdir -p "$TOOLS/bin"
    (cd "$SRC" && GOFLAGS=-buildvcs=false go build -o "$VALIDATOR" .) || die "could not build infra/compose/validate" "check Go >= 1.24 and the Go module proxy"
  fi
fi
RESOLVED="$WORK/resolved.json"
if [ -x "$VALIDATOR" ]; then
  "$VALIDATOR" -profile '*' docker-compose.yml >"$RESOLVED" || die "compose-go rejected docker-compose.yml (above)"
  echo "    ok    valid for compose-go $(sed -n 's/.*compose-go\/v2 \(v[0-9.]*\).*/\1/p' "$SRC/go.mod" | head -1): $(python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(len(d['services']), 'services,', len(d.get('volumes') or {}), 'volumes')" "$RESOLVED")"
else
  NOT_RUN+=("compose-go validation (no Go toolchain: install Go >= 1.24)")
  echo "    skip  no Go toolchain: compose-go not built"
fi

# ---------------------------------------------------------------------------------------------- 2. docker-compose v1
say "2. docker-compose v1 (Debian) config -q"
have docker-compose || apt_install docker-compose || true
if have docker-compose; then
  grep -v '^name: ' docker-compose.yml >"$WORK/docker-compose.v1.yml"
  docker-compose -f "$WORK/docker-compose.v1.yml" --project-directory "$ROOT" -p flashsale --profile load config -q ||
    die "docker-compose v1 rejected docker-compose.yml (above)"
  echo "    ok    valid for $(docker-compose version --short 2>/dev/null || echo v1) (top-level name: removed for v1, which predates it)"
  if [ ! -s "$RESOLVED" ]; then
    docker-compose -f "$WORK/docker-compose.v1.yml" --project-directory "$ROOT" -p flashsale --profile load config >"$WORK/resolved.yml"
    RESOLVED="$WORK/resolved.yml"
  fi
else
  NOT_RUN+=("docker-compose v1 config (package docker-compose not installable here)")
  echo "    skip  docker-compose not installed"
fi
[ -s "$RESOLVED" ] || die "neither compose-go nor docker-compose could resolve the file" "install Go or the docker-compose package"

# ---------------------------------------------------------------------------------------------- 3. policy
say "3. policy: compose, Dockerfile, Prometheus targets, rules and dashboards against the code"
node infra/compose/metric-names.ts >"$WORK/metrics.json"
python3 infra/compose/check.py --resolved "$RESOLVED" --metrics "$WORK/metrics.json"

# ---------------------------------------------------------------------------------------------- 4. image tree
say "4. the image's file tree, emulated in a temp dir (build context + npm ci --omit=dev)"
if [ "${COMPOSE_CHECK_SKIP_IMAGE:-}" = 1 ]; then
  NOT_RUN+=("image tree emulation (COMPOSE_CHECK_SKIP_IMAGE=1)")
  echo "    skip  COMPOSE_CHECK_SKIP_IMAGE=1"
else
  # The Dockerfile's steps, in order: the build context (.dockerignore applied) → the manifests stage's
  # find/cp → npm ci on the manifests alone → the sources copied over.
  IMG="$WORK/app" CTX="$WORK/context"
  mkdir -p "$IMG" "$CTX"
  python3 infra/compose/check.py --context-files | tar -cf - -T - | tar -xf - -C "$CTX"
  (cd "$CTX" && cp package.json package-lock.json "$IMG/" &&
    find . -mindepth 2 -maxdepth 3 -name package.json -not -path './node_modules/*' -exec cp --parents {} "$IMG/" \;)
  (cd "$IMG" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >"$WORK/npm.log" 2>&1) ||
    { tail -20 "$WORK/npm.log"; die "npm ci --omit=dev failed in the emulated image (as the Dockerfile's RUN would)" "is package-lock.json in sync with every workspace's package.json? (npm install)"; }
  echo "    ok    npm ci --omit=dev on the manifests: $(du -sh "$IMG/node_modules" | cut -f1) of runtime dependencies"
  cp -a "$CTX/." "$IMG/"
  mapfile -t ENTRIES < <(python3 -c "
import json,sys,yaml
m=yaml.safe_load(open(sys.argv[1]))
for s in m['services'].values():
    c=s.get('command') or []
    if c[:1]==['node']:
        print(next(a for a in c[1:] if not a.startswith('-')))
" "$RESOLVED" | sort -u)
  node infra/compose/image-imports.ts "$IMG" "${ENTRIES[@]}" packages/auth/src/bin/generate-keys.ts packages/auth/src/bin/issue-token.ts
  mkdir -p "$WORK/keys"
  (cd "$IMG" && KEYS_DIR="$WORK/keys" bash infra/docker/keys.sh >/dev/null) || die "the keys job (infra/docker/keys.sh) failed in the emulated image"
  for f in public.env gateway.env service-token.env k6.env; do [ -s "$WORK/keys/$f" ] || die "keys.sh did not write $f"; done
  node --env-file="$WORK/keys/public.env" --env-file="$WORK/keys/service-token.env" -e '
    JSON.parse(process.env.AUTH_JWT_PUBLIC_JWK); if (process.env.INVENTORY_SERVICE_TOKEN.split(".").length !== 3) process.exit(1)' ||
    die "the keys job wrote env files Node cannot read"
  echo "    ok    the keys job ran in it: public.env, gateway.env, service-token.env, k6.env readable by node --env-file"
fi

# ---------------------------------------------------------------------------------------------- 5. Kafka config
say "5. the kafka service's KRaft settings, formatted by Kafka's own StorageTool (the native stack's jars)"
source infra/versions.env
KAFKA_LIBS="$TOOLS/kafka-$KAFKA_VERSION/libs"
if have java && [ -d "$KAFKA_LIBS" ]; then
  python3 infra/compose/check.py --resolved "$RESOLVED" --kafka-properties "$WORK/kafka-data" >"$WORK/server.properties"
  cluster_id=$(sed -n 's/^# cluster.id=//p' "$WORK/server.properties")
  [ -n "$cluster_id" ] || die "the kafka service has no CLUSTER_ID"
  java -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool format -t "$cluster_id" -c "$WORK/server.properties" >"$WORK/kafka-format.log" 2>&1 ||
    { grep -v '^\s*at ' "$WORK/kafka-format.log" | tail -5; die "Kafka $KAFKA_VERSION rejects the kafka service's settings (above)"; }
  echo "    ok    Kafka $KAFKA_VERSION formats a log dir with them: $(grep -o 'metadata.version [^ ]*' "$WORK/kafka-format.log" | head -1 | sed 's/\.$//'), cluster id $cluster_id"
else
  NOT_RUN+=("Kafka config check (no java or no $KAFKA_LIBS: run make deps)")
  echo "    skip  no java or no Kafka jars in $KAFKA_LIBS (make deps installs them)"
fi

# ---------------------------------------------------------------------------------------------- what was not run
say "compose-check passed"
cat <<EOF
    NOT run here (no Docker engine on this machine):
      - no image was built (docker build): the Dockerfile's steps were emulated in a temp dir, not executed
      - no image was pulled: the tags of postgres, redis, apache/kafka, prom/prometheus, grafana/grafana,
        grafana/k6 and node are pinned but not checked against a registry
      - nothing was started: healthchecks, depends_on ordering, pg_basebackup in the replicas, the Kafka
        broker, Prometheus scraping and Grafana provisioning have not run
      - Grafana itself was not run (not installable here): dashboards were checked for structure only
EOF
for n in "${NOT_RUN[@]}"; do echo "      - $n"; done
