"""Lesion statistics from a mask on the PET grid: what a reader checks a finding against.

The numbers are recomputed from the mask the user accepted (after any painting), never copied from the
model's prediction, so the findings table and the saved sidecar always describe the voxels on disk.
SUV values are the PET layer's values (SUVbw when the study is in SUV, stored units otherwise).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

from ..study.study import Study

BODY_SUV = 0.2  # PET above this is body, for the midline (the same body threshold as the preprocessing)
MIDLINE_MM = 5.0  # a lesion whose centroid lies this close to the body midline is "midline"


@dataclass(frozen=True)
class LesionStats:
    """SUVmax/SUVmean/volume/TLG and where the lesion is (PET z indices, image numbers, mm, side)."""

    voxels: int
    suvmax: float
    suvmean: float
    volume_ml: float
    tlg: float  # total lesion glycolysis = SUVmean x volume (ml)
    image_range: tuple[int, int]  # (lowest, highest) report image number
    z_range: tuple[int, int]  # (lowest, highest) PET z index
    peak_index: tuple[int, int, int]  # (z, y, x) voxel of SUVmax
    centroid_mm: tuple[float, float, float]  # (z, y, x) LPS position in mm
    side: str  # "right", "left" or "midline" (patient's side)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> LesionStats:
        data = dict(data)
        for key in ("image_range", "z_range", "peak_index", "centroid_mm"):
            data[key] = tuple(data[key])
        return cls(**data)


def body_midline_x(study: Study) -> float:
    """x position (mm, LPS) of the body's midline: the centre of the PET body voxels.

    Patients are rarely centred in the field of view, so the image centre is not the midline.
    Falls back to the grid centre when the PET has no body voxels.
    """
    pet = study.pet
    profile = np.count_nonzero(np.asarray(pet.data) > BODY_SUV, axis=(0, 1)).astype(float)
    if profile.sum() == 0:
        centre = (pet.shape[2] - 1) / 2.0
    else:
        centre = float(np.dot(profile, np.arange(pet.shape[2])) / profile.sum())
    return pet.origin[2] + centre * pet.spacing[2]


def side_of(x_mm: float, midline_x: float, tolerance_mm: float = MIDLINE_MM) -> str:
    """Patient side of an LPS x position: x grows towards the patient's left."""
    if abs(x_mm - midline_x) <= tolerance_mm:
        return "midline"
    return "left" if x_mm > midline_x else "right"


def lesion_stats(study: Study, mask: np.ndarray, *, midline_x: float | None = None) -> LesionStats:
    """Statistics of the voxels of ``mask`` (bool or nonzero, PET grid). ValueError when empty or off-grid."""
    mask = np.asarray(mask)
    if mask.shape != study.pet.shape:
        raise ValueError(f"mask of shape {mask.shape} is not on the PET grid {study.pet.shape}")
    found = ndimage.find_objects(mask.astype(bool).astype(np.uint8))
    if not found or found[0] is None:
        raise ValueError("the mask is empty")
    box = found[0]
    sub_mask = mask[box].astype(bool)
    values = np.asarray(study.pet.data[box], dtype=np.float64)
    return _stats_in_box(study, box, sub_mask, values, midline_x)


def label_stats(study: Study, labels: np.ndarray, *, midline_x: float | None = None) -> dict[int, LesionStats]:
    """Statistics of every label present in ``labels`` (PET grid), computed box by box."""
    labels = np.asarray(labels)
    if labels.shape != study.pet.shape:
        raise ValueError(f"labels of shape {labels.shape} are not on the PET grid {study.pet.shape}")
    if midline_x is None and labels.any():
        midline_x = body_midline_x(study)
    out: dict[int, LesionStats] = {}
    if not np.issubdtype(labels.dtype, np.integer):
        labels = labels.astype(np.int64)
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None:
            continue
        sub_mask = labels[box] == index
        values = np.asarray(study.pet.data[box], dtype=np.float64)
        out[index] = _stats_in_box(study, box, sub_mask, values, midline_x)
    return out


def _stats_in_box(study: Study, box: tuple[slice, ...], sub_mask: np.ndarray, values: np.ndarray,
                  midline_x: float | None) -> LesionStats:
    pet = study.pet
    inside = values[sub_mask]
    voxels = int(inside.size)
    offset = np.array([s.start for s in box])
    local = np.argwhere(sub_mask)
    peak_local = local[int(np.argmax(inside))]
    peak = tuple(int(v) for v in peak_local + offset)
    centroid_index = local.mean(axis=0) + offset
    centroid_mm = tuple(float(v) for v in pet.index_to_world(centroid_index))
    volume_ml = voxels * pet.voxel_volume_ml
    suvmean = float(inside.mean())
    z_values = np.unique(local[:, 0] + offset[0])
    if midline_x is None:
        midline_x = body_midline_x(study)
    return LesionStats(
        voxels=voxels,
        suvmax=float(inside.max()),
        suvmean=suvmean,
        volume_ml=float(volume_ml),
        tlg=float(suvmean * volume_ml),
        image_range=study.numbering.image_range(z_values),
        z_range=(int(z_values.min()), int(z_values.max())),
        peak_index=peak,  # type: ignore[arg-type]
        centroid_mm=centroid_mm,  # type: ignore[arg-type]
        side=side_of(centroid_mm[2], midline_x),
    )
