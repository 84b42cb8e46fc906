# The two commands: `make run` and `make test`. Everything else is a step of those.
SHELL := /bin/bash
NODE_BIN := node_modules/.bin

.PHONY: run test build install bench clean types services docs

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

install: node_modules/.installed

build: install
	$(NODE_BIN)/tsc -p tsconfig.json

# The hub's heap is capped: without a cap, V8 lets the garbage of a large dropped file pile up to
# several hundred MB before it collects (README, "Memory and CPU"). Override: make run HUB_NODE_OPTIONS=
HUB_NODE_OPTIONS ?= --max-old-space-size=256
# Garbage is collected on the thread that made it, not by helper threads: while a file is applied
# the store's thread and the mapping worker keep both cores busy, and helpers only competed with
# them (README, "Memory and CPU"). NODE_OPTIONS does not take this flag. Override: make run HUB_NODE_FLAGS=
HUB_NODE_FLAGS ?= --single-threaded-gc

# Embedded mode: one process, PGlite under $${HUB_DATA_DIR:-./data}, demo departments and simulators.
# --demo: the demo configuration (tokens everyone knows), which `hub start` never takes by itself.
run: build
	NODE_OPTIONS="$(HUB_NODE_OPTIONS)" node $(HUB_NODE_FLAGS) bin/hub.js start --demo --with-simulators

# Every test; the last line printed is "N passed, N failed".
test:
	@bash scripts/test.sh

# The hub as `make run` starts it, heap cap and flags included.
bench: build
	HUB_NODE_OPTIONS="$(HUB_NODE_OPTIONS)" HUB_NODE_FLAGS="$(HUB_NODE_FLAGS)" node dist/test/bench/run.js

# Starts (or installs) PostgreSQL, NATS with JetStream and Redis on loopback.
services:
	bash scripts/ensure-services.sh

types: install
	node scripts/generate-types.js

# Documentation generated from schemas: transport options.
docs: build
	node -e "require('fs').writeFileSync('adapters/kit/transports/OPTIONS.md', require('./dist/adapters/kit/transports/options-doc').transportOptionsMarkdown())"

clean:
	rm -rf dist
