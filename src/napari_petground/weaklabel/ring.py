"""The default lesion delineation ("ring"): thresholds checked against the background beyond the lesion's edge.

Why: a threshold tied to the lesion's hottest voxel (41 %, 50 %, Jentzen) or a background taken from a shell
touching the region fails on large, heterogeneous real tumours: their hottest voxel is an outlier, and a
shell around a small hot core is itself tumour, so the threshold climbs and the mask collapses onto the core.

How: thresholds descend from the hottest voxel ``S`` towards the body's background ``B0`` in small geometric
steps. At each level ``T`` the region connected to the seed (26-neighbourhood, cold holes filled) is judged
against its own surroundings: ``B`` is the 60th percentile of the SUV in a ring 2–4 voxels beyond its edge
(body voxels only, so air does not count as background; a little above the median, so that a lesion beside a
hotter neighbour is judged against the neighbour's side), ``M`` the region's mean SUV. The level is self-consistent when

    T ≥ B + α·(M − B)              (the edge lies at least halfway up from the surroundings to the lesion)
    T ≥ B + f(V)·(S − B)           (small lesions: partial volume; f = f_pv·min(1, v0 / V))

Scanning stops at the first level that is not, or where the volume jumps many-fold in one step (a neighbour
joins): below it the region runs into blur, background or a neighbour. The lowest self-consistent level above
that is the lesion's edge. Using the region's *mean*
rather than its maximum makes a large heterogeneous tumour come out whole; the volume term keeps a small
blurred lesion's edge where a blurred sphere's edge is.

One exception: when the seed is a tiny hot spot (≤ ``hot_spot_voxels``) whose own surroundings are well above
the body's background (× ``plateau_ratio``), it is a peak inside a larger mass, and the scan goes on: the
lowest level whose region is self-consistent by its mean, stands out from its ring (T ≥ 2 B) and is much larger
than the hot spot becomes the answer, unless the region explodes in one step (a neighbouring organ joining).

When the edge found is refused as too large for a lesion (an organ, or a shell round one that the hole fill
closes), the caller (weaklabel.grow) takes instead the lesion as it was before it last joined something much
larger (the self-consistent level before the last ≥ 4-fold one-step growth), flagged ``part_of_larger_uptake``.

Parameters were chosen on synthetic spheres, phantom lesions and one half of the real sarcoma sample (see
docs/weak-labels.md for both halves' figures): α = 0.5, f_pv = 0.4, v0 = 6 ml, the ring's 60th percentile
(0.5–0.7 give the same real-tumour figures; 0.75 collapses some real tumours onto their core).

Flags on the result: ``touches_border`` (the mask reaches the edge of the image: the lesion may continue
beyond the field of view), ``part_of_larger_uptake`` (the uptake connected to the mask above the halfway
level between its background and its threshold is many times larger: the mask may be part of a larger lesion,
or the lesion sits on an organ), ``low_contrast`` (the hottest voxel is less than 1.5 times its surroundings),
``hot_spot_in_mass`` (the exception above was taken).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

from ..study.grid import bounding_box

STRUCT26 = np.ones((3, 3, 3), dtype=bool)


@dataclass
class RingSettings:
    alpha: float = 0.5  # edge position between the ring background and the region's mean uptake
    partial_volume_fraction: float = 0.4  # f_pv: small lesions' edge relative to (SUVmax - background)
    partial_volume_ml: float = 6.0  # v0: the volume below which the partial-volume term is at full strength
    step: float = 0.93  # ratio of successive threshold excesses over the body background
    ring_inner: int = 1  # ring starts this many voxels beyond the region (skips the blurred edge) ...
    ring_outer: int = 4  # ... and ends here
    ring_quantile: float = 0.6  # the ring's background: this quantile of its SUV
    body_fraction: float = 0.3  # a voxel is body (for background statistics) above this × the PET median
    hot_spot_voxels: int = 4  # a seed region this small may be a peak inside a larger mass ...
    plateau_ratio: float = 1.5  # ... when its ring is this many times the body background
    mass_contrast: float = 2.0  # the mass must stand out from its own ring by this factor
    mass_growth: float = 3.0  # and be this many times larger than the hot spot's neighbourhood
    hot_spot_contrast: float = 4.0  # ... and the spot is at most this many times its ring
    explosion: float = 20.0  # a one-step volume jump by this factor is a neighbour joining, not the mass
    look_below: int = 30  # levels scanned below the edge for a larger mass (the hot-spot case, the flag)
    max_volume_ml: float = 3000.0


@dataclass
class RingResult:
    """Region (bool, box grid), its threshold, background and flags."""

    region: np.ndarray
    threshold: float
    background: float
    levels: int
    flags: list[str] = field(default_factory=list)
    history: list[float] = field(default_factory=list)
    # how to find the lesion before it last joined something at least 4 times larger; run only when grow_lesion
    # refuses the edge as runaway growth (rare), so ordinary delineations do not pay for it
    _smaller: Callable[[], RingResult | None] | None = field(default=None, repr=False, compare=False)

    def smaller(self) -> RingResult | None:
        """The lesion before it last joined something at least 4 times larger, or None when it never did."""
        return self._smaller() if self._smaller is not None else None


@dataclass
class _Level:
    threshold: float
    volume_ml: float
    background: float
    mean: float
    region: np.ndarray
    self_consistent: bool  # by mean and partial volume
    mass_like: bool  # by mean and contrast to the ring (the hot-spot exception)
    box: tuple[slice, slice, slice]  # the region's bounding box: each level's measures are taken in it


def body_background(pet: np.ndarray, body_fraction: float = 0.3) -> float:
    """Median SUV of the body (voxels above ``body_fraction`` × the median of the positive voxels).

    Subsampled to about a million voxels: a whole-body PET costs a few tens of milliseconds.
    """
    pet = np.asarray(pet)
    stride = max(1, int(round((pet.size / 1e6) ** (1 / 3))))
    sample = np.asarray(pet[::stride, ::stride, ::stride], dtype=np.float32)
    positive = sample[sample > 0.05]
    if positive.size == 0:
        return 0.1
    body = positive[positive > body_fraction * float(np.median(positive))]
    return float(np.median(body)) if body.size else float(np.median(positive))


def enclosed_filled(mask: np.ndarray) -> np.ndarray:
    """``mask`` with every hole filled: the same voxels as ``scipy.ndimage.binary_fill_holes`` (background
    connected face to face to the array's border stays out), from one labelling of the background instead
    of an iterated propagation (about twice as fast; it runs at every level of the scan)."""
    mask = np.asarray(mask, bool)
    labels, n = ndi.label(~mask)
    if n == 0:
        return mask.copy()
    outside = np.zeros(n + 1, bool)
    for axis in range(mask.ndim):
        outside[np.take(labels, 0, axis=axis)] = True
        outside[np.take(labels, -1, axis=axis)] = True
    outside[0] = True
    return mask | ~outside[labels]


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """Fill cold cores: holes in 3D, then slice by slice (a core open at one end is still enclosed in-plane)."""
    out = enclosed_filled(mask)
    for k in np.flatnonzero(out.any(axis=(1, 2))):
        out[k] = enclosed_filled(out[k])
    return out


def dilate_cube(mask: np.ndarray, voxels: int) -> np.ndarray:
    """``mask`` grown by ``voxels`` in the 26-neighbourhood: the same voxels as ``voxels`` iterations of a 3×3×3
    binary dilation, as one separable maximum filter (several times faster; the ring is measured at every level)."""
    if voxels <= 0:
        return np.asarray(mask, bool).copy()
    return ndi.maximum_filter(np.asarray(mask, bool), size=2 * voxels + 1, mode="constant", cval=False)


def _component(sub: np.ndarray, seed: tuple[int, int, int], threshold: float,
               inside: tuple[slice, slice, slice] | None = None,
               margin: int = 3) -> tuple[np.ndarray, tuple[slice, slice, slice]]:
    """Voxels ≥ ``threshold`` connected to ``seed`` (26-neighbourhood), and their bounding box. ``inside``: the
    box of a region the answer is known to contain (the level above's): the labelling runs in that box grown
    by ``margin`` first, and on the whole volume only when the component reaches that box's faces, so most
    levels of a small lesion cost little."""
    if inside is not None:
        crop = tuple(slice(max(0, b.start - margin), min(n, b.stop + margin))
                     for b, n in zip(inside, sub.shape, strict=True))
        local = tuple(s - c.start for s, c in zip(seed, crop, strict=True))
        part, part_box = _component(sub[crop], local, threshold)
        reaches = any((c.start > 0 and np.take(part, 0, axis=a).any())
                      or (c.stop < n and np.take(part, -1, axis=a).any())
                      for a, (c, n) in enumerate(zip(crop, sub.shape, strict=True)))
        if not reaches:
            out = np.zeros(sub.shape, bool)
            out[crop] = part
            return out, tuple(slice(c.start + b.start, c.start + b.stop)  # type: ignore[return-value]
                              for c, b in zip(crop, part_box, strict=True))
    above = sub >= threshold
    above[seed] = True
    labels, _ = ndi.label(above, structure=STRUCT26)
    region = labels == labels[seed]
    return region, bounding_box(region)  # type: ignore[return-value]


def _ring_background(sub: np.ndarray, body: np.ndarray, region: np.ndarray, inner: int, outer: int,
                     quantile: float, fallback: float, box: tuple[slice, slice, slice] | None = None) -> float:
    """A quantile of the SUV of body voxels ``inner``–``outer`` voxels beyond the (hole-filled) region, computed in
    the region's bounding box (``box`` when known) grown by the ring only."""
    box = box or bounding_box(region)
    lo = np.maximum([b.start - outer - 1 for b in box], 0)
    hi = np.minimum([b.stop + outer + 1 for b in box], region.shape)
    crop = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    # holes lie inside the region's own box, and the background around that box reaches the crop's faces:
    # filling the box alone gives the same voxels on a few times fewer
    filled = region[crop].copy()
    inside = tuple(slice(b.start - c.start, b.stop - c.start) for b, c in zip(box, crop, strict=True))
    filled[inside] = enclosed_filled(filled[inside])
    near = dilate_cube(filled, inner)
    far = dilate_cube(near, outer - inner)
    ring = far & ~near & body[crop]
    return float(np.quantile(sub[crop][ring], quantile)) if ring.any() else fallback


def delineate(sub: np.ndarray, seed: tuple[int, int, int], voxel_ml: float, background: float,
              settings: RingSettings | None = None) -> RingResult:
    """The lesion around ``seed`` in the sub-volume ``sub`` (SUV), ``background`` the body's (see module doc)."""
    s = settings or RingSettings()
    sub = np.asarray(sub, dtype=np.float32)
    suvmax = float(sub[seed])
    b0 = float(background)
    body = sub > s.body_fraction * b0 if b0 > 0 else sub > 0
    if suvmax <= b0 * 1.05:
        region = np.zeros(sub.shape, bool)
        region[seed] = True
        return RingResult(region, suvmax, b0, 0, ["low_contrast"])
    levels: list[_Level] = []
    excess = 0.95 * (suvmax - b0)
    stop = None
    runaway = 0.0  # the volume of the level that ran away (ml), 0 when none did
    while excess > 0.05 * b0:
        t = b0 + excess
        excess *= s.step
        region, box = _component(sub, seed, t, levels[-1].box if levels else None)
        local = region[box]
        volume = float(local.sum()) * voxel_ml
        if volume > s.max_volume_ml:
            runaway = volume
            break
        ring = _ring_background(sub, body, region, s.ring_inner, s.ring_outer, s.ring_quantile, b0, box)
        mean = float(sub[box][local].mean())
        by_mean = t >= ring + s.alpha * (mean - ring)
        pv = s.partial_volume_fraction * min(1.0, s.partial_volume_ml / max(volume, voxel_ml))
        levels.append(_Level(t, volume, ring, mean, region, by_mean and t >= ring + pv * (suvmax - ring),
                             by_mean and t >= s.mass_contrast * ring, box))
        if stop is None and len(levels) > 1 and (_jumped(levels, len(levels) - 1, s) or (
                not levels[-1].self_consistent and levels[-2].self_consistent)):
            stop = len(levels) - 1  # the edge: the region stops being self-consistent, or a neighbour joins
        if stop is not None and len(levels) - stop > s.look_below:
            break
    if not levels:
        region = np.zeros(sub.shape, bool)
        region[seed] = True
        return RingResult(region, suvmax, b0, 0, ["runaway" if runaway else "low_contrast"])
    if runaway and stop is None and len(levels) > 1:
        # it ran into an organ without ever failing: the edge is before the last many-fold one-step growth
        # (the organ joining; an earlier one is the lesion itself reached from its hottest voxel). The step
        # that ran away counts: a small node whose next level is a whole organ keeps all its levels
        volumes = [lv.volume_ml for lv in levels] + [runaway]
        growth = np.array([volumes[i] / volumes[i - 1] for i in range(1, len(volumes))])
        big = np.flatnonzero(growth >= 4.0)
        stop = int(big[-1] if big.size else np.argmax(growth)) + 1
    last = max((i for i, lv in enumerate(levels[: stop]) if lv.self_consistent), default=0)
    chosen, flags = levels[last], []
    mass = _mass_level(levels, last, voxel_ml, s, through_jumps=False) if stop is not None else None
    if mass is not None and _hot_spot(levels[last], suvmax, b0, voxel_ml, s):
        chosen, flags = mass, ["hot_spot_in_mass"]
    elif stop is not None and _mass_level(levels, last, voxel_ml, s, through_jumps=True) is not None:
        flags.append("part_of_larger_uptake")
    if suvmax < 1.5 * chosen.background:
        flags.append("low_contrast")
    region = fill_holes(chosen.region)
    result = RingResult(region, chosen.threshold, chosen.background, len(levels), flags,
                        [lv.threshold for lv in levels])
    if chosen is not levels[0]:
        # the edge may be an organ (or wrap round one, closed by the caller's fill) and be refused as a lesion:
        # the alternative is the lesion as it was before it last joined something much larger
        index = next(i for i, lv in enumerate(levels) if lv is chosen)

        def smaller() -> RingResult | None:
            found = _before_last_join(levels, index, voxel_ml, s)
            if found is None:
                return None
            level, filled = found
            kept = [f for f in flags if f not in ("hot_spot_in_mass", "low_contrast", "part_of_larger_uptake")]
            kept += ["low_contrast"] if suvmax < 1.5 * level.background else []
            return RingResult(filled, level.threshold, level.background, len(levels),
                              kept + ["part_of_larger_uptake"], result.history)

        result._smaller = smaller
    return result


def _before_last_join(levels: list[_Level], chosen: int, voxel_ml: float,
                      s: RingSettings) -> tuple[_Level, np.ndarray] | None:
    """The self-consistent level just before the last many-fold one-step growth above ``chosen`` whose
    region (holes filled) fits the volume limit, with that region; None when there is none."""
    for i in range(chosen, 0, -1):
        before = levels[i - 1]
        if levels[i].volume_ml >= 4.0 * before.volume_ml and before.self_consistent:
            region = fill_holes(before.region)
            if region.sum() * voxel_ml <= s.max_volume_ml:
                return before, region
    return None


def _hot_spot(level: _Level, suvmax: float, b0: float, voxel_ml: float, s: RingSettings) -> bool:
    """Is this region a tiny peak of a mass: a few voxels, on uptake well above the body's background, and not
    far above that uptake (a tiny focus many times hotter than its surroundings is a lesion of its own)?"""
    return (level.volume_ml <= s.hot_spot_voxels * voxel_ml * 1.0001 and level.background >= s.plateau_ratio * b0
            and suvmax <= s.hot_spot_contrast * level.background)


def _jumped(levels: list[_Level], i: int, s: RingSettings) -> bool:
    """Did level ``i`` join a neighbour: the volume jumped many-fold in one step, to a region of clearly lower
    mean uptake (a uniform lesion reached from its hottest voxel jumps too, but keeps its mean)?"""
    before, after = levels[i - 1], levels[i]
    return (after.volume_ml > s.explosion * before.volume_ml and after.volume_ml > 5.0
            and after.mean < 0.75 * before.mean)


def _mass_level(levels: list[_Level], spot: int, voxel_ml: float, s: RingSettings,
                through_jumps: bool) -> _Level | None:
    """The lowest level below ``spot`` whose region is a mass standing out from its own surroundings and much
    larger than the spot's neighbourhood; unless ``through_jumps``, only before a neighbour joins at once.
    None when there is none."""
    near = dilate_cube(levels[spot].region, 2).sum() * voxel_ml
    found = None
    for i in range(spot + 1, len(levels)):
        if _jumped(levels, i, s) and not through_jumps:
            break
        if levels[i].mass_like and levels[i].volume_ml >= s.mass_growth * near:
            found = levels[i]
    return found
