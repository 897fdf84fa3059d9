"""Grow a lesion mask from its hottest voxel: fixed rules, Jentzen's iterative threshold, and the default.

All methods keep only the region connected (26-neighbourhood) to the seed, and work in a box around the
seed that grows when the region touches its border, so one lesion in a whole-body PET costs milliseconds.

Methods (``METHODS``):

* ``ring`` (default): thresholds descending from the hottest voxel, each checked against the background in
  a ring beyond the region's edge and against the region's mean uptake; the lowest self-consistent level is
  the edge (weaklabel.ring, which says why and how). Holds on large heterogeneous real tumours, cold cores,
  small blurred lesions and lesions beside hotter neighbours.
* ``fixed41`` / ``fixed50``: SUV ≥ 41 % / 50 % of the lesion's SUVmax.
* ``suv2.5``: SUV ≥ 2.5 (absolute; ``suv_threshold=`` to change).
* ``jentzen``: Jentzen et al. (J Nucl Med 2007): T/SUVmax = 0.078/V(ml) + 0.617·B/SUVmax + 0.316 with B the
  mean SUV in a 3-voxel shell around the current mask; iterate until T changes < 1 %; rejected when
  T/SUVmax > 0.9 (no contrast) — the rule of the published weak-labeling pipeline.
* ``nestle``: Nestle et al. (J Nucl Med 2005): T = β·mean(SUV ≥ 70 % SUVmax) + B, β = 0.3.
* ``adaptive``: the previous default, kept for comparison: T = B + α·(M − B) with B a 3-voxel shell touching
  the region and a floor relative to SUVmax. On large heterogeneous real tumours the shell is itself tumour
  and the mask collapses onto the hottest core (docs/weak-labels.md has the figures).

With ``ct=`` (the CT resampled onto the PET grid), the cold holes filled into a ``ring`` or ``adaptive`` mask
leave out bone (> 300 HU) and air (< −500 HU): a femur enclosed by a thigh mass is not tumour.

Every method rejects runaway growth: a region larger than ``max_volume_ml`` (default 3000 ml: real sarcomas
reach 2 l) or filling more than ``max_fraction`` (default 0.3) of the image is not a lesion but background or an
organ. Every result carries flags a reviewer can act on (``GrowResult.flags``): ``touches_border``,
``part_of_larger_uptake``, ``low_contrast``, ``hot_spot_in_mass`` (weaklabel.ring explains each).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

from ..errors import WeakLabelError
from .ring import RingSettings, body_background, delineate, dilate_cube, fill_holes

STRUCT26 = np.ones((3, 3, 3), dtype=bool)
METHODS = ("ring", "adaptive", "jentzen", "nestle", "fixed41", "fixed50", "suv2.5")
DEFAULT_METHOD = "ring"
BONE_HU, AIR_HU = 300.0, -500.0  # with a CT on the PET grid (``ct=``), holes of bone or air are not filled
# what each flag tells a reviewer (shown in the review dock and the grounding result)
FLAG_TEXT = {
    "touches_border": "the mask reaches the edge of the image: the lesion may continue beyond the field of view",
    "part_of_larger_uptake": "the uptake connected to the mask is many times larger: the mask may be part of a "
                             "larger lesion, or the lesion sits on an organ",
    "low_contrast": "the lesion barely stands out from its surroundings (SUVmax < 1.5 x the background around it)",
    "hot_spot_in_mass": "the hottest voxel is a small hot spot inside a larger mass: the mask covers the mass",
}


@dataclass
class GrowResult:
    """Mask on the full PET grid (bool), the final threshold (SUV), and whether the growth is trusted."""

    mask: np.ndarray
    threshold: float
    method: str
    ok: bool
    reason: str = ""
    suvmax: float = 0.0
    background: float | None = None
    iterations: int = 0
    volume_ml: float = 0.0
    history: list[float] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)

    @property
    def stands_out(self) -> bool:
        """A lesion worth offering without numbers: an accepted, non-empty growth that still stands out from
        its surroundings once grown (not ``low_contrast``). The last guess and the site check's hot spots
        both ask this."""
        return self.ok and bool(self.mask.any()) and "low_contrast" not in self.flags


class _Box:
    """A sub-volume around the seed; ``grow`` enlarges it while a region touches its border."""

    def __init__(self, shape: tuple[int, ...], seed: tuple[int, int, int], radius: tuple[int, int, int]):
        self.shape = shape
        self.seed = seed
        self.radius = radius
        self._set()

    def _set(self) -> None:
        self.lo = tuple(max(0, s - r) for s, r in zip(self.seed, self.radius, strict=True))
        self.hi = tuple(min(n, s + r + 1) for n, s, r in zip(self.shape, self.seed, self.radius, strict=True))
        self.slices = tuple(slice(a, b) for a, b in zip(self.lo, self.hi, strict=True))
        self.local_seed = tuple(s - a for s, a in zip(self.seed, self.lo, strict=True))

    @property
    def full(self) -> bool:
        return self.lo == (0, 0, 0) and self.hi == tuple(self.shape)

    def touches(self, mask: np.ndarray) -> bool:
        """True when the region reaches a box face that is not the image border."""
        for axis in range(3):
            if self.lo[axis] > 0 and mask.take(0, axis=axis).any():
                return True
            if self.hi[axis] < self.shape[axis] and mask.take(-1, axis=axis).any():
                return True
        return False

    def enlarge(self) -> None:
        self.radius = tuple(r * 2 for r in self.radius)  # type: ignore[assignment]
        self._set()


def _region(sub: np.ndarray, seed: tuple[int, int, int], threshold: float) -> np.ndarray:
    """Voxels ≥ threshold connected to the seed (26-neighbourhood)."""
    above = sub >= threshold
    if not above[seed]:
        above[seed] = True
    labels, _ = ndi.label(above, structure=STRUCT26)
    return labels == labels[seed]


def _shell_mean(sub: np.ndarray, mask: np.ndarray, width: int = 3) -> float:
    """Mean SUV in a ``width``-voxel shell around the mask (inside the box)."""
    shell = dilate_cube(mask, width) & ~mask
    return float(sub[shell].mean()) if shell.any() else float(np.median(sub))


def _shell(mask: np.ndarray, width: int = 3) -> np.ndarray:
    return dilate_cube(mask, width) & ~mask


def local_background(sub: np.ndarray, seed: tuple, inner: int = 4, outer: int = 7) -> tuple[float, float]:
    """Median and spread of SUV in a cubic shell ``inner``–``outer`` voxels around the seed (a first guess)."""
    lo = [max(0, s - outer) for s in seed]
    block = sub[tuple(slice(a, s + outer + 1) for a, s in zip(lo, seed, strict=True))]
    idx = np.indices(block.shape)
    dist = np.max(np.abs(idx - np.array([s - a for s, a in zip(seed, lo, strict=True)])[:, None, None, None]), axis=0)
    vals = block[dist >= inner]
    if vals.size == 0:
        return float(np.median(sub)), 0.0
    med = float(np.median(vals))
    return med, float(np.median(np.abs(vals - med)) * 1.4826)


def fill_and_close(mask: np.ndarray) -> np.ndarray:
    """Fill holes in 3D and slice by slice (cold cores), then close by one voxel, staying connected."""
    if not mask.any():
        return mask
    out = ndi.binary_closing(np.pad(mask, 1), structure=STRUCT26)[1:-1, 1:-1, 1:-1] | mask
    return fill_holes(out)


def _threshold(method: str, sub: np.ndarray, seed: tuple, suvmax: float, opts: dict) -> tuple[float, dict]:
    """One method's threshold in a box (may iterate); returns (threshold, info)."""
    voxel_ml = opts["voxel_ml"]
    info: dict = {"iterations": 0, "history": [], "background": None}
    if method == "fixed41":
        return 0.41 * suvmax, info
    if method == "fixed50":
        return 0.50 * suvmax, info
    if method == "suv2.5":
        return float(opts.get("suv_threshold", 2.5)), info
    if method == "jentzen":
        t = 0.5 * suvmax
        for it in range(1, int(opts.get("max_iterations", 50)) + 1):
            region = _region(sub, seed, t)
            volume = max(region.sum() * voxel_ml, voxel_ml)
            b = _shell_mean(sub, region)
            t_new = suvmax * (0.078 / volume + 0.316) + 0.617 * b
            info.update(iterations=it, background=b)
            info["history"].append(t_new)
            converged = abs(t_new - t) < 0.01 * t
            t = t_new
            if converged or t >= suvmax:
                break
        return t, info
    if method == "nestle":
        region = _region(sub, seed, 0.7 * suvmax)
        i70 = float(sub[region].mean())
        b = _shell_mean(sub, _region(sub, seed, 0.41 * suvmax))
        info["background"] = b
        return float(opts.get("beta", 0.3)) * i70 + b, info
    if method == "adaptive":
        alpha = float(opts.get("alpha", 0.5))
        floor = float(opts.get("floor", 0.2))
        floor_volume = float(opts.get("floor_volume_ml", 2.0))
        noise_k = float(opts.get("noise_k", 2.5))
        b, sd = local_background(sub, seed)
        t = b + 0.5 * (suvmax - b)
        region = _region(sub, seed, t)
        for it in range(1, int(opts.get("max_iterations", 30)) + 1):
            shell = _shell(region)
            if shell.any():
                b, sd = float(sub[shell].mean()), float(sub[shell].std())
            m = float(sub[region].mean())
            # the floor rises to the 50 % rule for small regions, where partial volume decides the edge,
            # and never sits inside the background's noise
            v = max(region.sum() * voxel_ml, voxel_ml)
            f = floor + (0.5 - floor) * min(1.0, floor_volume / v)
            lo = max(b + f * (suvmax - b), min(b + noise_k * sd, b + 0.7 * (suvmax - b)))
            hi = max(b + 0.5 * (suvmax - b), lo)
            t_new = min(max(b + alpha * (m - b), lo), hi)
            info["history"].append(t_new)
            info["iterations"] = it
            done = abs(t_new - t) < 0.01 * max(t, 1e-6)
            t = t_new
            if done:
                break
            region = _region(sub, seed, t)
        info["background"] = b
        return t, info
    raise WeakLabelError(f"unknown growing method {method!r}; choose one of {', '.join(METHODS)}")


