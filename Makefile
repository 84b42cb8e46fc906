# The two commands: `make run` and `make test`. Everything else is a step of those.
SHELL := /bin/bash
NODE_BIN := node_modules/.bin

.PHONY: run test build install bench clean types services docs

NPM ?= npm

# Whether node_modules holds what the lock file names: every package of package-lock.json, at its
# version, in npm's own record of the tree (node_modules/.package-lock.json), and package.json's
# dependencies as the lock file has them. By content, not by date: a checkout or an edit that leaves
# the lock file as it was does not cost a reinstall.
define LOCK_MATCHES
const fs = require('fs');
const read = (f) => JSON.parse(fs.readFileSync(f, 'utf8'));
try {
  const lock = read('package-lock.json'), tree = read('node_modules/.package-lock.json').packages, pkg = read('package.json');
  const root = lock.packages[''] || {};
  for (const k of ['dependencies', 'devDependencies', 'optionalDependencies'])
    if (JSON.stringify(pkg[k] || {}) !== JSON.stringify(root[k] || {})) process.exit(1);
  for (const [at, p] of Object.entries(lock.packages)) {
    if (!at || p.optional) continue;
    if (!tree[at] || tree[at].version !== p.version || !fs.existsSync(at)) process.exit(1);
  }
} catch (err) { process.exit(1); }
endef
export LOCK_MATCHES

# npm ci only when node_modules does not match the lock file; node_modules/.installed is kept for
# scripts/test.sh, which skips its own install while the marker is newer than the lock file.
install:
	@if node -e "$$LOCK_MATCHES"; then echo "node_modules matches package-lock.json: no install"; touch node_modules/.installed; \
	else $(NPM) ci --no-audit --no-fund && touch node_modules/.installed; fi

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
	node dist/test/bench/supervision.js

# Starts (or installs) PostgreSQL, NATS with JetStream and Redis on loopback.
services:
	bash scripts/ensure-services.sh

types: install
	node scripts/generate-types.js

# Documentation generated from schemas: transport options, and the mapping reference.
docs: build
	node -e "require('fs').writeFileSync('adapters/kit/transports/OPTIONS.md', require('./dist/adapters/kit/transports/options-doc').transportOptionsMarkdown())"
	node -e "require('fs').writeFileSync('adapters/kit/mapping/REFERENCE.md', require('./dist/adapters/kit/mapping/reference-doc').mappingReferenceMarkdown())"

clean:
	rm -rf dist
