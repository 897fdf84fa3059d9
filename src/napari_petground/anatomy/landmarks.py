"""Anatomical landmarks read from the CT (and the PET where the CT says nothing): where along the body a slice is,
whatever the field of view.

Why: positions relative to the body's bounding box mean different places in a neck-to-thigh, a chest-only or a
whole-body exam. Landmarks the images show robustly do not move with the field of view:

* body outline per slice (CT > −400 HU, holes filled; else PET above a fraction of its body median);
* lungs: air inside the body outline in one or two large connected volumes (bowel gas is small) → lung apex
  and base (the diaphragm's dome);
* skeleton (CT > 180 HU): the spine's centre per slice (bone in the posterior middle third) gives the midline
  and the front–back reference; the iliac crest is the highest slice below the lungs with bone far out on both
  sides; the pubic symphysis the lowest slice of bone in front of the spine near the midline, below the crest;
* head: slices above the lungs whose bone forms a ring around soft tissue (the skull) → vertex and skull base;
* legs: below the pelvis the body outline splits in two → the perineum (the top of the thighs).

Everything runs on a 4 mm working grid (about 0.3 s for a whole body). A landmark is reported only when it is
seen; a missing one is missing (a chest-only exam has no iliac crest), and the caller says so to the user.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

from ..study.resample import Grid, resample_to_grid
from ..study.volume import Volume

WORK_MM = 4.0
AIR_HU = -400.0
BONE_HU = 180.0
MIN_LUNG_ML = 20.0  # a lung, or the part of one the field of view holds, is at least this much air in the body
MIN_LUNG_HEIGHT_MM = 80.0  # apex to base of a lung seen whole: about 150-250 mm in adults, over 80 mm in children
GAS_HU = -960.0  # bowel gas is pure air (its 10th percentile below this); lung parenchyma is not
LANDMARK_NAMES = ("vertex", "skull_base", "lung_apex", "lung_base", "iliac_crest", "pubic_symphysis",
                  "perineum")


@dataclass
class Landmarks:
    """What was found, in LPS mm: axial landmarks (z), and per working slice the body's midline, outline and spine."""

    z: np.ndarray  # (Z,) mm of the working slices, ascending (inferior to superior)
    found: dict[str, float] = field(default_factory=dict)  # landmark name -> z mm
    midline_x: np.ndarray | None = None  # (Z,) mm: spine centre where seen, else body centre; NaN outside the body
    centre_y: np.ndarray | None = None  # (Z,) mm: body centre (y)
    spine_y: np.ndarray | None = None  # (Z,) mm: front of the spine where seen, else NaN
    half_width: np.ndarray | None = None  # (Z,) mm
    half_depth: np.ndarray | None = None  # (Z,) mm
    body_top: float | None = None  # z mm of the highest / lowest slice holding body
    body_bottom: float | None = None
    lung_lowest: float | None = None  # z mm of the lowest lung slice seen, the field of view's edge included
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """One line for the user: which landmarks were seen."""
        if not self.found:
            return "no anatomical landmark found (" + "; ".join(self.notes or ["no lungs, pelvis or head"]) + ")"
        names = ", ".join(n.replace("_", " ") for n in LANDMARK_NAMES if n in self.found)
        return f"landmarks found: {names}"


def find_landmarks(ct: Volume | None, pet: Volume | None) -> Landmarks:
    """Landmarks of a study (either image may be missing; the CT gives most of them)."""
    if ct is None and pet is None:
        raise ValueError("find_landmarks needs a CT or a PET")
    ref = ct if ct is not None else pet
    grid = _working_grid(ref)
    z = grid.origin[0] + np.arange(grid.shape[0]) * grid.spacing[0]
    out = Landmarks(z=z)
    hu = resample_to_grid(ct, grid, fill=-1000.0, dtype=np.float32).data if ct is not None else None
    suv = resample_to_grid(pet, grid, fill=0.0, dtype=np.float32).data if pet is not None else None
    body = _body(hu, suv)
    if not body.any():
        out.notes.append("no body in the image")
        return out
    y = grid.origin[1] + np.arange(grid.shape[1]) * grid.spacing[1]
    x = grid.origin[2] + np.arange(grid.shape[2]) * grid.spacing[2]
    body = _trunk_only(body)
    _outline(out, body, y, x, grid.spacing)
    if hu is None:
        out.notes.append("no CT: lungs, bones and head cannot be seen")
        return out
    bone = (hu > BONE_HU) & ndi.binary_dilation(body, iterations=2)
    _spine(out, bone, y, x)
    _lungs(out, hu, body, grid)
    _pelvis(out, bone, body, y, x)
    _head(out, bone, body)
    _legs(out, body)
    _keep_in_order(out)
    if not out.found:
        widths = out.half_width[np.isfinite(out.half_width)] if out.half_width is not None else np.array([])
        if widths.size and np.median(widths) < 110:
            out.notes.append("a narrow body without lungs or pelvis: a limb or a small part of the trunk")
    return out


