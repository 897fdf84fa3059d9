#!/usr/bin/env bash
# Create .venv (once) and install napari-petground with its Qt and test extras.
# System packages first (scripts/system.sh: installed with apt-get when root, else the command is printed and
# nothing is installed); the first argument says what for: "test" (default, adds Xvfb) or "demo".
# torch is installed before the package so that the CPU build is chosen where one can be found (a local wheel,
# pip's configured indexes, PyTorch's CPU index); otherwise PyPI's build, which brings CUDA libraries.
# Set PETGROUND_TORCH="" to keep the torch you already have (e.g. a CUDA build on a GPU machine).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system.sh "${1:-test}"
PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "napari-petground needs Python 3.11 or newer; '$PY' is $("$PY" -V 2>&1 || echo missing)." >&2
  echo "Install one and name it, e.g.: PYTHON=python3.12 bash $0" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
pip=(.venv/bin/python -m pip)
"${pip[@]}" install --quiet --upgrade pip
TORCH_SPEC=${PETGROUND_TORCH-torch==2.13.0}
if [[ "$TORCH_SPEC" =~ ^torch==[0-9.]+$ ]]; then
  if ! "${pip[@]}" install --quiet "$TORCH_SPEC+cpu" 2>/dev/null \
     && ! "${pip[@]}" install --quiet --timeout 30 --index-url https://download.pytorch.org/whl/cpu \
          "$TORCH_SPEC+cpu" 2>/dev/null; then
    echo "The CPU build of $TORCH_SPEC is not reachable from here; installing PyPI's build of it, which brings" >&2
    echo "CUDA libraries (several GB to download) and runs on the CPU as well." >&2
    "${pip[@]}" install --quiet "$TORCH_SPEC"
  fi
elif [ -n "$TORCH_SPEC" ]; then
  "${pip[@]}" install --quiet "$TORCH_SPEC"
fi
"${pip[@]}" install --quiet -e '.[qt,dev]'
bash scripts/system.sh qt
