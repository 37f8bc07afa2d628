# The two commands: `make demo` and `make test`. Everything installs itself on first use.
# Run `make help` for the rest.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
# Project-local tools (Node 24, k6, toxiproxy-server) come first; bootstrap puts them there.
export PATH := $(CURDIR)/.local/tools/bin:$(PATH)
# kafkajs 2.2.4 schedules negative timeouts on Node >= 22: a harmless warning printed on every start.
export NODE_OPTIONS := --disable-warning=TimeoutNegativeWarning

.PHONY: help demo test deps infra-up infra-down infra-status infra-logs infra-clean lint typecheck check bench-worker bench-gateway bench-report

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

demo: deps ## bring the whole stack up and print its URLs (the flash-sale run lands with issue 6)
	@infra/local/up.sh
	@echo
	@echo "The stack is up and stays up; make infra-status shows it, make infra-down stops it."

test: deps ## all tests on real PostgreSQL, Redis, Kafka; starts (and then stops) the stack; ONLY=packages/db to narrow
	@start=$$(date +%s); status=0; \
	infra/local/with-stack.sh node scripts/run-tests.ts $(ONLY) || status=$$?; \
	echo "make test: $$(( $$(date +%s) - start ))s"; exit $$status

deps: ## install what is missing: Node 24, npm packages, PostgreSQL, Redis, Kafka, k6, Toxiproxy
	@infra/local/bootstrap.sh

infra-up: deps ## start PostgreSQL primary + 2 replicas, Redis, Kafka, Toxiproxy (idempotent)
	@infra/local/up.sh

infra-down: ## stop every process of the native stack (data is kept)
	@infra/local/down.sh

infra-status: ## one line per part: up or down, lag, URL
	@infra/local/status.sh

infra-logs: ## tail every server log (N=200 for more lines)
	@infra/local/logs.sh

infra-clean: infra-down ## stop the stack and delete its data
	@source infra/local/lib.sh && rm -rf "$$STATE_DIR" "$$LOCAL_DIR/state" && echo "removed $$STATE_DIR"

lint: deps ## eslint
	@npx eslint .

typecheck: deps ## tsc --noEmit over every workspace
	@npx tsc -p tsconfig.json

check: lint typecheck test ## lint, typecheck and test: what a pull request must pass

bench-worker: deps ## benchmark: worker persistence, batched vs one transaction per order (ratio to bench/results/)
	@infra/local/with-stack.sh node --env-file=.local/stack.env bench/worker-batching.ts
	@node bench/report.ts

bench-gateway: deps ## benchmark: gateway throughput / direct, and nginx as a plain proxy (installs nginx-light)
	@infra/local/bootstrap.sh nginx
	@infra/local/with-stack.sh node --env-file=.local/stack.env bench/gateway-overhead.ts
	@node bench/report.ts

bench-report: ## regenerate docs/benchmarks.md and its charts from bench/results/
	@node bench/report.ts
