#!/usr/bin/env bash
# Set up (once) and run the test suite; GUI tests get a virtual X server (Xvfb) from pytest-xvfb.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system.sh test
[ -x .venv/bin/pytest ] || bash scripts/setup.sh test
bash scripts/system.sh qt
.venv/bin/ruff check src tests benchmarks
.venv/bin/npe2 validate napari-petground
exec .venv/bin/python -m pytest -q "$@"
