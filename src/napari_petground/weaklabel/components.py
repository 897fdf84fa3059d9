"""Statistics of connected hot regions on the PET grid, and the body midline that decides their side.

Geometry follows the package convention (study.volume): arrays are (z, y, x), positions are DICOM LPS in
mm, x grows towards the patient's LEFT. A region whose centroid lies more than ``midline_tolerance_mm``
below the midline x is on the patient's right, above it on the left, otherwise "midline"; its side is ""
(not judged) where the study does not show the body's midline (a crop through a limb: see body_midline_x_mm).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage as ndi

from ..study.numbering import ImageNumbering
from ..study.volume import Volume

MIDLINE_TOLERANCE_MM = 10.0


@dataclass
class ComponentStats:
    label: int
    n_voxels: int
    suvmax: float
    suvmean: float
    volume_ml: float
    tlg: float  # total lesion glycolysis = SUVmean × volume (ml)
    z_range: tuple[int, int]  # (min, max) PET z index
    image_range: tuple[int, int]  # (min, max) image number
    peak_index: tuple[int, int, int]  # (z, y, x) of the hottest voxel
    centroid_mm: tuple[float, float, float]  # (z, y, x) LPS mm
    side: str  # "left", "right", "midline" (patient's side) or "" (the study does not show the midline)

    def to_dict(self) -> dict:
        return asdict(self)


def side_of(x_mm: float, midline_x_mm: float, tolerance_mm: float = MIDLINE_TOLERANCE_MM) -> str:
    """Patient side of an LPS x position: x below the midline is the patient's right; "" when the midline is
    not known (NaN)."""
    if not np.isfinite(midline_x_mm):
        return ""
    if x_mm < midline_x_mm - tolerance_mm:
        return "right"
    if x_mm > midline_x_mm + tolerance_mm:
        return "left"
    return "midline"


def side_label(side: str) -> str:
    """A region's side as the user reads it: "" (the study does not show the midline) says so."""
    return side or "side not judged"


def component_stats(
    labels: np.ndarray,
    pet: Volume,
    numbering: ImageNumbering,
    midline_x_mm: float,
    *,
    midline_tolerance_mm: float = MIDLINE_TOLERANCE_MM,
    offset: tuple[int, int, int] = (0, 0, 0),
) -> list[ComponentStats]:
    """One ComponentStats per label > 0 of ``labels``.

    ``labels`` may cover a sub-box of the PET grid starting at ``offset`` (z, y, x); indices and positions
    in the result are always those of the full grid.
    """
    values = np.asarray(pet.data)
    voxel_ml = pet.voxel_volume_ml
    spacing = np.asarray(pet.spacing)
    origin = np.asarray(pet.origin)
    off = np.asarray(offset)
    out: list[ComponentStats] = []
    for i, sl in enumerate(ndi.find_objects(labels), start=1):
        if sl is None:
            continue
        mask = labels[sl] == i
        full_sl = tuple(slice(s.start + o, s.stop + o) for s, o in zip(sl, off, strict=True))
        vals = values[full_sl][mask]
        n = int(mask.sum())
        local_peak = np.unravel_index(int(np.argmax(np.where(mask, values[full_sl], -np.inf))), mask.shape)
        peak = tuple(int(p + s.start) for p, s in zip(local_peak, full_sl, strict=True))
        idx = np.argwhere(mask).mean(axis=0) + np.array([s.start for s in full_sl])
        centroid = origin + idx * spacing
        z_lo, z_hi = full_sl[0].start, full_sl[0].stop - 1
        zs = np.arange(z_lo, z_hi + 1)[mask.any(axis=(1, 2))]
        suvmean = float(vals.mean())
        out.append(
            ComponentStats(
                label=i,
                n_voxels=n,
                suvmax=float(vals.max()),
                suvmean=suvmean,
                volume_ml=n * voxel_ml,
                tlg=suvmean * n * voxel_ml,
                z_range=(int(zs.min()), int(zs.max())),
                image_range=numbering.image_range(zs),
                peak_index=peak,  # type: ignore[arg-type]
                centroid_mm=tuple(float(c) for c in centroid),  # type: ignore[arg-type]
                side=side_of(float(centroid[2]), midline_x_mm, midline_tolerance_mm),
            )
        )
    return out


