# leadscore — the few commands people run. `make help` lists them.

SHELL := /bin/bash
export PATH := $(CURDIR)/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)
CARGO ?= cargo

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the commands
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

.PHONY: setup
setup: ## Install what the build and tests need (wasm target, wasm-bindgen, wasm-opt, Chromium, npm packages)
	./scripts/setup.sh

.PHONY: demo
demo: ## Score the example event logs with the CLI
	$(CARGO) run -q --features cli -- check www/models/saas.json
	$(CARGO) run -q --features cli -- score www/models/saas.json www/models/saas.events.jsonl
	$(CARGO) run -q --features cli -- check www/models/wholesale.json
	$(CARGO) run -q --features cli -- score www/models/wholesale.json www/models/wholesale.events.jsonl

.PHONY: test
test: test-native ## Run every test suite

.PHONY: test-native
test-native: ## Native unit, property and integration tests
	$(CARGO) test --features cli

.PHONY: bench
bench: ## Benchmarks (criterion): engine apply+score per event
	$(CARGO) bench --bench engine

.PHONY: lint
lint: ## rustfmt and clippy (library code denies unwrap/expect/panic/indexing)
	$(CARGO) fmt --check
	$(CARGO) clippy --features cli --all-targets -- -D warnings

.PHONY: schema
schema: ## Regenerate schema/model.schema.json from the model types
	$(CARGO) run -q --features cli -- schema > schema/model.schema.json