def _keep_in_order(out: Landmarks) -> None:
    """Drop a landmark that sits above one that belongs higher in the body (a misread one)."""
    previous = np.inf
    for name in LANDMARK_NAMES:
        if name not in out.found:
            continue
        if out.found[name] >= previous:
            out.notes.append(f"{name.replace('_', ' ')} ignored: out of order with the landmarks above it")
            del out.found[name]
        else:
            previous = out.found[name]


def _working_grid(ref: Volume) -> Grid:
    extent = np.asarray(ref.shape) * np.asarray(ref.spacing)
    shape = tuple(max(1, int(round(e / WORK_MM))) for e in extent)
    spacing = tuple(float(e / n) for e, n in zip(extent, shape, strict=True))
    origin = tuple(float(o - s / 2 + w / 2) for o, s, w in zip(ref.origin, ref.spacing, spacing, strict=True))
    return Grid(shape, spacing, origin)


def _body(hu: np.ndarray | None, suv: np.ndarray | None) -> np.ndarray:
    """Largest connected body, holes filled per slice (lungs and bowel gas are inside the body)."""
    if hu is not None:
        tissue = hu > AIR_HU
    else:
        positive = suv[suv > 0.05]
        level = 0.3 * float(np.median(positive)) if positive.size else 0.1
        tissue = ndi.binary_closing(suv > level, iterations=1)
    tissue = ndi.binary_opening(tissue, iterations=1)
    labels, n = ndi.label(tissue)
    if n == 0:
        return tissue
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    # the body, and limbs or legs as separate pieces when they are large too
    return fill_holes_per_slice((sizes >= 0.05 * sizes.max())[labels])


def fill_holes_per_slice(mask: np.ndarray) -> np.ndarray:
    """Each axial slice's holes filled at once: background pieces (labelled in plane, so slices stay apart)
    that do not reach the slice's edge are holes. One labelling pass instead of a flood fill per slice."""
    plane = np.zeros((3, 3, 3), bool)
    plane[1] = ndi.generate_binary_structure(2, 1)
    background = ~mask
    labels, n = ndi.label(background, structure=plane)
    edge = np.zeros(n + 1, bool)  # a lookup by label: np.isin sorts the whole volume
    for face in (labels[:, 0], labels[:, -1], labels[:, :, 0], labels[:, :, -1]):
        edge[face] = True
    return mask | (background & ~edge[labels])


def _trunk_only(body: np.ndarray) -> np.ndarray:
    """Per slice, drop pieces much smaller than the largest (arms beside the trunk); two legs stay."""
    out = body.copy()
    for k in np.flatnonzero(body.any(axis=(1, 2))):
        labels, n = ndi.label(body[k])
        if n < 2:
            continue
        sizes = np.bincount(labels.ravel())
        sizes[0] = 0
        out[k] = (sizes >= 0.5 * sizes.max())[labels]
    return out


