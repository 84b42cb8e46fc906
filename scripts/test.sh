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

if [ ! -f node_modules/.installed ] || [ package-lock.json -nt node_modules/.installed ]; then
  npm ci --no-audit --no-fund || fail_early "npm ci failed"
  touch node_modules/.installed
fi
rm -rf dist
node_modules/.bin/tsc -p tsconfig.json || fail_early "the TypeScript build failed"
node_modules/.bin/tsc -p services/console/web/tsconfig.json || fail_early "the console's TypeScript check failed"
node_modules/.bin/vite build --config services/console/web/vite.config.mts || fail_early "the console's build (vite build) failed"
bash scripts/ensure-services.sh || fail_early "the servers the tests need could not be started (see above)"
bash scripts/ensure-chromium.sh || fail_early "Chromium for the browser tests could not be had (see above)"
bash scripts/ensure-helm.sh || fail_early "helm for the chart's test could not be had (see above)"
bash scripts/ensure-prometheus.sh || fail_early "Prometheus for test/prometheus.test.ts could not be had (see above)"

rm -rf .test-data
node_modules/.bin/mocha "$@"
