#!/usr/bin/env bash
# `make deps`: installs what the project needs on a bare machine of this kind, idempotently.
# Each step is skipped when already satisfied; each failure says what is missing and how to get it.
# Usage: infra/local/bootstrap.sh [node|npm|servers|kafka|gotools|python|nginx]...   (default: all but nginx, in that order)
source "$(dirname "$0")/lib.sh"

BIN_DIR="$TOOLS_DIR/bin"
mkdir -p "$BIN_DIR"

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

step_node() {
  # The Makefile puts $BIN_DIR first on PATH, so a node linked there wins over the machine's.
  if [ "$(node_major)" -ge 24 ]; then ok "node $(node -v)"; return; fi
  have npm || die "npm is missing, so Node $NODE_VERSION cannot be fetched from the npm registry" \
    "install Node.js >= 22 with npm (Debian: apt-get install nodejs npm), then run make deps again"
  local arch
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) die "no Node build for CPU $(uname -m)" "install Node.js 24 yourself and put it first on PATH" ;;
  esac
  say "installing Node $NODE_VERSION (node-linux-$arch from the npm registry) into .local/tools"
  # The platform package carries the official binary and has no install scripts.
  npm install --silent --no-save --no-package-lock --ignore-scripts --prefix "$TOOLS_DIR/node" \
    "node-linux-$arch@$NODE_VERSION" ||
    die "could not download node-linux-$arch@$NODE_VERSION from the npm registry" \
      "check that https://registry.npmjs.org is reachable (npm config get registry), then run make deps again"
  ln -sf "../node/node_modules/node-linux-$arch/bin/node" "$BIN_DIR/node"
  ok "node $("$BIN_DIR/node" -v) at .local/tools/bin/node"
}

step_npm() {
  # npm ci wipes node_modules; only run it when the lockfile or the Node version changed.
  local stamp="$ROOT/node_modules/.deps-stamp" want
  want="$(cksum <"$ROOT/package-lock.json" | cut -d' ' -f1) $(node -v)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then ok "node_modules match package-lock.json"; return; fi
  say "npm ci"
  (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error) ||
    die "npm ci failed (see the npm output above)" \
      "check registry access (npm ping); if package.json changed, run npm install and commit package-lock.json"
  printf '%s' "$want" >"$stamp"
  ok "npm dependencies installed"
}

apt_install() {
  [ "$(id -u)" = 0 ] || die "missing Debian packages: $*" "run: sudo apt-get install -y --no-install-recommends $*"
  have apt-get || die "missing packages ($*) and no apt-get on this machine" "install them with your package manager"
  say "apt-get install $*"
  # Keep Debian's maintainer scripts from starting system-wide daemons (default ports, left running):
  # the native stack runs its own instances on its own ports.
  local policy=/usr/sbin/policy-rc.d created=0
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created=1; fi
  local rc=0
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1 || {
    apt-get update -q >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" || rc=$?
  }
  [ "$created" = 0 ] || rm -f "$policy"
  [ "$rc" = 0 ] || die "apt-get could not install: $*" "check the Debian mirror (apt-get update) and run make deps again"
}

