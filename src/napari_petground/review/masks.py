"""Fixed masks on disk: written whole or not at all, checked against the hash their decision recorded.

A fix is saved as ``DATASET/review_masks/{case}_{index:03d}_{stamp}.nii.gz`` (uint8, PET grid) through a
temporary file, fsync and rename, and only then does the decision row that points at it get committed. A
crash between the two leaves an unreferenced but complete file; a crash during the write leaves only a
dot-named temporary file (cleared once it is an hour old, when a queue opens). Files are never overwritten, so
every decision in the history keeps its mask. A mask path read back from the database must lie in
``review_masks/``; anything else is treated as a damaged mask, never opened.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import atomic_write
from ..dataset.layout import check_case, inside
from ..dataset.layout import stale_temporaries as _stale
from ..errors import PetGroundError, ReviewError
from ..study.grid import Grid
from .store import MASK_DIR

TMP_SUFFIX = ".tmp.nii.gz"


@dataclass(frozen=True)
class SavedMask:
    relpath: str  # relative to the dataset folder
    sha256: str
    voxels: int


def grid_of(path: Path) -> Grid:
    """The grid of a NIfTI file from its header alone (no voxels read)."""
    import SimpleITK as sitk

    if not path.is_file():
        raise ReviewError(f"image missing: {path}; the dataset folder is incomplete")
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError as exc:
        raise ReviewError(f"cannot read the header of {path}: {exc}") from exc
    return Grid(tuple(int(v) for v in reader.GetSize()[::-1]), tuple(float(v) for v in reader.GetSpacing()[::-1]),
                tuple(float(v) for v in reader.GetOrigin()[::-1]))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_mask(root: Path, case: str, index: int, mask: np.ndarray, grid: Grid) -> SavedMask:
    """Write ``mask`` durably under ``root/review_masks`` and return where it is and its hash."""
    import SimpleITK as sitk

    mask = np.asarray(mask)
    try:
        check_case(case)
    except PetGroundError as exc:
        raise ReviewError(str(exc)) from exc
    if tuple(mask.shape) != grid.shape:
        raise ReviewError(f"the mask of {case}:{index} has shape {mask.shape}, the PET grid is {grid.shape}")
    folder = root / MASK_DIR
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S") + f"_{os.getpid()}_{time.monotonic_ns() % 10**9:09d}"
    final = folder / f"{case}_{index:03d}_{stamp}.nii.gz"
    image = sitk.GetImageFromArray(np.ascontiguousarray(mask > 0, dtype=np.uint8))
    image.SetSpacing(tuple(float(s) for s in grid.spacing[::-1]))
    image.SetOrigin(tuple(float(o) for o in grid.origin[::-1]))
    digests: list[str] = []

    def write(tmp: Path) -> None:
        sitk.WriteImage(image, str(tmp), True)
        digests.append(file_sha256(tmp))

    try:
        atomic_write(final, write)
    except (OSError, RuntimeError) as exc:
        raise ReviewError(f"cannot write the fixed mask to {folder}: {exc}") from exc
    return SavedMask(str(final.relative_to(root)), digests[0], int(np.count_nonzero(mask)))


class MaskProblem(ReviewError):
    """A decision's mask file is missing or does not match what was saved."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind  # "mask_missing" | "mask_corrupt"


def check_mask(root: Path, relpath: str, sha256: str | None) -> None:
    """Raise MaskProblem when the file is gone, lies outside review_masks/ or its bytes differ from the hash."""
    path = mask_file(root, relpath)
    if not path.is_file():
        raise MaskProblem("mask_missing", f"fixed mask file missing: {path}")
    if sha256 and file_sha256(path) != sha256:
        raise MaskProblem("mask_corrupt", f"fixed mask file changed or damaged since it was saved: {path}")


def mask_file(root: Path, relpath: str) -> Path:
    """Where a decision's mask is; MaskProblem when the recorded path leaves ``review_masks/``."""
    try:
        return inside(Path(root) / MASK_DIR, str(Path(relpath).relative_to(MASK_DIR)), "fixed mask")
    except (ValueError, PetGroundError) as exc:
        raise MaskProblem("mask_corrupt", f"the decision's mask path {relpath!r} is not in {MASK_DIR}/: "
                          "the review database was edited or damaged") from exc


def read_mask(root: Path, relpath: str, sha256: str | None, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """The boolean mask of a fix, verified; MaskProblem when it cannot be trusted."""
    from ..dataset.layout import read_nifti

    check_mask(root, relpath, sha256)
    try:
        data = read_nifti(mask_file(root, relpath)).data
    except PetGroundError as exc:
        raise MaskProblem("mask_corrupt", str(exc)) from exc
    if shape is not None and tuple(data.shape) != tuple(shape):
        raise MaskProblem("mask_corrupt", f"fixed mask {relpath} has shape {data.shape}, expected {shape}")
    return data > 0


def stale_temporaries(root: Path, older_than_s: float = 3600.0) -> list[Path]:
    """Temporary files left by writes that were interrupted (never referenced by a decision)."""
    return _stale(Path(root) / MASK_DIR, older_than_s, (f".*{TMP_SUFFIX}",))


def compare(fixed: np.ndarray, weak: np.ndarray | None) -> tuple[str, float | None]:
    """Outcome of a fix against the weak mask: unchanged, boundary (overlaps), moved (elsewhere) or drawn."""
    fixed = np.asarray(fixed, bool)
    if weak is None or not np.any(weak):
        return "drawn", None
    weak = np.asarray(weak, bool)
    inter = int(np.count_nonzero(fixed & weak))
    total = int(np.count_nonzero(fixed)) + int(np.count_nonzero(weak))
    dice = 2.0 * inter / total if total else 1.0
    if np.array_equal(fixed, weak):
        return "unchanged", 1.0
    return ("boundary" if inter else "moved"), dice
