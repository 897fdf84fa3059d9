"""Quick looks at a phantom without a viewer: coronal PET maximum-intensity projections as PNG.

The classic nuclear-medicine MIP (inverted grey, head up, patient's right on the image's left), resampled
to square millimetres so the body keeps its proportions whatever the voxel size.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..atomic import atomic_write
from ..study.volume import Volume


def coronal_mip(pet: Volume, suv_max: float = 10.0, mm_per_pixel: float = 2.0) -> np.ndarray:
    """uint8 image (rows = head→feet, columns = patient's right→left), black = SUV ≥ ``suv_max``."""
    mip = pet.data.max(axis=1)[::-1]  # (z, x), most superior row first
    rows = max(1, int(round(mip.shape[0] * pet.spacing[0] / mm_per_pixel)))
    cols = max(1, int(round(mip.shape[1] * pet.spacing[2] / mm_per_pixel)))
    zi = np.minimum((np.arange(rows) * mm_per_pixel / pet.spacing[0]).astype(int), mip.shape[0] - 1)
    xi = np.minimum((np.arange(cols) * mm_per_pixel / pet.spacing[2]).astype(int), mip.shape[1] - 1)
    img = mip[np.ix_(zi, xi)]
    return (255 - np.clip(img / suv_max, 0, 1) * 255).astype(np.uint8)


def save_png(image: np.ndarray, path: str | os.PathLike) -> Path:
    """Write a uint8 (grey or RGB) array as PNG through a temporary file."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, lambda tmp: Image.fromarray(image).save(tmp, format="PNG"))


def mip_panel(volumes: list[Volume], suv_max: float = 10.0, gap: int = 8) -> np.ndarray:
    """Several coronal MIPs side by side (bottom-aligned on white), e.g. one per tracer."""
    images = [coronal_mip(v, suv_max) for v in volumes]
    height = max(i.shape[0] for i in images)
    padded = [np.pad(i, ((height - i.shape[0], 0), (gap, gap)), constant_values=255) for i in images]
    return np.concatenate(padded, axis=1)
