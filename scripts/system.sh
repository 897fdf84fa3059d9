#!/usr/bin/env bash
# The system packages napari-petground needs beside its Python packages, checked before anything is installed.
#
#   bash scripts/system.sh demo   Qt's X11 (xcb) libraries, OpenGL, fonts; python3-venv while .venv is missing
#   bash scripts/system.sh test   the same, plus Xvfb (pytest-xvfb starts one for the GUI tests) and xauth
#   bash scripts/system.sh qt     after the Python install: every library Qt's X11 plugin links against is found
#
# Libraries are looked for by file (ldconfig), so renamed packages (Ubuntu's *t64) count as installed.
# Missing ones are installed with apt-get when run as root; otherwise the exact command is printed and the
# script stops with status 1, so nothing crashes later for want of a library. PETGROUND_SKIP_SYSTEM=1 skips it.
set -euo pipefail
cd "$(dirname "$0")/.."
purpose=${1:-demo}
[ "${PETGROUND_SKIP_SYSTEM:-}" = 1 ] && exit 0
[ "$(uname -s)" = Linux ] || exit 0  # macOS and Windows wheels of Qt bring what they need

# library file -> Debian/Ubuntu package (Qt 6's xcb platform plugin, OpenGL for the canvas, fonts, D-Bus)
LIBRARIES="libGL.so.1:libgl1 libEGL.so.1:libegl1 libglib-2.0.so.0:libglib2.0-0 libfontconfig.so.1:libfontconfig1
libfreetype.so.6:libfreetype6 libdbus-1.so.3:libdbus-1-3 libX11-xcb.so.1:libx11-xcb1
libxkbcommon.so.0:libxkbcommon0 libxkbcommon-x11.so.0:libxkbcommon-x11-0 libxcb-cursor.so.0:libxcb-cursor0
libxcb-icccm.so.4:libxcb-icccm4 libxcb-image.so.0:libxcb-image0 libxcb-keysyms.so.1:libxcb-keysyms1
libxcb-randr.so.0:libxcb-randr0 libxcb-render-util.so.0:libxcb-render-util0 libxcb-shape.so.0:libxcb-shape0
libxcb-xkb.so.1:libxcb-xkb1"

known_libraries() {
  local ldconfig
  ldconfig=$(command -v ldconfig || echo /sbin/ldconfig)
  "$ldconfig" -p 2>/dev/null | awk '{print $1}'
}

package_of() {  # the package of a library file, or nothing when it is not in the table
  local entry
  for entry in $LIBRARIES; do
    [ "${entry%%:*}" = "$1" ] && { echo "${entry#*:}"; return; }
  done
}

missing=() unknown=()
if [ "$purpose" = qt ]; then
  # what the dynamic linker cannot find for Qt's xcb plugin, including libraries the table does not name
  plugin=$(ls .venv/lib/python3*/site-packages/PyQt6/Qt6/plugins/platforms/libqxcb.so 2>/dev/null | head -n 1)
  [ -n "$plugin" ] || exit 0
  for lib in $(ldd "$plugin" | awk '/not found/ {print $1}' | sort -u); do
    package=$(package_of "$lib")
    if [ -n "$package" ]; then missing+=("$package"); else unknown+=("$lib"); fi
  done
  if [ ${#unknown[@]} -gt 0 ]; then
    echo "Qt's X11 plugin ($plugin) needs library files that are not installed: ${unknown[*]}" >&2
    echo "Install the packages that hold them (on Debian/Ubuntu: apt-file search FILE), then run this again." >&2
  fi
else
  have=$(known_libraries)
  for entry in $LIBRARIES; do
    grep -qxF "${entry%%:*}" <<<"$have" || missing+=("${entry#*:}")
  done
  if [ "$purpose" = test ]; then
    command -v Xvfb >/dev/null || missing+=(xvfb)
    command -v xauth >/dev/null || missing+=(xauth)
  fi
  if [ ! -x .venv/bin/python ] && ! "${PYTHON:-python3}" -c "import ensurepip, venv" 2>/dev/null; then
    missing+=(python3-venv)
  fi
fi
if [ ${#missing[@]} -eq 0 ]; then
  [ ${#unknown[@]} -eq 0 ] && exit 0 || exit 1
fi

missing=($(printf '%s\n' "${missing[@]}" | awk '!seen[$0]++'))
echo "napari-petground needs system packages that are not installed here: ${missing[*]}" >&2
if ! command -v apt-get >/dev/null; then
  echo "This is not a Debian/Ubuntu system: install your distribution's packages of these (Debian names," >&2
  echo "for Qt 6's X11 platform plugin, OpenGL and, for the tests, Xvfb), then run this command again." >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "Install them, then run this command again:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
echo "Installing them with apt-get ..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
[ ${#unknown[@]} -eq 0 ]
