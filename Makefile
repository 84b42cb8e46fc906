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

# Embedded mode: one process, PGlite under $${HUB_DATA_DIR:-./data}, demo departments and simulators.
run: build
	node bin/hub.js start --with-simulators

# Every test; the last line printed is "N passed, N failed".
test:
	@bash scripts/test.sh

bench: build
	node dist/test/bench/run.js

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
