#!/usr/bin/env bash
# Set up (once) and open napari with the demo PET/CT study, its report and the grounding dock.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/petground ] || bash scripts/setup.sh
exec .venv/bin/petground view --demo "$@"
