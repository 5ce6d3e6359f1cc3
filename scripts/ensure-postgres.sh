#!/usr/bin/env bash
# ensure-postgres.sh prints the directory of Debian's PostgreSQL server
# binaries (/usr/lib/postgresql/<version>/bin: initdb, postgres,
# pg_isready), installing Debian's `postgresql` package with apt-get when
# they are missing. Tests (internal/testing/pgtest) call it; so does
# scripts/test.sh. The tests start their own server, as an unprivileged
# user, in a temporary directory.
#
# TIERGATE_POSTGRES_NO_INSTALL=1 reports "not found" instead of installing.
set -euo pipefail
found() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/postgres" ] && echo "$d"
}
. "$(dirname "$0")/apt.sh"
# RUNLEVEL=1 keeps invoke-rc.d from starting the packaged cluster where no
# policy-rc.d forbids it: the tests start their own postgres.
APT_ENV=RUNLEVEL=1 apt_ensure TIERGATE_POSTGRES_NO_INSTALL "postgres server (initdb, postgres)" postgresql