def _outline(out: Landmarks, body: np.ndarray, y: np.ndarray, x: np.ndarray, spacing) -> None:
    n = body.shape[0]
    out.midline_x = np.full(n, np.nan)
    out.centre_y = np.full(n, np.nan)
    out.half_width = np.full(n, np.nan)
    out.half_depth = np.full(n, np.nan)
    out.spine_y = np.full(n, np.nan)
    slices = np.flatnonzero(body.any(axis=(1, 2)))
    for k in slices:
        ys = np.flatnonzero(body[k].any(axis=1))
        xs = np.flatnonzero(body[k].any(axis=0))
        cols = body[k].sum(axis=0).astype(float)
        out.midline_x[k] = float(np.dot(cols, x) / cols.sum())
        out.centre_y[k] = (y[ys[0]] + y[ys[-1]]) / 2
        out.half_width[k] = (x[xs[-1]] - x[xs[0]]) / 2 + spacing[2] / 2
        out.half_depth[k] = (y[ys[-1]] - y[ys[0]]) / 2 + spacing[1] / 2
    out.body_bottom, out.body_top = float(out.z[slices[0]]), float(out.z[slices[-1]])


def _spine(out: Landmarks, bone: np.ndarray, y: np.ndarray, x: np.ndarray) -> None:
    """Per slice: bone in the posterior half within a third of the width of the body's centre is the spine."""
    for k in np.flatnonzero(np.isfinite(out.midline_x)):
        mid, cy, hw = out.midline_x[k], out.centre_y[k], out.half_width[k]
        near = (np.abs(x - mid) < max(hw / 3, 25.0))[None, :] & (y >= cy - 0.2 * out.half_depth[k])[:, None]
        spine = bone[k] & near
        if spine.sum() < 4:
            continue
        ys, xs = np.nonzero(spine)
        out.midline_x[k] = float(np.median(x[xs]))
        out.spine_y[k] = float(np.percentile(y[ys], 10))  # the front of the vertebral body


def _lungs(out: Landmarks, hu: np.ndarray, body: np.ndarray, grid: Grid) -> None:
    voxel_ml = float(np.prod(grid.spacing)) / 1000.0
    air = (hu < AIR_HU) & ndi.binary_erosion(body, iterations=1)
    labels, n = ndi.label(air)
    if n == 0:
        return
    sizes = np.bincount(labels.ravel()) * voxel_ml
    sizes[0] = 0
    lungs = np.flatnonzero(sizes >= MIN_LUNG_ML)
    if lungs.size == 0:
        return
    # bowel gas can be large too: a lung fills a quarter of the body's cross-section somewhere, or (a lung base
    # or apex cut by the field of view) is parenchyma rather than pure air and lies in the back half of the body
    body_area = body.sum(axis=(1, 2)).astype(float)
    y = grid.origin[1] + np.arange(grid.shape[1]) * grid.spacing[1]
    chest = []
    for c in lungs:
        part = labels == c
        fraction = np.divide(part.sum(axis=(1, 2)), body_area, out=np.zeros_like(body_area), where=body_area > 0)
        rows = np.flatnonzero(part.any(axis=(1, 2)))
        back = np.nanmedian(out.centre_y[rows]) if np.isfinite(out.centre_y[rows]).any() else -np.inf
        parenchyma = np.percentile(hu[part], 10) > GAS_HU
        centre_y = float(np.mean(y[np.nonzero(part)[1]]))
        if fraction.max() >= 0.25 or (parenchyma and centre_y >= back - 20.0):
            chest.append(int(c))
    if not chest:
        return
    lung = np.isin(labels, chest)
    area = lung.sum(axis=(1, 2)) * grid.spacing[1] * grid.spacing[2]
    rows = np.flatnonzero(area >= 400.0)  # 4 cm² of lung in a slice
    if rows.size == 0:
        return
    top, bottom = rows.max(), rows.min()
    apex_seen, base_seen = not lung[-2:].any(), not lung[:2].any()
    if apex_seen and base_seen and out.z[top] - out.z[bottom] < MIN_LUNG_HEIGHT_MM:
        return  # air with both ends in view but far too short for a lung (gas in a limb crop, between the legs)
    out.lung_lowest = float(out.z[bottom])
    if apex_seen:  # the apex is seen only when the lungs end below the top of the field of view
        out.found["lung_apex"] = float(out.z[top])
    if base_seen:
        out.found["lung_base"] = float(out.z[bottom])


