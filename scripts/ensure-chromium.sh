#!/usr/bin/env bash
# ensure-chromium.sh prints the path of a headless-capable Chromium,
# installing Debian's `chromium` package with apt-get when none is on PATH.
# The status page test renders the page with it.
#
# TIERGATE_CHROMIUM_NO_INSTALL=1 reports "not found" instead of installing.
set -euo pipefail
found() {
  local c
  for c in chromium chromium-browser; do
    if command -v "$c" >/dev/null 2>&1; then command -v "$c"; return 0; fi
  done
  return 1
}
. "$(dirname "$0")/apt.sh"
apt_ensure TIERGATE_CHROMIUM_NO_INSTALL chromium chromium
