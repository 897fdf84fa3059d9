"""The project's own .npz files (kept lesion and window samples), read with an error that names the file.

A wrong path, a truncated copy or another program's .npz given where kept samples are expected would
otherwise end in numpy's or zipfile's traceback."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ..errors import ModelError


def read_npz(path: str | Path, required: tuple[str, ...], what: str, written_by: str) -> dict[str, np.ndarray]:
    """Every array of ``path``; ModelError naming the file when it cannot be read or lacks ``required``."""
    hint = f"it must be a file that {written_by} wrote"
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: np.asarray(data[key]) for key in data.files}
    except (OSError, ValueError, EOFError, TypeError, AttributeError, zipfile.BadZipFile) as exc:
        raise ModelError(f"cannot read {what} from {path} ({exc}); {hint}") from exc
    missing = [key for key in required if key not in arrays]
    if missing:
        raise ModelError(f"cannot read {what} from {path} (no {', '.join(missing)}); {hint}")
    return arrays
