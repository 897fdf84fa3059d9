"""Mapping between a report's "image N" / "slice N" and the axial position of the PET grid.

Reports cite the DICOM InstanceNumber of the axial series. When a study comes from DICOM the numbers are
read from the files; otherwise the documented convention applies: image 1 is the most superior (head-most)
slice and numbers grow towards the feet by one per PET slice (``HEAD_FIRST``). ``FEET_FIRST`` counts the
other way, for sites whose scanners number from the feet.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np


class Convention(StrEnum):
    DICOM = "dicom"  # InstanceNumber read from the files
    HEAD_FIRST = "head_first"  # image 1 = most superior slice (default without DICOM)
    FEET_FIRST = "feet_first"  # image 1 = most inferior slice


@dataclass(frozen=True)
class ImageNumbering:
    """Image number of every axial slice of the PET grid, indexed by z (z grows superior)."""

    numbers: tuple[int, ...]
    convention: Convention

    @classmethod
    def from_convention(cls, n_slices: int, convention: Convention = Convention.HEAD_FIRST) -> ImageNumbering:
        if convention == Convention.DICOM:
            raise ValueError("DICOM numbering comes from the files; use ImageNumbering(numbers, DICOM)")
        if convention == Convention.HEAD_FIRST:
            numbers = tuple(range(n_slices, 0, -1))  # z index 0 is the most inferior slice
        else:
            numbers = tuple(range(1, n_slices + 1))
        return cls(numbers, convention)

    def image_for_index(self, z_index: int) -> int:
        """Image number shown for PET slice ``z_index``."""
        return self.numbers[int(z_index)]

    def index_for_image(self, image_number: int) -> int | None:
        """PET z index of ``image_number``, or None when no slice carries that number."""
        try:
            return self.numbers.index(int(image_number))
        except ValueError:
            return None

    def nearest_index(self, image_number: float) -> int:
        """PET z index whose image number is closest (for numbers just outside the series)."""
        return int(np.argmin(np.abs(np.asarray(self.numbers, dtype=float) - float(image_number))))

    def image_range(self, z_indices: np.ndarray) -> tuple[int, int]:
        """(lowest, highest) image number over a set of z indices."""
        values = [self.numbers[int(z)] for z in np.unique(z_indices)]
        return min(values), max(values)
