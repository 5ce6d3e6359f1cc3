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
if found; then exit 0; fi
if [ "${TIERGATE_PROMETHEUS_NO_INSTALL:-}" = 1 ]; then
  echo "no prometheus and promtool on PATH, and TIERGATE_PROMETHEUS_NO_INSTALL=1" >&2; exit 3
fi
cache=${TIERGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tiergate}
mkdir -p "$cache"
# Test packages run in parallel; let one install while the others wait.
exec 9>"$cache/apt.lock"
flock 9
if found; then exit 0; fi
sudo=
if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
echo "installing Debian's prometheus package (prometheus, promtool)" >&2
# RUNLEVEL=1 keeps invoke-rc.d from starting the packaged service where no
# policy-rc.d forbids it: the tests start their own Prometheus.
(
  $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq &&
  $sudo env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends prometheus
) >&2
found || { echo "prometheus was installed but prometheus/promtool are not on PATH" >&2; exit 1; }
