#!/usr/bin/env bash
# The API fuzzer of `make test`'s end-to-end phase: schemathesis (pinned, make deps installs it into
# .local/tools/venv) generates requests from the gateway's own OpenAPI document (GET /openapi.json) for every
# public route, then from each service's, with real buyer tokens (hooks.py), and checks every answer against
# the document: no 5xx,
# documented status codes, content types, headers and bodies. Bounded in count (FUZZ_EXAMPLES per
# operation and phase; the coverage phase adds its boundary cases) and time (FUZZ_MAX_SECONDS, a hard stop).
# Fails when a check fails, when a 5xx was answered, or when fewer than FUZZ_MIN_REQUESTS requests were
# sent; prints the count either way.
#   FUZZ_EXAMPLES=60 FUZZ_SERVICE_EXAMPLES=20 FUZZ_MIN_REQUESTS=1000 FUZZ_MAX_SECONDS=300 FUZZ_SEED=20261207 tools/schemathesis/run.sh
source "$(dirname "$0")/../../infra/local/lib.sh"

ST="$TOOLS_DIR/venv/bin/st"
[ -x "$ST" ] || die "schemathesis not found in $TOOLS_DIR/venv" "run make deps (it installs tools/schemathesis/requirements.txt)"
GATEWAY="http://127.0.0.1:$GATEWAY_PORT"
curl -fsS -o /dev/null -m 5 "$GATEWAY/openapi.json" || die "the gateway does not serve $GATEWAY/openapi.json" "start the services: make services-up"

out="$STATE_DIR/fuzz"
rm -rf "$out" && mkdir -p "$out"
# Real buyers: tokens from the demo endpoint, as k6's buyers get theirs.
(cd "$ROOT" && node -e '
  const [gateway, n] = process.argv.slice(1)
  const run = async () => {
    const lines = []
    for (let i = 0; i < Number(n); i++) {
      const res = await fetch(`${gateway}/auth/demo-token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ userId: `fuzz-${process.pid}-${i}` }) })
      if (res.status !== 201) throw new Error(`POST /auth/demo-token answered ${res.status}`)
      lines.push((await res.json()).token)
    }
    process.stdout.write(lines.join("\n") + "\n")
  }
  run().catch((err) => { console.error(err.message); process.exit(1) })
' "$GATEWAY" "${FUZZ_TOKENS:-200}" >"$out/tokens") || die "could not get buyer tokens from $GATEWAY/auth/demo-token" "is the gateway up with DEMO_TOKENS_ENABLED=true (make services-up)?"

# fuzz NAME URL EXAMPLES MIN_REQUESTS: one document, checked; fails the run on any finding.
fuzz() {
  local name=$1 url=$2 examples=$3 min=$4 dir="$out/$1" status=0
  mkdir -p "$dir"
  say "API fuzzing: schemathesis $("$ST" --version | awk '{print $NF}') against $url/openapi.json ($examples examples per operation and phase, at most ${FUZZ_MAX_SECONDS:-300} s)"
  # One worker: hypothesis parses the source of its filters with ast, and two threads doing so at once crashed
  # CPython 3.11 ("AST constructor recursion depth mismatch"); one is fast enough here.
  # Run from the state dir: schemathesis keeps its cache (.schemathesis/) in the working directory.
  (cd "$dir" && FUZZ_TOKENS="$out/tokens" SCHEMATHESIS_HOOKS=hooks PYTHONPATH="$ROOT/tools/schemathesis" PYTHONDONTWRITEBYTECODE=1 timeout "${FUZZ_MAX_SECONDS:-300}" "$ST" run "$url/openapi.json" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
    --phases examples,coverage,fuzzing --max-examples "$examples" --seed "${FUZZ_SEED:-20261207}" --workers 1 \
    --request-timeout 10 --no-color --report ndjson --report-ndjson-path "$dir/events.ndjson" >"$dir/log" 2>&1) || status=$?
  tail -n 25 "$dir/log"
  # Count the requests from the run's own event stream: every network call schemathesis made.
  local requests server_errors
  requests=$({ grep -o '"response":' "$dir/events.ndjson" 2>/dev/null || true; } | wc -l)
  server_errors=$({ grep -oE '"status_code": ?5[0-9][0-9]' "$dir/events.ndjson" 2>/dev/null || true; } | wc -l)
  echo "    fuzz $name: $requests requests, $server_errors answered 5xx (report: $dir/events.ndjson, log: $dir/log)"
  [ "$status" = 0 ] || die "the API fuzzer found answers of $name that break its contract (listed above; all of it in $dir/log)" \
    "each failure prints a curl command that reproduces it; fix the service or its contract (services/<name>/src/contract.ts), then make route-table openapi"
  [ "$server_errors" = 0 ] || die "$name answered $server_errors requests with a 5xx (listed above)" "each failure prints a curl command that reproduces it"
  [ "$requests" -ge "$min" ] || die "the API fuzzer sent only $requests requests to $name (at least $min expected)" "raise FUZZ_EXAMPLES; read $dir/log"
  ok "API fuzzing of $name: $requests requests, 0 server errors, every answer as its OpenAPI document says"
}

# The public API, through the gateway: the bar of at least FUZZ_MIN_REQUESTS requests.
fuzz gateway "$GATEWAY" "${FUZZ_EXAMPLES:-60}" "${FUZZ_MIN_REQUESTS:-1000}"
# Each service's own document, called directly as a neighbour service or an operator would (fewer examples:
# the gateway's run has already sent their public routes' inputs through).
for svc in "inventory http://127.0.0.1:$INVENTORY_PORT" "catalog http://127.0.0.1:$CATALOG_PORT" "order http://127.0.0.1:$ORDER_PORT" "review http://127.0.0.1:$REVIEW_PORT"; do
  read -r name url <<<"$svc"
  fuzz "$name" "$url" "${FUZZ_SERVICE_EXAMPLES:-20}" 1
done
