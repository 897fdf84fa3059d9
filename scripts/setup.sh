#!/usr/bin/env bash
# Create .venv (once) and install napari-petground with its Qt and test extras.
# torch is pinned to the CPU build first so that the dependency resolver does not fetch a CUDA build;
# set PETGROUND_TORCH="" to keep the torch you already have (e.g. a CUDA build on a GPU machine).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
TORCH_SPEC=${PETGROUND_TORCH-torch==2.13.0}
if [ -n "$TORCH_SPEC" ]; then
  .venv/bin/python -m pip install --quiet "$TORCH_SPEC"
fi
.venv/bin/python -m pip install --quiet -e '.[qt,dev]'
