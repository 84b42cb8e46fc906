#!/usr/bin/env bash
# Makes sure Debian's Prometheus (prometheus and promtool in /usr/bin) is there for
# test/prometheus.test.ts, which scrapes a hub with it and checks the configuration, the alert rules
# and their unit tests with promtool (infra/prometheus/). Installs the distribution's package when
# it is missing; fails loudly, never skips, when it cannot be had.
set -uo pipefail

runs() { /usr/bin/prometheus --version >/dev/null 2>&1 && /usr/bin/promtool --version >/dev/null 2>&1; }

if runs; then exit 0; fi

if [ "$(id -u)" != 0 ]; then
  echo "ensure-prometheus: /usr/bin/prometheus or /usr/bin/promtool is missing and installing them needs root (apt-get install prometheus)" >&2
  exit 1
fi
echo "ensure-prometheus: installing prometheus from Debian's packages" >&2
if ! apt-get update -qq >/dev/null; then
  echo "ensure-prometheus: apt-get update failed" >&2
  exit 1
fi
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; then
  echo "ensure-prometheus: apt-get install prometheus failed" >&2
  exit 1
fi
if ! runs; then
  echo "ensure-prometheus: prometheus or promtool does not run after installing them" >&2
  exit 1
fi
