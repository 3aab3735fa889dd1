# Shared by tools/run and tools/test: install what is missing, then build.
# Sourced, not run.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

BUILD_PACKAGES="gcc libc6-dev meson ninja-build pkg-config libuv1-dev libc-ares-dev libcjson-dev libhttp-parser-dev libcmocka-dev python3"

# Install the Debian packages in "$@" that are not installed yet; nothing
# happens (and no network is needed) when all are present.
ensure_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing: ${missing[*]}" >&2
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# build DIR [meson options...]: configure once, then compile.
build() {
  local dir=$1; shift
  if [ ! -f "$ROOT/$dir/build.ninja" ]; then
    meson setup "$ROOT/$dir" "$ROOT" "$@" >/dev/null
  fi
  ninja -C "$ROOT/$dir" >/dev/null
}
