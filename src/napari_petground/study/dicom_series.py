"""Writing a volume as a DICOM series, one file per axial slice: the one series writer (study export, phantoms).

The caller makes each slice's header and pixels; the slice's geometry (position, orientation, pixel spacing,
size) and its InstanceNumber are set here from the volume and the image numbers, so every writer of the
package places slices the way the reader (study.dicom) reads them back. Files are written atomically.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..atomic import atomic_write

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from .volume import Volume


def write_series(volume: Volume, folder: str | Path, numbers: Sequence[int], names: Sequence[str],
                 make: Callable[[int], Dataset]) -> list[Path]:
    """Write slice z of ``volume`` (canonical LPS, z superior) as ``folder/names[z]`` with InstanceNumber
    ``numbers[z]``, its header and pixels from ``make(z)``; returns the files in z order."""
    folder = Path(folder)
    nz, ny, nx = volume.shape
    if len(numbers) != nz or len(names) != nz:
        raise ValueError(f"{len(numbers)} image numbers and {len(names)} names for {nz} slices")
    written = []
    for z in range(nz):
        ds = make(z)
        ds.Rows, ds.Columns = ny, nx
        ds.PixelSpacing = [f"{volume.spacing[1]:.6g}", f"{volume.spacing[2]:.6g}"]
        ds.SliceThickness = f"{volume.spacing[0]:.6g}"
        position = volume.index_to_world((z, 0, 0))  # (z, y, x) mm
        ds.ImagePositionPatient = [f"{position[2]:.4f}", f"{position[1]:.4f}", f"{position[0]:.4f}"]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.SliceLocation = f"{position[0]:.4f}"
        ds.InstanceNumber = int(numbers[z])
        written.append(atomic_write(folder / names[z], lambda tmp, ds=ds: ds.save_as(tmp, enforce_file_format=True)))
    return written