def _review_flags(sub: np.ndarray, box: _Box, region: np.ndarray, threshold: float, background: float | None,
                  body: float, suvmax: float, voxel_ml: float, have: list[str], is_ring: bool) -> list[str]:
    """Flags that tell a reviewer a mask is probably wrong (see ``FLAG_TEXT``)."""
    flags: list[str] = []
    if not region.any():
        return flags
    shape = box.shape
    for axis in range(3):  # the image's own border, not the box's
        if (box.lo[axis] == 0 and region.take(0, axis=axis).any()) or (
                box.hi[axis] == shape[axis] and region.take(-1, axis=axis).any()):
            flags.append("touches_border")
            break
    if background is None:
        background = local_background(sub, box.local_seed)[0]
    if "low_contrast" not in have and suvmax < 1.5 * background:
        flags.append("low_contrast")
    if not is_ring and 2.0 * body < threshold:  # the ring method judges this during its own scan
        larger = int(_region(sub, box.local_seed, 2.0 * body).sum())
        if larger >= 4 * region.sum() and (larger - region.sum()) * voxel_ml >= 20.0:
            flags.append("part_of_larger_uptake")
    return flags


def _filled(region: np.ndarray, ct: np.ndarray | None, box: _Box) -> np.ndarray:
    """Holes filled and the edge closed; with a CT, enclosed bone (a femur inside a thigh mass) and air are
    not lesion."""
    filled = fill_and_close(region)
    if ct is not None:
        ct_box = np.asarray(ct[box.slices])
        filled &= region | ~((ct_box > BONE_HU) | (ct_box < AIR_HU))
    return filled


