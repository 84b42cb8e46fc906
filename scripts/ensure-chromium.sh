#!/usr/bin/env bash
# Makes sure Debian's Chromium is at /usr/bin/chromium for the browser tests (test/console.test.ts,
# test/status-page.test.ts), which drive it with playwright-core. Installs the distribution's
# package when it is missing (playwright's own browser download does not work on the project's
# machines); fails loudly, never skips, when it cannot be had. A small Chinese font comes with it,
# so that the screenshots the tests save show the labels rather than empty boxes.
set -uo pipefail

CHROMIUM=/usr/bin/chromium

runs() { [ -x "$CHROMIUM" ] && "$CHROMIUM" --version >/dev/null 2>&1; }
has_chinese_font() { command -v fc-list >/dev/null && [ -n "$(fc-list :lang=zh 2>/dev/null | head -1)" ]; }

if runs && has_chinese_font; then exit 0; fi

if [ "$(id -u)" != 0 ]; then
  if runs; then echo "ensure-chromium: no Chinese font (fonts-wqy-microhei): screenshots will show boxes for the labels" >&2; exit 0; fi
  echo "ensure-chromium: $CHROMIUM is missing and installing it needs root (apt-get install chromium)" >&2
  exit 1
fi
packages=()
runs || packages+=(chromium)
has_chinese_font || packages+=(fonts-wqy-microhei)
echo "ensure-chromium: installing ${packages[*]} from Debian's packages" >&2
if ! apt-get update -qq >/dev/null; then
  echo "ensure-chromium: apt-get update failed" >&2
  exit 1
fi
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null; then
  echo "ensure-chromium: apt-get install ${packages[*]} failed" >&2
  runs || exit 1
fi
if ! runs; then
  echo "ensure-chromium: $CHROMIUM does not run after installing it" >&2
  exit 1
fi
