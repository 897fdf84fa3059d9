#!/usr/bin/env bash
# Set up (once) and open napari with the demo PET/CT study, its report and the grounding dock.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(uname -s)" = Linux ] && [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "No display: the demo opens a window, so run it on a desktop (or over ssh -X)." >&2
  echo "To check that it starts on a machine without one: xvfb-run -a bash scripts/demo.sh" >&2
  echo "(xvfb-run comes with: sudo apt-get install -y xvfb xauth)" >&2
  exit 1
fi
bash scripts/system.sh demo
[ -x .venv/bin/petground ] || bash scripts/setup.sh demo
bash scripts/system.sh qt
# the display must accept a window before napari starts: Qt aborts without a word on a display it cannot open
if ! (.venv/bin/python -c "from qtpy.QtWidgets import QApplication; QApplication([])"; exit $?) 2>/dev/null; then
  echo "Qt cannot open a window on display '${DISPLAY:-${WAYLAND_DISPLAY:-}}' (no X server there, or no access)." >&2
  echo "Run the demo on a desktop session; details: QT_DEBUG_PLUGINS=1 .venv/bin/python -c" \
       "'from qtpy.QtWidgets import QApplication; QApplication([])'" >&2
  exit 1
fi
exec .venv/bin/petground view --demo "$@"
