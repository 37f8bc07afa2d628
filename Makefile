# The two commands: `make demo` and `make test`. Everything installs itself on first use.
# Run `make help` for the rest.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
# Project-local tools (Node 24, k6, toxiproxy-server) come first; bootstrap puts them there.
export PATH := $(CURDIR)/.local/tools/bin:$(PATH)
# kafkajs 2.2.4 schedules negative timeouts on Node >= 22: a harmless warning printed on every start.
export NODE_OPTIONS := --disable-warning=TimeoutNegativeWarning

.PHONY: help demo ops-screenshot layout-check verify dlq test test-e2e deps infra-up infra-down infra-status infra-logs infra-clean services-up services-down down lint format format-check typecheck check route-table-check route-table openapi openapi-check bench-worker bench-gateway bench-overload bench-order bench-burst bench-room bench-report chaos-order-instance chaos-kafka chaos-replica chaos-primary chaos-redis chaos-downstream-500 chaos-latency chaos-latency-postgres chaos-hang chaos-pool-exhaustion chaos-retry-storm \
	load-flash-sale load-peak-2x load-overload load-bots load-browse load-soak load-burst load-waiting-room

help: ## list the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

demo: ## THE demo: stack up, seed, services (2x order and catalog), a k6 flash sale, verify, summary; leaves it up (DURATION=60s USERS=3000 HOT_UNITS=300)
	@tools/demo/demo.sh

ops-screenshot: ## the ops page (make demo prints its URL) in headless Chromium: checks it and saves .local/demo/ops-page.png (OUT=...)
	@node tools/ops/src/bin/check-page.ts --screenshot $(or $(OUT),.local/demo/ops-page.png)

verify: ## check the invariants on the running stack: no oversell, nothing lost, no duplicates, Redis = Postgres, lag drained (WAIT=60)
	@[ -f .local/stack.env ] || { echo "verify: the stack is not up (no .local/stack.env); run make infra-up or make demo" >&2; exit 2; }
	@node --env-file=.local/stack.env tools/verify/src/bin/verify.ts --wait $(or $(WAIT),60) --json .local/demo/verify.json

dlq: ## the order DLQ: list (default), or ARGS="show 0:12" / "replay 0:12" / "replay --all" / "discard 0:12"
	@node --env-file=.local/stack.env --env-file=.local/auth.env services/order/src/bin/dlq.ts $(or $(ARGS),list)

test: deps ## all tests on real PostgreSQL, Redis, Kafka, then a 20 s flash sale end to end + verify; starts (and stops) the stack; ONLY=packages/db to narrow (no e2e)
	@start=$$(date +%s); status=0; \
	infra/local/with-stack.sh bash -c 'node scripts/run-tests.ts $(ONLY) && { [ -n "$(ONLY)" ] || tools/demo/e2e-flash-sale.sh; }' || status=$$?; \
	echo "make test: $$(( $$(date +%s) - start ))s"; exit $$status

test-e2e: deps ## only the end-to-end phase of make test: services up, a short k6 flash sale, verify (E2E_DURATION=20s)
	@infra/local/with-stack.sh tools/demo/e2e-flash-sale.sh

deps: ## install what is missing: Node 24, npm packages, PostgreSQL (pg_auto_failover), Redis, Kafka, k6, Toxiproxy, Prometheus, Chromium, schemathesis (a project-local Python venv)
	@infra/local/bootstrap.sh

infra-up: deps ## start PostgreSQL primary + 2 replicas, Redis, Kafka, Toxiproxy (idempotent)
	@infra/local/up.sh

services-up: infra-up ## start every service natively (2 catalog, 2 order API, worker, review, projector, gateway on :8080); idempotent
	@infra/local/services-up.sh

services-down: ## stop the services (SIGTERM, drain, then SIGKILL leftovers); the infrastructure stays up
	@infra/local/services-down.sh

down: ## stop everything: the services, then the infrastructure (data is kept)
	@infra/local/down.sh

infra-down: ## stop every process of the native stack, the services first (data is kept)
	@infra/local/down.sh

infra-status: ## one line per part and per service: up or down, lag, URL
	@infra/local/status.sh

infra-logs: ## tail every server log (N=200 for more lines)
	@infra/local/logs.sh

infra-clean: infra-down ## stop the stack and delete its data
	@source infra/local/lib.sh && rm -rf "$$STATE_DIR" "$$LOCAL_DIR/state" && echo "removed $$STATE_DIR"

# k6 against the running stack (make services-up / make demo); knobs are env vars, e.g. DURATION=20s; see k6/README.md.
load-flash-sale: ## k6: USERS buyers race for the hot SKU (SKU=, else HOT_SKU of .local/demo.env); DURATION=60s
	@k6/run.sh flash-sale

