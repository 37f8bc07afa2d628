#!/usr/bin/env bash
# `make helm-check`: the Helm chart (deploy/helm/flashsale) checked offline, with no cluster:
#   1. tools: helm and kubectl-validate built by `go install` at the versions of infra/versions.env (once);
#   2. CRDs: CloudNativePG's from its Go module; Strimzi's derived from its Java API on Maven Central
#      (deploy/helm/strimzi-crds: what that leaves unchecked is printed at the end);
#   3. the chart's copy of the topic definition is current (deploy/helm/bin/topics.ts);
#   4. helm lint --strict and helm template, for the defaults and both profiles (values-small, values-large);
#   5. kubectl-validate on every rendered object: built-in kinds against Kubernetes $KUBE_VERSION, custom
#      resources against the CRDs of step 2, unknown fields refused;
#   6. the chart tests (deploy/helm/test/*.test.ts), which render the chart and assert what matters, and prove
#      that a broken template fails step 5.
# Usage: deploy/helm/check.sh               everything
#        deploy/helm/check.sh validate DIR   steps 4-5 for the chart in DIR (the tests use it on a broken copy)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../../infra/versions.env
source "$ROOT/infra/versions.env"
TOOLS_DIR="$ROOT/.local/tools"
BIN_DIR="$TOOLS_DIR/bin"
WORK="$ROOT/.local/helm-check"
CRDS="$WORK/crds"
export PATH="$BIN_DIR:$PATH"
mkdir -p "$BIN_DIR" "$WORK"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
ok() { printf '    ok  %s\n' "$*"; }
die() { printf '\033[31mhelm-check: %s\033[0m\n    how to fix: %s\n' "$1" "$2" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

# go_tool NAME MODULE VERSION: go install MODULE@VERSION as $BIN_DIR/NAME, once; a stamp records the version
# built (a `go install` binary may not know its own: helm prints "v4.3"). The same pattern as infra/local/bootstrap.sh.
go_tool() {
  local name=$1 module=$2 version=$3 stamp="$BIN_DIR/.$1.version"
  if [ -x "$BIN_DIR/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$module@$version" ]; then ok "$name $version"; return; fi
  have go || die "Go is missing, so $name cannot be built" "install Go >= 1.24 (Debian: apt-get install golang, or go.dev/dl), then run make helm-check again"
  say "building $name $version with go install (first time only: several minutes on 2 cores)"
  local gobin="$TOOLS_DIR/gobin-$name.partial"
  rm -rf "$gobin"
  GOBIN="$gobin" GOFLAGS=-mod=mod go install "$module@$version" ||
    die "go install $module@$version failed" "check access to the Go module proxy (go env GOPROXY; e.g. curl -sI https://proxy.golang.org), then run make helm-check again"
  mv "$gobin"/* "$BIN_DIR/$name"
  rm -rf "$gobin"
  printf '%s' "$module@$version" >"$stamp"
  ok "$name $version at .local/tools/bin/$name"
}

# The chart's CRDs for kubectl-validate, made once per pinned version.
crds() {
  local stamp="$CRDS/.versions" want="cnpg=$CNPG_VERSION strimzi=$STRIMZI_VERSION"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then ok "CRDs: CloudNativePG $CNPG_VERSION, Strimzi $STRIMZI_VERSION (derived)"; return; fi
  rm -rf "$CRDS" && mkdir -p "$CRDS"
  say "CloudNativePG $CNPG_VERSION CRDs from its Go module (config/crd/bases)"
  local dir
  dir=$(cd "$WORK" && GOFLAGS=-mod=mod go mod download -json "github.com/cloudnative-pg/cloudnative-pg@$CNPG_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p') ||
    die "go mod download github.com/cloudnative-pg/cloudnative-pg@$CNPG_VERSION failed" "check access to the Go module proxy (go env GOPROXY)"
  [ -f "$dir/config/crd/bases/postgresql.cnpg.io_clusters.yaml" ] || die "no config/crd/bases in $dir" "check CNPG_VERSION in infra/versions.env"
  cp "$dir"/config/crd/bases/postgresql.cnpg.io_*.yaml "$CRDS/"
  ok "$(ls "$CRDS" | wc -l) CloudNativePG CRDs"

  say "Strimzi $STRIMZI_VERSION CRDs derived from its Java API model, io.strimzi:api (Maven Central)"
  have mvn && have java || die "Maven and Java are needed to derive Strimzi's CRDs" "apt-get install -y --no-install-recommends maven openjdk-17-jre-headless (make deps installs both)"
  local libs="$TOOLS_DIR/strimzi-crd-libs-$STRIMZI_VERSION"
  if [ ! -f "$libs/api-$STRIMZI_VERSION.jar" ]; then
    rm -rf "$libs.partial"
    mvn -B -q -Dstyle.color=never -f "$ROOT/deploy/helm/strimzi-crds/pom.xml" -Dstrimzi.version="$STRIMZI_VERSION" \
      -Ddependency.plugin.version="$MAVEN_DEPENDENCY_PLUGIN_VERSION" \
      -Dlibs.dir="$libs.partial" dependency:copy-dependencies ||
      die "Maven could not resolve io.strimzi:api:$STRIMZI_VERSION" "check access to https://repo.maven.apache.org (~/.m2/settings.xml mirrors)"
    mv "$libs.partial" "$libs"
  fi
  java -cp "$libs/*" "$ROOT/deploy/helm/strimzi-crds/GenerateStrimziCrds.java" "$CRDS" 2> >(grep -v '^SLF4J' >&2) ||
    die "deriving Strimzi's CRDs failed (output above)" "check STRIMZI_VERSION in infra/versions.env"
  printf '%s' "$want" >"$stamp"
}

# validate CHART_DIR [OUT_DIR]: lint and render the defaults and both profiles, then kubectl-validate everything.
validate() {
  local chart=$1 out=${2:-$(mktemp -d)} profile args rc=0
  for profile in default small large; do
    args=()
    [ "$profile" = default ] || args=(-f "$chart/values-$profile.yaml")
    helm lint --strict "$chart" "${args[@]}" >"$out/lint-$profile.txt" 2>&1 || { cat "$out/lint-$profile.txt" >&2; echo "helm lint failed ($profile)" >&2; return 1; }
    helm template flashsale "$chart" --namespace flashsale "${args[@]}" >"$out/$profile.yaml" || { echo "helm template failed ($profile)" >&2; return 1; }
    echo "    $profile: lint ok, $(grep -c '^kind:' "$out/$profile.yaml") objects rendered"
  done
  # One object per file: kubectl-validate names the file of each error.
  kubectl-validate --version "$KUBE_VERSION" --local-crds "$CRDS" "$out"/default.yaml "$out"/small.yaml "$out"/large.yaml >"$out/validate.txt" 2>&1 || rc=$?
  if [ "$rc" != 0 ] || grep -q -E 'ERROR|error' "$out/validate.txt"; then
    cat "$out/validate.txt" >&2
    echo "kubectl-validate refused the rendered manifests (above)" >&2
    return 1
  fi
  echo "    kubectl-validate: $(grep -c '^kind:' "$out"/default.yaml "$out"/small.yaml "$out"/large.yaml | awk -F: '{n += $2} END {print n}') objects valid (Kubernetes $KUBE_VERSION, CloudNativePG $CNPG_VERSION, Strimzi $STRIMZI_VERSION derived)"
}

if [ "${1:-}" = validate ]; then
  [ -n "${2:-}" ] || die "usage: deploy/helm/check.sh validate CHART_DIR [OUT_DIR]" "name the chart directory"
  validate "$2" "${3:-}"
  exit
fi

start=$(date +%s)
say "tools (infra/versions.env)"
# Node 24 (the chart tests are TypeScript run by Node's type stripping) and, on a clean clone only, the npm
# packages (the tests parse YAML with `yaml`): the bootstrap steps of make deps. An existing node_modules is never
# reinstalled here (npm ci wipes it; a checkout may share another's through a symlink).
node_ok=$(node -p 'Number(process.versions.node.split(".")[0]) >= 24' 2>/dev/null || echo false)
[ "$node_ok" = true ] || "$ROOT/infra/local/bootstrap.sh" node
[ -e "$ROOT/node_modules" ] || "$ROOT/infra/local/bootstrap.sh" npm
[ -f "$ROOT/node_modules/yaml/package.json" ] || die "node_modules has no yaml package (the chart tests parse the rendered YAML with it)" "run make deps (npm ci)"
go_tool helm helm.sh/helm/v4/cmd/helm "$HELM_VERSION"
go_tool kubectl-validate sigs.k8s.io/kubectl-validate "$KUBECTL_VALIDATE_VERSION"
crds

say "topics: the chart's copy of packages/kafka/src/topics.ts"
node "$ROOT/deploy/helm/bin/topics.ts"

say "helm lint, helm template and kubectl-validate (deploy/helm/flashsale)"
rm -rf "$WORK/rendered" && mkdir -p "$WORK/rendered"
validate "$ROOT/deploy/helm/flashsale" "$WORK/rendered" || die "the chart does not validate (above)" "fix the template or values named above; the rendered manifests are in .local/helm-check/rendered/"

say "chart tests (deploy/helm/test): typecheck, then run"
(cd "$ROOT" && npx --no-install tsc -p deploy/helm/tsconfig.json) || die "tsc found type errors in deploy/helm (above)" "fix them"
node --test --test-reporter=spec "$ROOT"/deploy/helm/test/*.test.ts || die "chart tests failed (above)" "fix the chart or the test"

cat <<EOF
==> NOT validated (no cluster here, and not every schema is published where this machine can reach it):
    - Strimzi resources are checked against CRDs DERIVED from io.strimzi:api $STRIMZI_VERSION (field names, nesting,
      types), not Strimzi's published CRDs: no minimums, patterns, required fields, one-of rules or CEL rules,
      and each API version accepts the union of every version's fields (deploy/helm/strimzi-crds).
    - Built-in kinds are checked against their OpenAPI schemas (types, unknown fields), not the API server's
      own validation code: e.g. a Deployment with an empty containers list passes kubectl-validate.
    - Nothing was applied to a cluster: no admission webhooks (CloudNativePG's, Strimzi's), no operator
      reconciliation, no scheduling, no NetworkPolicy enforcement, no image pull.
    - HPA custom and external metrics are checked for shape only; serving them needs a metrics adapter.
    - The Redis/Sentinel scripts and the migration Job never ran here (docs/adr/0036-kubernetes.md).
make helm-check: $(($(date +%s) - start))s
EOF
