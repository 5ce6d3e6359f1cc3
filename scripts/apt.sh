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
