#!/usr/bin/env bash
# Runs every test. Whatever happens, the last line is "N passed, N failed" and the exit code is
# non-zero on any failure (a broken build or a missing server counts as a failure, never a skip).
set -uo pipefail
cd "$(dirname "$0")/.."

fail_early() {
  echo "make test: $1" >&2
  echo
  echo "0 passed, 1 failed"
  exit 1
}

# npm ci only when node_modules does not hold what the lock file names (the Makefile's check): CI
# has just run it.
make --no-print-directory install || fail_early "npm ci failed"
rm -rf dist
node_modules/.bin/tsc -p tsconfig.json || fail_early "the TypeScript build failed"
node_modules/.bin/tsc -p services/console/web/tsconfig.json || fail_early "the console's TypeScript check failed"
node_modules/.bin/vite build --config services/console/web/vite.config.mts || fail_early "the console's build (vite build) failed"
bash scripts/ensure-services.sh || fail_early "the servers the tests need could not be started (see above)"
bash scripts/ensure-chromium.sh || fail_early "Chromium for the browser tests could not be had (see above)"
bash scripts/ensure-helm.sh || fail_early "helm for the chart's test could not be had (see above)"
bash scripts/ensure-prometheus.sh || fail_early "Prometheus for test/prometheus.test.ts could not be had (see above)"

rm -rf .test-data
# An empty migrated embedded store, copied into each test's data folder (test/support/hub.ts), and a
# migrated PostgreSQL database that each test database is copied from (test/support/servers.ts).
node dist/test/support/store-template.js || fail_early "the store templates could not be made (see above)"
node_modules/.bin/mocha "$@"
