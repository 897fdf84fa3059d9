"""A regular (z, y, x) grid in canonical LPS millimetres: the one definition every part of the package uses
(resampling, model grids, phantoms, review masks)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .volume import Volume


@dataclass(frozen=True)
class Grid:
    """``shape`` voxels with ``spacing`` and ``origin`` (the first voxel's centre) in mm, identity direction."""

    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]

    @classmethod
    def of(cls, volume: Volume) -> Grid:
        return cls(volume.shape, volume.spacing, volume.origin)

    @classmethod
    def covering(cls, lo: Sequence[float], hi: Sequence[float], spacing: Sequence[float]) -> Grid:
        """Grid whose voxels tile the box [lo, hi] (zyx mm); the box is centred on the voxels."""
        shape = []
        origin = []
        for a, b, s in zip(lo, hi, spacing, strict=True):
            n = max(1, int(math.ceil((b - a) / s - 1e-6)))
            shape.append(n)
            origin.append((a + b) / 2.0 - (n - 1) * s / 2.0)
        return cls(tuple(shape), tuple(float(s) for s in spacing), tuple(origin))  # type: ignore[arg-type]

    def axes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Voxel-centre coordinates (mm) along z, y and x."""
        return tuple(  # type: ignore[return-value]
            (o + s * np.arange(n)).astype(np.float32)
            for o, s, n in zip(self.origin, self.spacing, self.shape, strict=True)
        )

    @property
    def voxel_volume_ml(self) -> float:
        return float(np.prod(self.spacing)) / 1000.0

    def index_of(self, point_mm: Sequence[float]) -> tuple[int, int, int]:
        """Nearest voxel index of a (z, y, x) position, clipped to the grid."""
        idx = np.rint((np.asarray(point_mm, float) - self.origin) / self.spacing).astype(int)
        return tuple(int(np.clip(i, 0, n - 1)) for i, n in zip(idx, self.shape, strict=True))  # type: ignore[return-value]


def bounding_box(mask: np.ndarray) -> tuple[slice, slice, slice] | None:
    """Bounding box of a boolean (Z, Y, X) mask from its three projections (much faster than np.nonzero);
    None for an empty mask."""
    out = []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        hit = np.flatnonzero(mask.any(axis=other))
        if not hit.size:
            return None
        out.append(slice(int(hit[0]), int(hit[-1]) + 1))
    return tuple(out)  # type: ignore[return-value]