step_servers() {
  local missing=()
  pg_bin >/dev/null || missing+=("postgresql-$PG_MAJOR" "postgresql-contrib")
  # pg_auto_failover: the monitor extension and pg_autoctl (the keeper), for automatic failover.
  have pg_autoctl || missing+=("postgresql-$PG_MAJOR-auto-failover" pg-auto-failover-cli)
  have redis-server || missing+=(redis-server)
  have java || missing+=(openjdk-17-jre-headless)
  have mvn || missing+=(maven)
  # Prometheus runs with the stack (infra/local/up.sh); its Debian package also brings promtool.
  have prometheus || missing+=(prometheus)
  # Headless Chromium for the ops page's browser check (tools/ops/src/bin/check-page.ts, driven by playwright-core).
  have chromium || missing+=(chromium)
  [ ${#missing[@]} = 0 ] || apt_install "${missing[@]}"
  ok "postgres $("$(pg_bin)/postgres" --version | awk '{print $3}'), $(pg_autoctl --version | head -n 1), redis $(redis-server --version | awk '{print $3}' | tr -d v=), java $(java -version 2>&1 | awk -F'"' 'NR==1{print $2}'), prometheus $(prometheus --version 2>&1 | awk 'NR==1{print $3}'), chromium $(chromium --version 2>/dev/null | awk '{print $2}')"
}

step_kafka() {
  if [ -f "$KAFKA_LIBS/kafka_2.13-$KAFKA_VERSION.jar" ]; then ok "kafka $KAFKA_VERSION broker jars"; return; fi
  have mvn || die "Maven is missing, so the Kafka broker cannot be resolved" "apt-get install -y maven"
  say "resolving the Kafka $KAFKA_VERSION broker from Maven Central (org.apache.kafka:kafka_2.13)"
  local tmp="$KAFKA_LIBS.partial"
  rm -rf "$tmp"
  mvn -B -q -Dstyle.color=never -f "$ROOT/infra/kafka/pom.xml" \
    -Dkafka.version="$KAFKA_VERSION" -Dlog4j.version="$LOG4J_VERSION" \
    -Ddependency.plugin.version="$MAVEN_DEPENDENCY_PLUGIN_VERSION" -Dlibs.dir="$tmp" \
    dependency:copy-dependencies ||
    die "Maven could not resolve org.apache.kafka:kafka_2.13:$KAFKA_VERSION" \
      "check access to https://repo.maven.apache.org (mvn -v; ~/.m2/settings.xml mirrors), then run make deps again"
  mv "$tmp" "$KAFKA_LIBS"
  ok "kafka $KAFKA_VERSION: $(ls "$KAFKA_LIBS" | wc -l) jars in .local/tools/kafka-$KAFKA_VERSION/libs"
}

# go_tool NAME MODULE VERSION: go install MODULE@VERSION as $BIN_DIR/NAME. A stamp file records the
# version built, because `go install` binaries may not know their own version (toxiproxy says "git").
go_tool() {
  local name=$1 module=$2 version=$3 stamp="$BIN_DIR/.$1.version"
  if [ -x "$BIN_DIR/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$module@$version" ]; then
    ok "$name $version"
    return
  fi
  have go || die "Go is missing, so $name cannot be built" "install Go >= 1.24 from your distribution or machine image, then run make deps again"
  say "building $name $version with go install (first time only: a few minutes on 2 cores)"
  local gobin="$TOOLS_DIR/gobin.partial"
  rm -rf "$gobin"
  GOBIN="$gobin" go install "$module@$version" ||
    die "go install $module@$version failed" "check access to the Go module proxy (go env GOPROXY), then run make deps again"
  # A fresh GOBIN holds exactly the one binary just built, whatever the module calls it.
  mv "$gobin"/* "$BIN_DIR/$name"
  rm -rf "$gobin"
  printf '%s' "$module@$version" >"$stamp"
  ok "$name $version at .local/tools/bin/$name"
}

step_gotools() {
  go_tool k6 go.k6.io/k6 "$K6_VERSION"
  # The module's binary is named `server`; we keep it as toxiproxy-server.
  go_tool toxiproxy-server github.com/Shopify/toxiproxy/v2/cmd/server "$TOXIPROXY_VERSION"
}

# schemathesis (the API fuzzer of make test's end-to-end phase) in a project-local virtualenv, every package
# pinned in tools/schemathesis/requirements.txt (pip freeze of one schemathesis release); reinstalled only when
# that file changes.
step_python() {
  local venv="$TOOLS_DIR/venv" req="$ROOT/tools/schemathesis/requirements.txt" stamp="$TOOLS_DIR/venv/.requirements"
  have python3 || apt_install python3
  python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
  if [ -x "$venv/bin/st" ] && cmp -s "$req" "$stamp"; then
    ok "schemathesis $("$venv/bin/st" --version | awk '{print $NF}') in $venv"
    return
  fi
  say "schemathesis into $venv (pinned: tools/schemathesis/requirements.txt)"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv" || die "python3 -m venv failed" "install python3-venv (apt-get install python3-venv) and run make deps again"
  "$venv/bin/pip" install -q --disable-pip-version-check --no-deps -r "$req" ||
    die "pip could not install tools/schemathesis/requirements.txt" "check access to PyPI (pip download schemathesis) and run make deps again"
  cp "$req" "$stamp"
  ok "schemathesis $("$venv/bin/st" --version | awk '{print $NF}') in $venv"
}

# Only for the gateway benchmark (make bench-gateway), not part of the default steps.
step_nginx() {
  if [ -x /usr/sbin/nginx ]; then ok "nginx $(/usr/sbin/nginx -v 2>&1 | sed 's#.*/##')"; return; fi
  apt_install nginx-light
  ok "nginx installed (the benchmark runs its own instance; no system daemon was started)"
}

steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(node npm servers kafka gotools python)
say "bootstrap: ${steps[*]}"
for s in "${steps[@]}"; do
  declare -F "step_$s" >/dev/null || die "unknown bootstrap step '$s'" "use one of: node npm servers kafka gotools python nginx"
  "step_$s"
done