def _pelvis(out: Landmarks, bone: np.ndarray, body: np.ndarray, y: np.ndarray, x: np.ndarray) -> None:
    """Iliac crest: the top of the run of slices with bone far out on both sides (beyond 45 % of the half
    width) that holds the most such bone, below the lungs (lower ribs make thinner runs); pubic symphysis: the
    lowest slice of bone in front of the spine near the midline, below the crest."""
    lungs = out.lung_lowest if out.lung_lowest is not None else np.inf
    below = min(lungs - 30.0, out.found.get("lung_apex", np.inf) - 150.0)
    cell = abs(float(y[1] - y[0])) * abs(float(x[1] - x[0])) / 100.0  # cm² of a working pixel
    lateral = np.zeros(len(out.z))
    for k in np.flatnonzero(np.isfinite(out.midline_x)):
        if out.z[k] >= below or not _trunk(out, k):
            continue
        mid, hw = out.midline_x[k], out.half_width[k]
        near = bone[k] & ndi.binary_dilation(body[k], iterations=2)
        right = near[:, x < mid - 0.45 * hw].sum() * cell
        left = near[:, x > mid + 0.45 * hw].sum() * cell
        lateral[k] = min(right, left)
    runs, start = [], None
    for k, on in enumerate(np.append(lateral >= 1.0, False)):
        if on and start is None:
            start = k
        elif not on and start is not None:
            runs.append((start, k - 1))
            start = None
    step = float(out.z[1] - out.z[0]) if len(out.z) > 1 else WORK_MM
    runs = [(a, b) for a, b in runs if (b - a + 1) * step >= 40.0 and lateral[a:b + 1].max() >= 4.0]
    if not runs:
        return
    a, crest = max(runs, key=lambda r: lateral[r[0]:r[1] + 1].sum())
    if crest >= len(out.z) - 1:
        return  # the wings reach the top of the field of view: the crest is not seen
    out.found["iliac_crest"] = float(out.z[crest])
    front = []
    for k in range(0, crest):
        if not np.isfinite(out.midline_x[k]) or not _trunk(out, k):
            continue
        mid, cy = out.midline_x[k], out.centre_y[k]
        near = (np.abs(x - mid) < 30.0)[None, :] & (y < cy)[:, None]
        if (bone[k] & near).sum() >= 2:
            front.append(k)
    if front and min(front) > 0:
        lowest = min(front)
        if out.z[crest] - out.z[lowest] > 60.0:
            out.found["pubic_symphysis"] = float(out.z[lowest])


def _trunk(out: Landmarks, k: int) -> bool:
    """Is slice ``k`` a trunk (wide) rather than a limb or the neck?"""
    return bool(out.half_width[k] >= 100.0)


def _head(out: Landmarks, bone: np.ndarray, body: np.ndarray) -> None:
    """Slices above the lungs where bone encloses soft tissue (the skull around the brain)."""
    start = out.found.get("lung_apex")
    if start is None:
        return
    enclosed = []
    for k in np.flatnonzero(out.z > start + 60.0):
        ring = ndi.binary_closing(bone[k], iterations=2)
        inside = ndi.binary_fill_holes(ring) & ~ring & body[k]
        if inside.sum() * 16.0 >= 2000.0:  # 20 cm² of tissue inside bone: the cranial cavity (4 mm grid)
            enclosed.append(k)
    if len(enclosed) < 3:
        return
    out.found["skull_base"] = float(out.z[min(enclosed)])
    top = np.flatnonzero(body.any(axis=(1, 2))).max()
    if top < len(out.z) - 1:
        out.found["vertex"] = float(out.z[top])


def _legs(out: Landmarks, body: np.ndarray) -> None:
    """The perineum: going down from the pelvis, the first slice where the body is two pieces side by side."""
    crest = out.found.get("iliac_crest")
    if crest is None:
        return
    for k in range(np.searchsorted(out.z, crest) - 1, -1, -1):
        labels, n = ndi.label(body[k])
        if n >= 2:
            sizes = np.sort(np.bincount(labels.ravel())[1:])[::-1]
            if sizes[1] >= 0.3 * sizes[0]:
                if k > 0:
                    out.found["perineum"] = float(out.z[k])
                return
