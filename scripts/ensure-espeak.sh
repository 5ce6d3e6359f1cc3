#!/usr/bin/env bash
# ensure-espeak.sh prints the path of espeak-ng, installing Debian's
# `espeak-ng` package with apt-get when none is on PATH. The audio tests
# speak a sentence with it into a WAV file and transcribe it through the
# gateway.
#
# TIERGATE_ESPEAK_NO_INSTALL=1 reports "not found" instead of installing.
set -euo pipefail
found() {
  if command -v espeak-ng >/dev/null 2>&1; then command -v espeak-ng; return 0; fi
  return 1
}
. "$(dirname "$0")/apt.sh"
apt_ensure TIERGATE_ESPEAK_NO_INSTALL espeak-ng espeak-ng
