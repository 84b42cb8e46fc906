#!/usr/bin/env bash
# Makes sure helm is at .tools/bin/helm for the chart's test (test/helm.test.ts: helm lint --strict,
# helm template). scripts/get-helm.sh fetches it (a copy of ../shared/tools/get-helm.sh, kept here
# because a fresh clone has no ../shared); a second run only prints the version. Fails loudly,
# never skips, when helm cannot be had.
set -uo pipefail
cd "$(dirname "$0")/.."
export TOOLS_DIR="$PWD/.tools"
if ! out=$(bash scripts/get-helm.sh 2>&1); then
  echo "ensure-helm: helm could not be had (scripts/get-helm.sh):" >&2
  echo "$out" >&2
  exit 1
fi
if ! "$TOOLS_DIR/bin/helm" version --short >/dev/null 2>&1; then
  echo "ensure-helm: $TOOLS_DIR/bin/helm does not run: $out" >&2
  exit 1
fi
