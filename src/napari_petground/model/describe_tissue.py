"""What a lesion sits in, read from the CT at the PET grid's resolution (HU, not the model input's window).

The model grid is 8 mm and its CT channel is clipped to -150..250 HU: a rib lesion, the pleura beside it and
the lung under it share two voxels there, and lung and fat both read as the floor. At the PET grid's 2-5 mm,
in Hounsfield units, they differ: how much of the lesion and of two shells around it (0-5 mm and 5-20 mm,
measured in mm so the numbers mean the same at every voxel size) is air, fat, soft tissue, marrow-dense or
cortical bone, and the median HU there. Computed in a box around the lesion, a few milliseconds.
"""

from __future__ import annotations

import numpy as np

from ..study.grid import bounding_box

# HU bands: air (lung, bowel gas), fat, soft tissue (enhanced or not), marrow and cancellous bone, cortex
HU_EDGES = (-400.0, -30.0, 150.0, 500.0)
SHELLS_MM = (5.0, 20.0)
N_NATIVE = (len(HU_EDGES) + 2) * (len(SHELLS_MM) + 1)  # per region: one fraction per band and the median


def native_tissue_features(ct_hu: np.ndarray | None, spacing, mask: np.ndarray,
                           box: tuple[slice, ...] | None = None) -> np.ndarray:
    """N_NATIVE numbers for the lesion ``mask`` (PET grid) from the CT on the PET grid (``ct_hu``, HU): per
    region (the lesion, the shell up to 5 mm outside it, the shell from 5 to 20 mm) the fraction of voxels in
    each HU band and the median HU / 1000. All zero without a CT (real fractions sum to one)."""
    out = np.zeros(N_NATIVE, np.float32)
    mask = np.asarray(mask)
    mask = mask if mask.dtype == bool else mask != 0
    tight = box or bounding_box(mask)
    if ct_hu is None or tight is None:
        return out
    if ct_hu.shape != mask.shape:
        raise ValueError(f"the CT on the PET grid {ct_hu.shape} and the lesion mask {mask.shape} differ")
    from scipy.ndimage import distance_transform_edt

    spacing = np.asarray(spacing, float)
    pad = np.ceil(max(SHELLS_MM[-1], len(SHELLS_MM) * spacing.max()) / spacing).astype(int) + 1
    crop = tuple(slice(max(0, s.start - p), min(n, s.stop + p)) for s, p, n in zip(tight, pad, mask.shape, strict=True))
    lesion = mask[crop]
    hu = np.asarray(ct_hu[crop], np.float32)
    distance = distance_transform_edt(~lesion, sampling=spacing)
    regions = [lesion]
    inner = 0.0
    # at least one voxel layer per shell, so coarse PET grids (6 mm) keep a near shell
    for outer in np.maximum(SHELLS_MM, spacing.max() * np.arange(1, len(SHELLS_MM) + 1)):
        regions.append((distance > inner) & (distance <= outer))
        inner = outer
    per = len(HU_EDGES) + 2
    for k, region in enumerate(regions):
        values = hu[region]
        if not values.size:
            continue
        bands = np.bincount(np.searchsorted(HU_EDGES, values), minlength=len(HU_EDGES) + 1)
        out[k * per: k * per + per - 1] = bands / values.size
        out[k * per + per - 1] = float(np.median(values)) / 1000.0
    return out