load-peak-2x: ## k6: the shop's mixed traffic at 2x CAPACITY_RPS for DURATION=3m
	@k6/run.sh peak-2x

load-overload: ## k6: 5x CAPACITY_RPS: fast 429/503, no 5xx, core still served
	@k6/run.sh overload

load-bots: ## k6: scalper bots hammer the sale while buyers buy; bots limited, buyers served
	@k6/run.sh bots

load-browse: ## k6: catalog- and review-heavy reads of the seeded catalog
	@k6/run.sh browse

load-soak: ## k6: long and low (DURATION=30m), with buyers who pay; not for CI
	@k6/run.sh soak

# burst creates its own sale as an admin: DEMO_ADMIN_SECRET and INVENTORY_URLS come from .local/services.env.
load-burst: ## k6: BUYERS=1000 buyers at the same instant, one attempt each, for a fresh sale of STOCK=100 units
	@set -a; [ ! -f .local/services.env ] || source .local/services.env; set +a; k6/run.sh burst

load-waiting-room: ## k6: BUYERS=10000 buyers arrive within ARRIVAL=10s for STOCK=100 units of a sale with a waiting room (MODE=fifo|lottery)
	@set -a; [ ! -f .local/services.env ] || source .local/services.env; set +a; k6/run.sh waiting-room

lint: deps ## eslint
	@npx eslint .

format: deps ## prettier --write over the TypeScript and JavaScript (.prettierrc.json)
	@npx prettier --write --log-level warn "**/*.{ts,js,mjs}"

format-check: deps ## prettier --check: fails naming the files that are not formatted (make format fixes them)
	@npx prettier --check --log-level warn "**/*.{ts,js,mjs}" || { echo "format-check: the files above are not formatted; run make format" >&2; exit 1; }

layout-check: ## entry points <= 25 lines, sources <= 300 lines unless their header says why, test/ mirrors src/ (scripts/check-layout.ts)
	@node scripts/check-layout.ts

typecheck: deps ## tsc --noEmit over every workspace, and over the ops page (browser code: its own tsconfig, with the DOM)
	@npx tsc -p tsconfig.json && npx tsc -p tools/ops/page/tsconfig.json && npx tsc -p deploy/helm/tsconfig.json

route-table-check: deps ## the gateway's route table accepts exactly what the services behind it accept, and its copy of their responses is current (scripts/check-route-table.ts)
	@node scripts/check-route-table.ts

openapi: deps ## regenerate docs/openapi/*.json: each service's OpenAPI 3.1 document and the gateway's public one, from the code (scripts/openapi.ts)
	@node scripts/openapi.ts --write

