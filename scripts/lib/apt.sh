# Shared by the setup scripts (source it): installing the Debian packages they need, non-interactively.

# apt_install TAG PACKAGE...: installs the packages without recommends. The package lists may be absent or stale
# on a fresh machine, so a failed install is retried once after `apt-get update`. TAG names the caller in the
# message and in its log, /tmp/TAG-apt.log, whose end is printed when the install fails.
apt_install() {
  local tag="$1" log="/tmp/$1-apt.log"
  shift
  echo "$tag: installing $*"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >"$log" 2>&1; then
    apt-get update -q >>"$log" 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >>"$log" 2>&1 \
      || { tail -n 30 "$log" >&2; return 1; }
  fi
}

# not_installed PACKAGE...: prints, one per line, those dpkg does not have installed.
not_installed() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
  done
}
