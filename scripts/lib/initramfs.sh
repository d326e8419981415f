# Shared by scripts that build busybox initramfs guests from Debian packages (source it).

# cached_deb CACHE PATTERN: the newest cached .deb whose package name matches PATTERN (a glob), or nothing.
cached_deb() { compgen -G "$1/$2_*_amd64.deb" | sort -V | tail -n 1 || true; }

# fetch_deb CACHE PACKAGE: the cached .deb of PACKAGE, downloaded into CACHE first when missing.
fetch_deb() {
  local cache="$1" pkg="$2" deb
  deb="$(cached_deb "$cache" "$pkg")"
  if [[ -z "$deb" ]]; then
    # apt-get download writes into the current directory; as root it warns that _apt cannot, harmlessly.
    (cd "$cache" && apt-get download -q "$pkg" 2>&1 | grep -v -e unsandboxed -e '^Get:' -e '^Fetched' || true) >&2
    deb="$(cached_deb "$cache" "$pkg")"
  fi
  [[ -n "$deb" ]] || { echo "cannot download the Debian package $pkg (run apt-get update?)" >&2; return 1; }
  echo "$deb"
}

# fetch_cloud_kernel CACHE: the cached .deb of the kernel linux-image-cloud-amd64 points at (downloaded once).
fetch_cloud_kernel() {
  local cache="$1" deb pkg
  deb="$(cached_deb "$cache" 'linux-image-*-cloud-amd64')"
  if [[ -z "$deb" ]]; then
    pkg="$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}')"
    [[ -n "$pkg" ]] || { echo "apt knows no linux-image-cloud-amd64 (run apt-get update)" >&2; return 1; }
    deb="$(fetch_deb "$cache" "$pkg")"
  fi
  echo "$deb"
}

# copy_modules MODDIR ROOT MODULE...: copies the modules and, first, their dependencies (each module's .modinfo
# "depends=" field; no kmod needed) into ROOT/lib/modules, and writes their load order to ROOT/lib/modules/load.order.
copy_modules() {
  local moddir="$1" root="$2" f base
  shift 2
  declare -gA _ko_path=() _ko_loaded=()
  _ko_order=()
  while IFS= read -r f; do
    base="$(basename "$f" .ko)"
    _ko_path["${base//-/_}"]="$f"
  done < <(find "$moddir" -name '*.ko')
  mkdir -p "$root/lib/modules"
  for m in "$@"; do _add_module "$moddir" "$root" "$m"; done
  printf '%s\n' "${_ko_order[@]}" >"$root/lib/modules/load.order"
}
_add_module() {
  local moddir="$1" root="$2" m="${3//-/_}" dep deps
  [[ -n "${_ko_loaded[$m]:-}" ]] && return 0
  _ko_loaded[$m]=1
  if [[ -z "${_ko_path[$m]:-}" ]]; then
    grep -q "/${m//_/[-_]}\.ko$" "$moddir/modules.builtin" && return 0 # built into the kernel
    echo "the kernel has no module $m" >&2
    return 1
  fi
  deps="$(tr '\0' '\n' <"${_ko_path[$m]}" | sed -n 's/^depends=//p' | head -n 1)"
  for dep in ${deps//,/ }; do _add_module "$moddir" "$root" "$dep"; done
  cp "${_ko_path[$m]}" "$root/lib/modules/$m.ko"
  _ko_order+=("$m")
}

# copy_binary ROOT FILE [EXTRACTED] [DEST]: copies FILE to DEST (default: its own path) under ROOT, with every
# library ldd lists and the loader. EXTRACTED is a directory where Debian packages were unpacked (dpkg-deb -x): its
# libraries are found first and keep their path inside the package.
copy_binary() {
  local root="$1" file="$2" x="${3:-/nonexistent}" dest lib libdirs
  dest="$root/${4:-$file}"
  libdirs="$x/lib/x86_64-linux-gnu:$x/usr/lib/x86_64-linux-gnu"
  mkdir -p "$(dirname "$dest")"
  cp -L "$file" "$dest"
  if LD_LIBRARY_PATH="$libdirs" ldd "$file" 2>/dev/null | grep -q 'not found'; then
    echo "$file needs a library that is missing: $(LD_LIBRARY_PATH="$libdirs" ldd "$file" | grep 'not found' | head -n 3)" >&2
    return 1
  fi
  while read -r lib; do
    [[ -n "$lib" && -e "$lib" ]] || continue
    dest="$lib"
    [[ "$lib" == "$x"/* ]] && dest="${lib#"$x"}"
    [[ -e "$root$dest" ]] || { mkdir -p "$(dirname "$root$dest")"; cp -L "$lib" "$root$dest"; }
  done < <(LD_LIBRARY_PATH="$libdirs" ldd "$file" 2>/dev/null | awk '/=> \//{print $3} /^\t\/[^ ]+ \(/{print $1}')
}