def midline_of(body: np.ndarray, x_mm: np.ndarray) -> float | None:
    """The body's midline: x (mm) centroid of the largest connected part of a (z, y, x) body mask, whose
    columns lie at ``x_mm``; None for an empty mask. The one definition of the midline (the study's,
    below, and the describer's on the model grid)."""
    labels, n = ndi.label(body)
    if n == 0:
        return None
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    counts = (labels == int(np.argmax(sizes))).sum(axis=(0, 1)).astype(float)
    return float(np.dot(counts, np.asarray(x_mm, float)) / counts.sum())


def _largest_x_centroid(mask: np.ndarray, volume: Volume, step: tuple[int, int, int]) -> float | None:
    x_mm = volume.origin[2] + np.arange(mask.shape[2]) * step[2] * volume.spacing[2]
    return midline_of(mask, x_mm)


CUT_BORDER_FRACTION = 0.08
# without a CT no landmark can say a cut image is a trunk: one narrower than this (an adult trunk is wider, and
# so is any whole-body field of view) that the body fills to its border is a crop around part of the body
TRUNK_MIN_WIDTH_MM = 300.0


def _cut_in_plane(body: np.ndarray) -> bool:
    """Is the image a crop through the body: in the median slice, does the body cover at least
    CUT_BORDER_FRACTION of the image's border? (A trunk wider than the field of view touches it at a few
    points; the 16 real limb-tumour crops of the IBSI sample cover 12-57 % of it.)"""
    rows = np.flatnonzero(body.any(axis=(1, 2)))
    if rows.size == 0 or min(body.shape[1:]) < 3:
        return False
    b = body[rows]
    border = np.concatenate([b[:, 0], b[:, -1], b[:, 1:-1, 0], b[:, 1:-1, -1]], axis=1)
    return bool(np.median(border.mean(axis=1)) >= CUT_BORDER_FRACTION)


def _landmarks_seen(study) -> bool:
    from ..anatomy.landmarks import find_landmarks

    return bool(find_landmarks(study.ct, study.pet).found)


def body_midline_x_mm(study) -> float:
    """LPS x (mm) of the body's midline: x centroid of the CT body (HU > −300), else of the PET body; NaN when
    the image is a crop through the body, such as a few centimetres around a limb tumour: the middle of what
    is in view is not the body's midline there, and no side can be judged. A CT crop is one that shows no
    landmark (anatomy.landmarks: lungs, pelvis, head); without a CT, one narrower than TRUNK_MIN_WIDTH_MM.

    Cached in ``study.extras["body_midline_x_mm"]``; a site map or a caller may set that value instead.
    """
    cached = study.extras.get("body_midline_x_mm")
    if cached is not None:
        return float(cached)
    x: float | None = None
    if study.ct is not None:
        ct = study.ct
        step = tuple(max(1, int(round(8.0 / s))) for s in ct.spacing)  # ~8 mm is plenty for a centroid
        body = np.asarray(ct.data)[:: step[0], :: step[1], :: step[2]] > -300
        x = _largest_x_centroid(body, ct, step)
        if x is not None and _cut_in_plane(body) and not _landmarks_seen(study):
            x = float("nan")
    if x is None:
        pet = study.pet
        step = tuple(max(1, int(round(8.0 / s))) for s in pet.spacing)
        sub = np.asarray(pet.data)[:: step[0], :: step[1], :: step[2]]
        positive = sub[sub > 0]
        level = 0.2 if positive.size == 0 else max(0.05, min(0.2, 0.3 * float(np.median(positive))))
        body = sub > level
        x = _largest_x_centroid(body, pet, step)
        if x is not None and pet.shape[2] * pet.spacing[2] < TRUNK_MIN_WIDTH_MM and _cut_in_plane(body):
            x = float("nan")
    if x is None:  # an empty image: the centre of the grid
        pet = study.pet
        x = pet.origin[2] + (pet.shape[2] - 1) / 2 * pet.spacing[2]
    study.extras["body_midline_x_mm"] = float(x)
    return float(x)
