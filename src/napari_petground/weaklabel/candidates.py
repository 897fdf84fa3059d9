"""Candidate lesions for a finding: hot regions near the stated image whose numbers agree with the sentence.

The PET is thresholded in a slab around the stated image (the slab grows while a region reaches its top
or bottom, so big lesions are seen whole) at a few levels relative to the stated SUVmax (50 %, 75 %, 90 %):
at the lowest level a lesion next to a hotter organ may merge with it, and a higher level separates them.
Connected regions (26-neighbourhood) are described by ComponentStats and checked with check_agreement;
regions found at several levels with the same hottest voxel are one candidate, measured at the level where it
agrees best with the sentence (the lowest, unless a higher one separates it from a neighbour).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from ..report.finding import Finding
from .agreement import Agreement, agreement_score, check_agreement
from .components import ComponentStats, component_stats
from .grow import STRUCT26


@dataclass
class SearchSettings:
    slice_tolerance: int = 2  # images either side of the stated one
    suv_tolerance: float | None = None  # None: the rounding of the text
    relative_suv_tolerance: float = 0.0
    levels: tuple[float, ...] = (0.5, 0.75, 0.9)  # thresholds as fractions of the stated SUVmax
    no_suv_threshold: float = 2.5  # threshold when the sentence states no SUV
    min_threshold: float = 0.5  # never threshold below this SUV
    slab_margin_mm: float = 40.0  # slab half-height beyond the tolerance, grown as needed
    midline_tolerance_mm: float = 10.0
    min_voxels: int = 1


@dataclass
class Candidate:
    stats: ComponentStats
    agreement: Agreement
    score: float
    level: float  # SUV threshold at which the region was found


def _z_window(finding: Finding, numbering, n_z: int, tol: int) -> tuple[int, int, bool]:
    """(lowest, highest) z index of the stated image ± tolerance; flag when the image is outside the series."""
    if finding.slice is None:
        return 0, n_z - 1, False
    z = numbering.index_for_image(finding.slice)
    outside = z is None
    if outside:
        z = numbering.nearest_index(finding.slice)
    lo = min(numbering.nearest_index(finding.slice - tol), numbering.nearest_index(finding.slice + tol), z)
    hi = max(numbering.nearest_index(finding.slice - tol), numbering.nearest_index(finding.slice + tol), z)
    return lo, hi, outside


def _inside_matching(peak: tuple[int, int, int], lower: list) -> bool:
    for labels, a, by_label in lower:
        z = peak[0] - a
        if 0 <= z < labels.shape[0]:
            cand = by_label.get(int(labels[z, peak[1], peak[2]]))
            if cand is not None and cand.agreement.ok and cand.agreement.suv_ok is not False:
                return True
    return False


def find_candidates(
    pet_volume, numbering, finding: Finding, midline_x_mm: float, settings: SearchSettings | None = None
) -> tuple[list[Candidate], dict]:
    """All regions near the stated image, each with its agreement; and search info (window, levels)."""
    s = settings or SearchSettings()
    data = np.asarray(pet_volume.data)
    n_z = data.shape[0]
    z_lo, z_hi, outside = _z_window(finding, numbering, n_z, s.slice_tolerance)
    margin = int(np.ceil(s.slab_margin_mm / pet_volume.spacing[0]))
    if finding.suvmax is not None:
        levels = sorted({max(s.min_threshold, f * float(finding.suvmax)) for f in s.levels})
    else:
        levels = [max(s.min_threshold, s.no_suv_threshold)]
    found: dict[tuple[int, int, int], Candidate] = {}
    lower: list[tuple[np.ndarray, int, dict[int, Candidate]]] = []  # labels, slab start, label -> candidate
    for level in levels:
        a, b = max(0, z_lo - margin), min(n_z, z_hi + margin + 1)
        step = 2 * margin
        while True:
            slab = data[a:b] >= level
            labels, n = ndi.label(slab, structure=STRUCT26)
            # keep only regions that reach the search window (the stated image ± tolerance)
            window = labels[max(0, z_lo - a):z_hi - a + 1]
            keep = np.unique(window[window > 0])
            # a kept region reaching an open slab face may continue beyond it: grow the slab (by twice as much
            # each time, so a faint level that joins half the body costs a few labellings) and relabel
            faces = ([labels[0]] if a > 0 else []) + ([labels[-1]] if b < n_z else [])
            if not any(np.isin(face, keep).any() for face in faces if face.any()):
                break
            a, b, step = max(0, a - step), min(n_z, b + step), 2 * step
        if keep.size == 0:
            continue
        remap = np.zeros(n + 1, dtype=np.int32)
        remap[keep] = np.arange(1, keep.size + 1)
        kept = remap[labels]
        by_label: dict[int, Candidate] = {}
        for stats in component_stats(
            kept, pet_volume, numbering, midline_x_mm,
            midline_tolerance_mm=s.midline_tolerance_mm, offset=(a, 0, 0),
        ):
            if stats.n_voxels < s.min_voxels:
                continue
            known = found.get(stats.peak_index)
            if known is None and _inside_matching(stats.peak_index, lower):
                continue  # a hot part of a region that already agrees at a lower level
            agreement = check_agreement(
                stats, finding, suv_tolerance=s.suv_tolerance,
                relative_suv_tolerance=s.relative_suv_tolerance, slice_tolerance=s.slice_tolerance,
            )
            score = agreement_score(agreement)
            if known is not None and score <= known.score:
                continue  # the same hottest voxel, measured as well or better at a lower level
            # new, or the same lesion separated at a higher level from a neighbour it merged with below (its
            # side or images measured apart from the neighbour's)
            cand = Candidate(stats, agreement, score, level)
            found[stats.peak_index] = cand
            by_label[stats.label] = cand
        lower.append((kept, a, by_label))
    candidates = sorted(found.values(), key=lambda c: (-c.score, -c.stats.suvmax))
    info = {"z_window": (z_lo, z_hi), "slice_outside_series": outside, "levels": levels}
    return candidates, info
