# apt.sh is sourced by the ensure-*.sh scripts: what they share to install
# Debian packages that the tests need.

# apt_lock takes (on fd 9) the lock that lets one ensure script install at
# a time: test packages run in parallel, and apt-get runs one at a time.
apt_lock() {
  local cache=${TIERGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tiergate}
  mkdir -p "$cache"
  exec 9>"$cache/apt.lock"
  flock 9
}

# apt_install PKG... installs Debian packages with apt-get (through sudo
# when not root), waiting up to 10 minutes for dpkg's own lock. APT_ENV
# adds environment for the install (e.g. RUNLEVEL=1). Output goes to
# stderr: the scripts print only the path they were asked for.
apt_install() {
  local sudo=
  if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
  (
    $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq &&
    $sudo env DEBIAN_FRONTEND=noninteractive ${APT_ENV:-} apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "$@"
  ) >&2
}

# apt_ensure VAR WHAT PKG is the flow the ensure scripts share, around the
# caller's found function (which prints the path and succeeds once the tool
# is there): stop at once when found; with $VAR=1 say there is no WHAT and
# exit 3; otherwise take the lock, look again, install PKG (APT_ENV
# applies) and look a last time (exit 1 when it is still missing).
apt_ensure() {
  local var=$1 what=$2 pkg=$3
  if found; then exit 0; fi
  if [ "${!var:-}" = 1 ]; then
    echo "no $what on PATH, and $var=1" >&2; exit 3
  fi
  apt_lock
  if found; then exit 0; fi
  echo "installing Debian's $pkg package ($what)" >&2
  apt_install "$pkg"
  found || { echo "$pkg was installed but there is no $what on PATH" >&2; exit 1; }
}
