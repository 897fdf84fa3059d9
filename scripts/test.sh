#!/usr/bin/env bash
# Set up (once) and run the test suite; GUI tests get a virtual X server from pytest-xvfb.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/pytest ] || bash scripts/setup.sh
.venv/bin/ruff check src tests benchmarks
.venv/bin/npe2 validate napari-petground
exec .venv/bin/python -m pytest -q "$@"
