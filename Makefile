# leadscore — the few commands people run. `make help` lists them.

SHELL := /bin/bash
export PATH := $(CURDIR)/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)
CARGO ?= cargo

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the commands
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

.PHONY: setup
setup: ## Install what the build and tests need (wasm target, wasm-bindgen, wasm-opt, Chromium, npm packages)
	./scripts/setup.sh

.PHONY: demo
demo: ## Install what is missing, build the widget, run demo site + collector + dashboard on 127.0.0.1:8080
	./scripts/setup.sh
	$(MAKE) --no-print-directory wasm
	$(CARGO) build -q --features cli
	@printf '\n  Demo site:  http://127.0.0.1:8080/\n  Dashboard:  http://127.0.0.1:8080/dashboard/\n'
	@printf '  Tier results go to leadscore.db (SQLite). Ctrl-C stops the server.\n\n'
	$(CARGO) run -q --features cli -- serve --listen 127.0.0.1:8080 --db leadscore.db

.PHONY: examples
examples: ## Check and compile the example models and score their event logs with the CLI
	$(CARGO) run -q --features cli -- build www/models/saas.json -o target/saas.bin
	$(CARGO) run -q --features cli -- check www/models/saas.json
	$(CARGO) run -q --features cli -- score www/models/saas.json www/models/saas.events.jsonl
	$(CARGO) run -q --features cli -- check www/models/wholesale.json
	$(CARGO) run -q --features cli -- score www/models/wholesale.json www/models/wholesale.events.jsonl

.PHONY: serve
serve: ## Run the collector: demo site, widget and dashboard on http://127.0.0.1:8080 (SQLite leadscore.db)
	$(CARGO) run -q --features cli -- serve --listen 127.0.0.1:8080 --db leadscore.db

.PHONY: test
test: setup test-native test-browser test-e2e test-size ## Run every test suite (installs what is missing first, as `make setup`)

.PHONY: test-native
test-native: setup ## Native unit, property and integration tests (the collector's run against SQLite and a throwaway PostgreSQL)
	./scripts/postgres.sh install
	$(CARGO) test --features cli

.PHONY: test-serve
test-serve: setup ## Collector integration tests against SQLite and a throwaway PostgreSQL (installs Debian's postgresql)
	./scripts/postgres.sh install
	$(CARGO) test --features cli --test serve_sqlite --test serve_postgres

.PHONY: test-browser
test-browser: setup ## The kernel's boundary in headless Chromium (wasm-bindgen-test)
	CHROMEDRIVER=$${CHROMEDRIVER:-/usr/bin/chromedriver} $(CARGO) test --target wasm32-unknown-unknown --no-default-features --features debug --test web

.PHONY: test-e2e
test-e2e: setup wasm ## The shim's unit tests; end-to-end tests of the demo site, the embed contract and kernel = CLI (Playwright, headless Chromium)
	node --test tests/shim/ tests/tools/
	npm run --silent test:e2e

.PHONY: test-size
test-size: setup wasm ## The widget within its size budget; the kernel free of core::fmt, dlmalloc and panic messages
	node scripts/size.mjs --check
	node scripts/check-kernel.mjs

.PHONY: wasm
wasm: ## Build the widget into pkg/: shim, kernel (wasm-opt -Oz), glue, types, debug bundle, compiled example models
	./scripts/build-wasm.sh

.PHONY: size
size: wasm ## Bytes a page downloads for the widget (shim + glue + kernel), the models, and the peers: raw / gzip -9 / brotli
	node scripts/size.mjs

.PHONY: loadtest
loadtest: ## Bounded load test of the collector on 127.0.0.1 with wrk (SQLite, PostgreSQL): results/s, p50/p99, stored == accepted
	./scripts/postgres.sh install
	./scripts/loadtest.sh sqlite postgres

DATA ?= ../shared/data
LEARN_MAPPING := www/models/xeducation.mapping.json

