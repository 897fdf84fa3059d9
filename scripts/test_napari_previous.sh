#!/usr/bin/env bash
# The GUI tests (pytest -m gui) against the napari minor release before the installed one: the plugin
# supports both. A second venv, .venv-napari-X.Y, holds only that napari (and what it needs in other
# versions) and reads every other package from .venv, so nothing else is downloaded or installed twice.
# PETGROUND_NAPARI_PREVIOUS=0.8 picks the release; extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || bash scripts/setup.sh test
PREV=${PETGROUND_NAPARI_PREVIOUS:-$(.venv/bin/python -c \
  'import napari; major, minor = napari.__version__.split(".")[:2]; print(f"{major}.{int(minor) - 1}")')}
VENV=.venv-napari-$PREV
if [ ! -x "$VENV/bin/python" ]; then
  BASE=$(.venv/bin/python -c 'import sys; print(sys._base_executable)')
  "$BASE" -m venv "$VENV"
  MAIN_SITE=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  OWN_SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  # after its own site-packages: the previous napari wins, everything else comes from .venv
  echo "import site; site.addsitedir('$MAIN_SITE')" > "$OWN_SITE/_petground_main_venv.pth"
  "$VENV/bin/python" -m pip install --quiet "napari==$PREV.*"
fi
"$VENV/bin/python" -c 'import napari; print("GUI tests on napari", napari.__version__)'
exec "$VENV/bin/python" -m pytest -q -m gui -p no:cacheprovider "$@"
