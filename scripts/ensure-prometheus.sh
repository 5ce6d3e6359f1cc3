#!/usr/bin/env bash
# ensure-prometheus.sh prints the path of a prometheus binary (promtool sits
# beside it), installing Debian's `prometheus` package with apt-get when
# prometheus or promtool is missing. Tests call it; so does scripts/test.sh.
#
# TIERGATE_PROMETHEUS_NO_INSTALL=1 reports "not found" instead of installing.
set -euo pipefail
found() {
  local p t
  p=$(command -v prometheus 2>/dev/null) || return 1
  t=$(command -v promtool 2>/dev/null) || return 1
  [ "$(dirname "$p")" = "$(dirname "$t")" ] || return 1
  echo "$p"
}
. "$(dirname "$0")/apt.sh"
# RUNLEVEL=1 keeps invoke-rc.d from starting the packaged service where no
# policy-rc.d forbids it: the tests start their own Prometheus.
APT_ENV=RUNLEVEL=1 apt_ensure TIERGATE_PROMETHEUS_NO_INSTALL "prometheus and promtool" prometheus
