#!/usr/bin/env bash
# Installs the headless browser the dashboard end-to-end test drives (test/server/dashboard.e2e.test.ts):
# Debian's `chromium` package at /usr/bin/chromium, driven through playwright-core (a devDependency, so
# `npm ci` already brought it; playwright's own browser download is never used).
#
# Idempotent: does nothing when /usr/bin/chromium runs. Needs root (or sudo) and apt. CI calls it from
# .ci/run; outside CI the test skips with a message when chromium is missing.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
say() { printf 'setup-browser: %s\n' "$*"; }

if [[ -x "$CHROMIUM" ]] && "$CHROMIUM" --version >/dev/null 2>&1; then
  say "present: $("$CHROMIUM" --version 2>/dev/null | head -1)"
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  say "ERROR: no apt-get; install Chromium so that $CHROMIUM exists" >&2
  exit 1
fi
SUDO=""
if [[ "$(id -u)" != "0" ]]; then
  command -v sudo >/dev/null || { say "ERROR: need root or sudo to apt-get install chromium" >&2; exit 1; }
  SUDO="sudo"
fi
say "installing chromium with apt-get"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
"$CHROMIUM" --version
