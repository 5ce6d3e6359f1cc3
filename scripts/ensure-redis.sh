#!/usr/bin/env bash
# ensure-redis.sh prints the path of a redis-server binary, installing
# Debian's `redis-server` package with apt-get when it is missing. Tests
# (internal/testing/redistest) call it; so does scripts/test.sh.
#
# TIERGATE_REDIS_NO_INSTALL=1 reports "not found" instead of installing.
set -euo pipefail
found() { command -v redis-server 2>/dev/null; }
. "$(dirname "$0")/apt.sh"
# RUNLEVEL=1 keeps invoke-rc.d from starting the packaged service where no
# policy-rc.d forbids it: the tests start their own redis-server.
APT_ENV=RUNLEVEL=1 apt_ensure TIERGATE_REDIS_NO_INSTALL redis-server redis-server
