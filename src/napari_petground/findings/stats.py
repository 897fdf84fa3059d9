"""Lesion statistics of accepted masks: the numbers the findings table and the sidecar show.

The statistics themselves are weaklabel.components' ComponentStats (SUVmax, SUVmean, volume, TLG, image
range, peak, centroid, side of the body midline), the same record the model's number-aware choice and weak
labeling use, so a finding's numbers are computed one way everywhere. Here they are recomputed from the
mask the user accepted (after any painting), never copied from the model's prediction, so the table and
the saved sidecar always describe the voxels on disk.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy import ndimage

from ..study.study import Study
from ..weaklabel.components import ComponentStats, body_midline_x_mm, component_stats

LesionStats = ComponentStats  # the name this package uses for the statistics of one accepted finding

_TUPLES = ("image_range", "z_range", "peak_index", "centroid_mm")
COMPACT_ABOVE = 65535  # label ids above this are renumbered before per-id statistics


def stats_from_dict(data: dict) -> ComponentStats:
    """Inverse of ``ComponentStats.to_dict`` (JSON turns tuples into lists)."""
    data = dict(data)
    for key in _TUPLES:
        if key in data:
            data[key] = tuple(data[key])
    return ComponentStats(**data)


def lesion_stats(study: Study, mask: np.ndarray, *, midline_x: float | None = None) -> ComponentStats:
    """Statistics of the voxels of ``mask`` (bool or nonzero, PET grid) as one lesion.

    ValueError when the mask is empty or not on the PET grid.
    """
    mask = np.asarray(mask)
    if mask.shape != study.pet.shape:
        raise ValueError(f"mask of shape {mask.shape} is not on the PET grid {study.pet.shape}")
    boxes = ndimage.find_objects(mask.astype(bool).astype(np.uint8))
    if not boxes or boxes[0] is None:
        raise ValueError("the mask is empty")
    box = boxes[0]
    sub = mask[box].astype(bool).astype(np.uint8)
    midline = body_midline_x_mm(study) if midline_x is None else midline_x
    offset = tuple(s.start for s in box)
    (stats,) = component_stats(sub, study.pet, study.numbering, midline, offset=offset)  # type: ignore[arg-type]
    return stats


def label_stats(study: Study, labels: np.ndarray, *, midline_x: float | None = None) -> dict[int, ComponentStats]:
    """Statistics of every label present in ``labels`` (PET grid), by label id."""
    labels = np.asarray(labels)
    if labels.shape != study.pet.shape:
        raise ValueError(f"labels of shape {labels.shape} are not on the PET grid {study.pet.shape}")
    if not labels.any():
        return {}
    if not np.issubdtype(labels.dtype, np.integer):
        labels = labels.astype(np.int64)
    midline = body_midline_x_mm(study) if midline_x is None else midline_x
    top = int(labels.max())
    if top <= COMPACT_ABOVE:
        return {s.label: s for s in component_stats(labels, study.pet, study.numbering, midline)}
    # large ids (a file from elsewhere): number them 1..n first, the per-id work grows with the largest id
    ids, compact = np.unique(labels, return_inverse=True)
    compact = compact.reshape(labels.shape) + (0 if ids[0] == 0 else 1)
    ids = ids if ids[0] == 0 else np.concatenate([[0], ids])
    stats = component_stats(compact, study.pet, study.numbering, midline)
    return {int(ids[s.label]): replace(s, label=int(ids[s.label])) for s in stats}
