"""One 3D image on a regular grid, in napari axis order (z, y, x) and LPS physical space.

Every volume the package holds is canonicalised to an identity direction (DICOM LPS: x to the patient's
left, y posterior, z superior), so napari needs only `scale` (spacing) and `translate` (origin) to overlay
layers of different grids in physical space, and the axial view is radiological (patient's right on the
screen's left). The direction the file had is kept so writers can restore it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

Triple = tuple[float, float, float]
IDENTITY_DIRECTION: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)


@dataclass(repr=False)
class Volume:
    """Voxel data (z, y, x) with spacing and origin in mm, both in (z, y, x) order."""

    data: np.ndarray
    spacing: Triple
    origin: Triple
    source_direction: tuple[float, ...] = IDENTITY_DIRECTION  # SimpleITK (x, y, z) row-major, of the file
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.data.ndim != 3:
            raise ValueError(f"a Volume is 3D, got an array of shape {self.data.shape}")
        self.spacing = tuple(float(s) for s in self.spacing)  # type: ignore[assignment]
        self.origin = tuple(float(o) for o in self.origin)  # type: ignore[assignment]

    def __repr__(self) -> str:  # short: a Volume shows up in error messages and layer metadata
        return (f"Volume(shape={self.shape}, dtype={self.data.dtype}, spacing={self.spacing}, "
                f"origin={self.origin})")

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.data.shape)  # type: ignore[return-value]

    @property
    def voxel_volume_ml(self) -> float:
        """Volume of one voxel in millilitres (cm^3)."""
        return float(np.prod(self.spacing)) / 1000.0

    def index_to_world(self, index: np.ndarray | tuple) -> np.ndarray:
        """(z, y, x) voxel index (may be fractional, shape (..., 3)) -> (z, y, x) LPS position in mm."""
        return np.asarray(self.origin) + np.asarray(index, dtype=float) * np.asarray(self.spacing)

    def world_to_index(self, position: np.ndarray | tuple) -> np.ndarray:
        """(z, y, x) LPS position in mm -> fractional (z, y, x) voxel index."""
        return (np.asarray(position, dtype=float) - np.asarray(self.origin)) / np.asarray(self.spacing)

    def same_grid(self, other: Volume, tol: float = 1e-3) -> bool:
        """True when both volumes share shape, spacing and origin (so masks transfer voxel by voxel)."""
        return (
            self.shape == other.shape
            and np.allclose(self.spacing, other.spacing, atol=tol)
            and np.allclose(self.origin, other.origin, atol=tol)
        )
