# The two commands: `make run` and `make test`. Everything else is a step of those.
SHELL := /bin/bash
NODE_BIN := node_modules/.bin

.PHONY: run run-cluster test build install bench clean types services docs fuzz

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

# npm ci only when node_modules does not match the lock file (scripts/test.sh asks the same).
install:
	@if node -e "$$LOCK_MATCHES"; then echo "node_modules matches package-lock.json: no install"; \
	else $(NPM) ci --no-audit --no-fund; fi

# The console (services/console/): its own type check, then Vite builds it into dist/console.
build: install
	$(NODE_BIN)/tsc -p tsconfig.json
	$(NODE_BIN)/tsc -p services/console/web/tsconfig.json
	$(NODE_BIN)/vite build --config services/console/web/vite.config.mts

# The hub's heap is capped: without a cap, V8 lets the garbage of a large dropped file pile up to
# several hundred MB before it collects (README, "Memory and CPU"). Override: make run HUB_NODE_OPTIONS=
HUB_NODE_OPTIONS ?= --max-old-space-size=256
# Garbage is collected on the thread that made it, not by helper threads: while a file is applied
# the store's thread and the mapping worker keep both cores busy, and helpers only competed with
# them (README, "Memory and CPU"). NODE_OPTIONS does not take this flag. Override: make run HUB_NODE_FLAGS=
HUB_NODE_FLAGS ?= --single-threaded-gc
# The C library's allocator: two arenas for all the hub's threads instead of up to eight per core, and
# blocks of 4 MB and more mapped for themselves (returned to the system when freed) instead of a
# threshold that glibc raises up to 32 MB as it goes. Without them, memory the hub's threads freed
# stayed in their arenas (README, "Memory and CPU"). Linux with glibc; elsewhere ignored.
# Override: make run HUB_GLIBC_TUNABLES=
HUB_GLIBC_TUNABLES ?= glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=4194304

# Embedded mode: one process, PGlite under $${HUB_DATA_DIR:-./data}, demo departments and simulators.
# --demo: the demo configuration (tokens everyone knows), which `hub start` never takes by itself.
run: build
	GLIBC_TUNABLES="$(HUB_GLIBC_TUNABLES)" NODE_OPTIONS="$(HUB_NODE_OPTIONS)" node $(HUB_NODE_FLAGS) bin/hub.js start --demo --with-simulators

# Cluster mode on this machine: three `hub start` processes sharing PostgreSQL (database hub_cluster)
# and NATS on loopback, the demo departments and simulators with the gateway, each node's data under
# ./data-cluster (cli/run-cluster.ts; README, "Running a cluster"). Each node is started with the
# heap cap, flags and allocator settings of `make run`.
run-cluster: build
	bash scripts/ensure-services.sh
	HUB_NODE_OPTIONS="$(HUB_NODE_OPTIONS)" HUB_NODE_FLAGS="$(HUB_NODE_FLAGS)" HUB_GLIBC_TUNABLES="$(HUB_GLIBC_TUNABLES)" node dist/cli/run-cluster.js

# Every test; the last line printed is "N passed, N failed".
test:
	@bash scripts/test.sh

# The hub as `make run` starts it, heap cap and flags included.
# `make bench ONLY=rest` runs one scenario of bench/scenarios/ (ids: the table's first column); the
# benches of test/bench/ that are not scenarios yet (console, outbound, supervision sweep, tracing)
# run after them when no scenario is named and the run is not a tiny one.
bench: build
	bash scripts/ensure-services.sh
	ONLY="$(ONLY)" HUB_NODE_OPTIONS="$(HUB_NODE_OPTIONS)" HUB_NODE_FLAGS="$(HUB_NODE_FLAGS)" HUB_GLIBC_TUNABLES="$(HUB_GLIBC_TUNABLES)" node dist/bench/run.js
	@if [ -z "$(ONLY)" ] && [ "$${BENCH_TINY:-}" != 1 ]; then \
	  node dist/test/bench/supervision.js && node dist/test/bench/console.js && node dist/test/bench/outbound.js && \
	  HUB_NODE_OPTIONS="$(HUB_NODE_OPTIONS)" HUB_NODE_FLAGS="$(HUB_NODE_FLAGS)" HUB_GLIBC_TUNABLES="$(HUB_GLIBC_TUNABLES)" node dist/test/bench/tracing.js; fi

# Fuzzing (test/fuzz/README.md): every target of test/fuzz/targets/ (FUZZ_TARGETS) for FUZZ_RUNS
# inputs each, or FUZZ_SECONDS each when that is set first, from its corpus in test/fuzz/corpus/.
# A crash, an input running past FUZZ_TIMEOUT_MS, or memory past the limit (Jazzer.js: the
# process's resident memory, FUZZ_RSS_MB; the runner: heap growth after collections, FUZZ_GROWTH_MB)
# fails it, with the input saved under FUZZ_WORK. FUZZ_ENGINE=runner uses the project's own runner
# instead of Jazzer.js. Niced, and one target at a time: it is meant to run beside other work.
FUZZ_ENGINE ?= jazzer
FUZZ_TARGETS ?= all
FUZZ_RUNS ?= 1000000
FUZZ_SECONDS ?= 0
FUZZ_TIMEOUT_MS ?= 1000
FUZZ_RSS_MB ?= 2048
FUZZ_GROWTH_MB ?= 64
FUZZ_WORK ?= data/fuzz

fuzz: build
ifeq ($(FUZZ_ENGINE),jazzer)
	nice -n 10 node dist/test/fuzz/jazzer/run.js $(FUZZ_TARGETS) --runs $(FUZZ_RUNS) --seconds $(FUZZ_SECONDS) --timeout-ms $(FUZZ_TIMEOUT_MS) --rss-mb $(FUZZ_RSS_MB) --work $(FUZZ_WORK) --report $(FUZZ_WORK)/jazzer-report.json
else ifeq ($(FUZZ_ENGINE),runner)
	nice -n 10 node dist/test/fuzz/runner.js $(FUZZ_TARGETS) --runs $(FUZZ_RUNS) --seconds $(FUZZ_SECONDS) --timeout-ms $(FUZZ_TIMEOUT_MS) --growth-mb $(FUZZ_GROWTH_MB) --work $(FUZZ_WORK) --report $(FUZZ_WORK)/runner-report.json
else
	@echo "make fuzz: FUZZ_ENGINE is jazzer or runner, not $(FUZZ_ENGINE)" >&2; exit 2
endif

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
