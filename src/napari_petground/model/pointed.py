"""The last answer for a sentence without numbers: the hottest uptake where the sentence points.

When no network region passes even the faint threshold (model.select), the network's location prior, which
reads only the sentence and the body coordinates, still says where in the body the sentence points. Every
PET local maximum (in a 5-voxel neighbourhood, SUV ≥ 1) is scored by its SUV times the prior's relative
weight there (1 where the prior points most). In that order, a maximum must stand out from its surroundings
(at least twice the median SUV 4–7 voxels around it: not a ripple of a bright liver or marrow) and is grown
into a lesion with the weak-label growing rule (weaklabel.grow, its default); the first of up to five whose
growth is accepted (no runaway into an organ) and still stands out once grown (not flagged low contrast: the
rule the network's own regions and the site check's hot spots follow) is the answer.

Chosen on the 48 validation phantoms (seeds 25012–25059), shipped checkpoint: of the 118 sentences without
numbers, 11 had no network region above 0.1. The first hot spot by SUV × prior found 4 of their lesions
(1 wrong mask, 6 none); with the contrast rule and the accepted growth, 5 (no wrong mask). Trying up to 20
candidates without the contrast rule found 7 but drew 4 wrong masks; weighting the prior more (its square)
or scoring contrast instead of SUV found fewer.
"""

from __future__ import annotations

import numpy as np

MIN_SUV = 1.0  # a local maximum below this is noise or background, not a finding
NEIGHBOURHOOD = 5  # voxels: the window in which a candidate must be the hottest
MIN_WEIGHT = 1e-3  # prior weight below which a place is not where the sentence points at all
MIN_CONTRAST = 2.0  # a candidate's SUV over the median SUV around it
MAX_TRIES = 5  # candidates grown at most (each growth that runs away costs up to a few tenths of a second)
MAX_CANDIDATES = 2000  # candidates looked at, in order (a 4 mm whole-body phantom has about 3000 in all)


def pointed_candidates(pet: np.ndarray, weights: np.ndarray, floor: float = 0.0) -> list[tuple[int, int, int]]:
    """(z, y, x) of the PET local maxima where the prior points, best (SUV × prior weight) first. ``floor`` is
    added to every weight: with it, places the prior misses are candidates too, after the others."""
    from scipy.ndimage import maximum_filter

    pet = np.asarray(pet, np.float32)
    weights = np.asarray(weights, np.float32)
    if pet.shape != weights.shape:
        raise ValueError(f"the prior map {weights.shape} is not on the PET grid {pet.shape}")
    if floor:
        weights = weights + np.float32(floor)
    peaks = (pet == maximum_filter(pet, NEIGHBOURHOOD)) & (pet >= MIN_SUV) & (weights > MIN_WEIGHT)
    where = np.argwhere(peaks)
    order = np.argsort(-(pet[peaks] * weights[peaks]), kind="stable")
    return [tuple(int(v) for v in where[i]) for i in order]  # type: ignore[misc]


def standing_out(pet: np.ndarray, peak: tuple[int, int, int]) -> float | None:
    """The median SUV 4–7 voxels around ``peak`` when the peak is at least ``MIN_CONTRAST`` times it (not a
    ripple of a bright liver or marrow); None when it is not."""
    from ..weaklabel.grow import local_background

    background, _spread = local_background(pet, peak)
    return background if pet[peak] >= MIN_CONTRAST * max(background, 0.05) else None


def pointed_uptake(pet: np.ndarray, spacing: tuple[float, float, float], weights: np.ndarray) -> np.ndarray | None:
    """Mask (bool, PET grid) of the first candidate that stands out and grows into an accepted lesion;
    None when there is none among the first ``MAX_TRIES`` that stand out."""
    from ..weaklabel.grow import grow_lesion

    pet = np.asarray(pet, np.float32)
    tries = 0
    for seed in pointed_candidates(pet, weights)[:MAX_CANDIDATES]:
        if standing_out(pet, seed) is None:
            continue
        grown = grow_lesion(pet, seed, spacing)
        # a growth that ends without contrast to its own surroundings (a ripple that passed the quick test) is
        # no lesion to offer, as for the network's regions (model.select.stands_out)
        if grown.stands_out:
            return grown.mask
        tries += 1
        if tries >= MAX_TRIES:
            break
    return None


POINTED_MARGIN = 2.0  # the prior must weigh one region at least this many times more than any other
POINTED_RADIUS_MM = 10.0  # the prior is read this far around each region's hottest voxel (it is a coarse map)


def pointed_choice(weights: np.ndarray, peaks: list[tuple[int, int, int]],
                   spacing: tuple[float, float, float]) -> tuple[int, float] | None:
    """Which of several regions the sentence points at: (index, how many times more weight than the next), or
    None when the prior does not single one out (POINTED_MARGIN).

    Why: the stated numbers can fit several places (a faint nodule among noise peaks of the same SUV within two
    images of it); the words still say where the lesion is, and the prior reads them."""
    if len(peaks) < 2:
        return None
    weights = np.asarray(weights, np.float32)
    radius = [max(1, int(round(POINTED_RADIUS_MM / s))) for s in spacing]
    values = []
    for peak in peaks:
        box = tuple(slice(max(0, p - r), p + r + 1) for p, r in zip(peak, radius, strict=True))
        values.append(float(weights[box].max()))
    order = np.argsort(values)[::-1]
    best, second = values[order[0]], values[order[1]]
    if best <= MIN_WEIGHT or best < POINTED_MARGIN * second:
        return None
    return int(order[0]), best / max(second, 1e-12)