def grow_lesion(
    pet: np.ndarray,
    seed: tuple[int, int, int],
    spacing: tuple[float, float, float],
    method: str = DEFAULT_METHOD,
    **opts,
) -> GrowResult:
    """Grow the lesion containing ``seed`` (z, y, x) with ``method`` (see module docstring)."""
    if method not in METHODS:
        raise WeakLabelError(f"unknown growing method {method!r}; choose one of {', '.join(METHODS)}")
    pet = np.asarray(pet)
    seed = tuple(int(s) for s in seed)  # type: ignore[assignment]
    if pet.ndim != 3 or not all(0 <= s < n for s, n in zip(seed, pet.shape, strict=True)):
        raise WeakLabelError(f"seed {seed} is outside the PET volume of shape {pet.shape}")
    voxel_ml = float(np.prod(spacing)) / 1000.0
    opts = {"voxel_ml": voxel_ml, **opts}
    max_volume_ml = float(opts.get("max_volume_ml", 3000.0))
    max_fraction = float(opts.get("max_fraction", 0.3))
    radius_mm = float(opts.get("box_radius_mm", 60.0))
    box = _Box(pet.shape, seed, tuple(max(3, int(np.ceil(radius_mm / s))) for s in spacing))
    flags: list[str] = []
    if method == "ring":
        background = opts.get("background")
        background = body_background(pet) if background is None else float(background)
        settings = opts.get("ring") or RingSettings(max_volume_ml=max_volume_ml)
    while True:
        sub = np.asarray(pet[box.slices], dtype=np.float32)
        suvmax = float(sub[box.local_seed])
        if method == "ring":
            ring = delineate(sub, box.local_seed, voxel_ml, background, settings)
            region, threshold, flags = ring.region, ring.threshold, ring.flags
            info = {"iterations": ring.levels, "history": ring.history, "background": ring.background}
        else:
            threshold, info = _threshold(method, sub, box.local_seed, suvmax, opts)
            region = _region(sub, box.local_seed, threshold)
        if box.full or not box.touches(region) or region.sum() * voxel_ml > max_volume_ml:
            break
        box.enlarge()
    if method in ("ring", "adaptive") and opts.get("fill", True):
        region = _filled(region, opts.get("ct"), box)
        too_large = region.sum() * voxel_ml > max_volume_ml
        smaller = ring.smaller() if method == "ring" and too_large else None
        if smaller is not None:
            # refused as an organ: the lesion before it joined the organ (flagged part_of_larger_uptake)
            region, threshold, flags = _filled(smaller.region, opts.get("ct"), box), smaller.threshold, smaller.flags
            info.update(background=smaller.background)
    mask = np.zeros(pet.shape, dtype=bool)
    mask[box.slices] = region
    volume = float(region.sum() * voxel_ml)
    result = GrowResult(mask, float(threshold), method, True, "", suvmax, info["background"],
                        info["iterations"], volume, info["history"], list(flags))
    body = background if method == "ring" else opts.get("background")
    body = body_background(pet) if body is None else float(body)
    result.flags += _review_flags(sub, box, region, threshold, info["background"], body, suvmax, voxel_ml,
                                  result.flags, method == "ring")
    if method == "jentzen" and threshold / max(suvmax, 1e-6) > 0.9:
        result.ok, result.reason = False, (
            f"Jentzen threshold is {threshold / suvmax:.0%} of SUVmax (> 90 %): too little contrast to the background"
        )
    elif volume > max_volume_ml or region.sum() > max_fraction * pet.size or "runaway" in flags:
        result.ok, result.reason = False, (
            f"runaway growth: {volume:.0f} ml ({region.sum() / pet.size:.0%} of the image) at SUV ≥ {threshold:.2f}"
        )
    elif suvmax <= 0:
        result.ok, result.reason = False, "the seed voxel has no uptake"
    return result