.PHONY: learn-demo
learn-demo: ## Learn scorecards from the X Education data in ../shared/data (or DATA=dir), logistic and boosted; compare them on the test split
	@if [ ! -f $(DATA)/leads_xeducation.csv ]; then echo "no $(DATA)/leads_xeducation.csv: set DATA=folder"; exit 0; fi; \
	set -e; out=target/learn-demo; mkdir -p $$out; \
	$(CARGO) build -q --release --features cli; \
	bin=$$($(CARGO) metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')/release/leadscore; \
	for fit in logistic boost; do \
		$$bin train $(DATA)/leads_xeducation.csv --mapping $(LEARN_MAPPING) --split $(DATA)/leads_xeducation.split.csv \
			--fit $$fit --out $$out/xeducation-$$fit.json --id xeducation-$$fit >$$out/train-$$fit.txt 2>$$out/train-$$fit.err; \
		$$bin check $$out/xeducation-$$fit.json >/dev/null; \
		$$bin eval $$out/xeducation-$$fit.json $(DATA)/leads_xeducation.csv >$$out/eval-$$fit.txt; \
	done; \
	echo "X Education, test split ($$(sed -n 's/.* on \([0-9]*\) test leads.*/\1/p' $$out/eval-boost.txt) leads); leadscore scored through the engine with integer points"; \
	printf '%-42s %8s %9s %6s %9s %11s %8s\n' model "ROC AUC" "log loss" rules compound "before rnd" "train s"; \
	for fit in logistic boost; do \
		printf '%-42s %8s %9s %6s %9s %11s %8s\n' "leadscore --fit $$fit" \
			"$$(awk '/^ROC AUC/{print $$3}' $$out/eval-$$fit.txt)" \
			"$$(awk '/^log loss/{print $$3}' $$out/eval-$$fit.txt)" \
			"$$(sed -n 's/^wrote .* (\([0-9]*\) rules)$$/\1/p' $$out/train-$$fit.txt)" \
			"$$(grep -c '"all":' $$out/xeducation-$$fit.json || true)" \
			"$$(sed -n 's/.*, \([0-9.]*\) before rounding.*/\1/p' $$out/train-$$fit.txt)" \
			"$$(sed -n 's/^time: \([0-9.]*\) s.*/\1/p' $$out/train-$$fit.txt)"; \
	done; \
	awk -F'|' '/^\| *(logistic regression|histogram gradient boosting) *\|/ { \
		gsub(/^ +| +$$/, "", $$2); gsub(/ /, "", $$3); gsub(/ /, "", $$4); \
		printf "%-42s %8s %9s %6s %9s %11s %8s\n", "scikit-learn " $$2, $$3, $$4, "-", "-", "-", "-" }' $(DATA)/README.md; \
	echo "models, training reports and full evaluations (tiers, calibration): $$out/"

.PHONY: loop-demo
loop-demo: ## Closing the loop on generated visitors: drift on the tier truth, retune from rule summaries and outcomes, champion vs challenger
	$(CARGO) build -q --features cli --bin leadscore
	node scripts/loop-demo.mjs

.PHONY: bench
bench: ## Benchmarks: engine advance+tier per event vs a plain interpreter (30-rule model); scorecard training time and peak memory (X Education, 1M leads)
	$(CARGO) bench --bench engine
	$(CARGO) bench --features learn --bench learn

.PHONY: instructions
instructions: ## Instructions per event under callgrind: engine advance+tier vs a plain interpreter, 30-rule model (installs valgrind)
	@command -v valgrind >/dev/null || { root=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
		$$root apt-get update -qq && $$root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind; }
	./scripts/instructions.sh

.PHONY: bench-browser
bench-browser: wasm ## Widget kernel vs a plain-JS loop vs json-rules-engine in one headless Chromium run; start-up, memory, state size
	$(CARGO) build -q --features cli --bin leadscore
	node benches/browser/run.mjs

.PHONY: lint
lint: ## rustfmt and clippy (library code denies unwrap/expect/panic/indexing)
	$(CARGO) fmt --check
	$(CARGO) clippy --features cli --all-targets -- -D warnings
	$(CARGO) clippy --target wasm32-unknown-unknown --no-default-features --lib -- -D warnings
	$(CARGO) clippy --target wasm32-unknown-unknown --no-default-features --features debug --lib --test web -- -D warnings

FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= model_json model_binary engine state

.PHONY: fuzz
fuzz: ## Fuzz the model reader and compiler, the compiled-model loader, the engine and the stored-state reader, FUZZ_SECONDS each (default 60)
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_TARGETS="$(FUZZ_TARGETS)" ./fuzz/run.sh

.PHONY: schema
schema: ## Regenerate schema/model.schema.json from the model types
	$(CARGO) run -q --features cli -- schema > schema/model.schema.json