openapi-check: deps ## the committed OpenAPI documents match the code, and @redocly/cli finds nothing wrong in them
	@node scripts/openapi.ts
	@npx --no-install redocly lint --format=stylish docs/openapi/*.json

route-table: deps ## regenerate services/gateway/src/route-responses.json from the services' contracts (what the gateway's OpenAPI document says each service answers)
	@node scripts/check-route-table.ts --write

check: lint format-check typecheck layout-check route-table-check openapi-check test compose-check helm-check ## lint, formatting, typecheck, the layout check, the route table check, test, the compose/monitoring checks and the Helm chart offline: what a pull request must pass

chaos-order-instance: ## drill: SIGKILL order API instance 1 while buyers order, restart it, then verify (stack up: make demo)
	@tools/chaos/drill.sh order-instance $(ARGS)

chaos-kafka: ## drill: SIGKILL the Kafka broker while buyers order, start it again, then verify (stack up: make demo)
	@tools/chaos/drill.sh kafka $(ARGS)

chaos-replica: ## drill: SIGKILL a PostgreSQL standby node while buyers browse and order, start it again, then verify
	@tools/chaos/drill.sh replica $(ARGS)

chaos-primary: ## drill: SIGKILL the PostgreSQL primary node while buyers order; pg_auto_failover promotes a standby by itself; the old primary rejoins as a standby; then verify
	@tools/chaos/drill.sh primary $(ARGS)

chaos-redis: ## drill: SIGKILL the Redis master while buyers order; Sentinel fails over by itself; the old master rejoins as a replica; then verify
	@tools/chaos/drill.sh redis $(ARGS)

chaos-downstream-500: ## drill: the inventory answers 500 to every reservation (a fault flag) from 10 s to 30 s; breakers, fast 503s, then verify (5 minutes: ARGS='--seconds 330 --recover-at 310')
	@tools/chaos/drill.sh downstream-500 $(ARGS)

chaos-latency: ## drill: +300 ms on every reservation at the inventory (a fault flag) from 10 s to 30 s; budgets hold, load is shed rather than queued past them, then verify
	@tools/chaos/drill.sh latency $(ARGS)

chaos-latency-postgres: ## drill: +300 ms on every PostgreSQL reply to the services (Toxiproxy; restarts the services with CHAOS_PROXIES=on), then verify
	@tools/chaos/drill.sh latency-postgres $(ARGS)

chaos-hang: ## drill: the inventory never answers a reservation (a hung dependency, a fault flag) from 10 s to 30 s; timeouts and breakers, then verify
	@tools/chaos/drill.sh hang $(ARGS)

chaos-pool-exhaustion: ## drill: a session holds a lock on orders.orders (a slow migration) from 10 s to 30 s; pools fill, the order API sheds, then verify
	@tools/chaos/drill.sh pool-exhaustion $(ARGS)

chaos-retry-storm: ## drill: the inventory answers 500 while buyers retry every refusal at once, no backoff; rate limits and retry budgets bound the amplification, then verify
	@tools/chaos/drill.sh retry-storm $(ARGS)

bench-worker: deps ## benchmark: worker persistence, batched vs one transaction per order (ratio to bench/results/)
	@infra/local/with-stack.sh node --env-file=.local/stack.env bench/worker-batching.ts
	@node bench/report.ts

bench-gateway: deps ## benchmark: gateway throughput / direct, and nginx as a plain proxy (installs nginx-light)
	@infra/local/bootstrap.sh nginx
	@infra/local/with-stack.sh node --env-file=.local/stack.env bench/gateway-overhead.ts
	@node bench/report.ts

bench-overload: deps ## benchmark: goodput, admitted p99 and refusal latency at 3x a service's capacity, with and without the gateway's backpressure
	@infra/local/with-stack.sh node --env-file=.local/stack.env bench/overload.ts
	@node bench/report.ts

bench-order: deps ## benchmark: order placement (POST /orders on the real path) / a bare Fastify POST handler
	@infra/local/with-stack.sh node --env-file=.local/stack.env --env-file=.local/auth.env bench/order-placement.ts
	@node bench/report.ts

# The services as make services-up runs them (started here, and stopped after, when none answer yet).
bench-burst: deps ## benchmark: 1,000 buyers at once (x5) and 5,000, one attempt each, through the whole stack vs the stock gate alone; make verify after each (ARGS="--reps 5 --buyers 1000 --big-buyers 5000 --stock 100")
	@infra/local/with-stack.sh bash -c 'source infra/local/lib.sh; \
	if ! curl -fsS -o /dev/null -m 2 "http://127.0.0.1:$$GATEWAY_PORT/health/ready" 2>/dev/null; then trap "infra/local/services-down.sh" EXIT; infra/local/services-up.sh; fi; \
	node --env-file=.local/stack.env --env-file=.local/auth.env --env-file-if-exists=.local/services.env bench/flash-burst.ts $(ARGS)'
	@node bench/report.ts

bench-room: deps ## benchmark: 10,000 buyers arriving over 10 s for 100 units, with a waiting room and without, side by side; make verify after each (ARGS="--buyers 10000 --stock 100 --arrival 10 --mode fifo")
	@infra/local/with-stack.sh bash -c 'source infra/local/lib.sh; \
	if ! curl -fsS -o /dev/null -m 2 "http://127.0.0.1:$$GATEWAY_PORT/health/ready" 2>/dev/null; then trap "infra/local/services-down.sh" EXIT; infra/local/services-up.sh; fi; \
	node --env-file=.local/stack.env --env-file=.local/auth.env --env-file-if-exists=.local/services.env bench/waiting-room.ts $(ARGS)'

bench-report: ## regenerate docs/benchmarks.md and its charts from bench/results/
	@node bench/report.ts

# ---------------------------------------------------------------- Kubernetes: the Helm chart, checked offline (no cluster needed)
.PHONY: helm-check

helm-check: ## the Helm chart (deploy/helm): helm lint + template for both profiles, kubectl-validate of every object incl. CloudNativePG and Strimzi resources, chart tests; builds helm and kubectl-validate on first use
	@deploy/helm/check.sh

# ---------------------------------------------------------------- Docker stack and monitoring config (no Docker engine needed)
.PHONY: compose-check prometheus-rules-check

compose-check: ## validate docker-compose.yml, the Dockerfile, dashboards and alert metric names (no Docker needed; says what it could not run)
	@infra/compose/check.sh
	@infra/prometheus/check.sh

prometheus-rules-check: ## promtool: Prometheus configs, alert rules and their unit tests (installs Debian's prometheus package for promtool)
	@infra/prometheus/check.sh
