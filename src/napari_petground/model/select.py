"""Number-aware choice of the lesion: the network proposes regions, the sentence's numbers pick one.

Threshold the probability (PET grid) at 0.5 and split it into 26-connected components. Without an SUVmax or
an image number in the sentence the network alone decides: the component holding its most confident voxel;
when no region passes 0.5 and the sentence reads as a lesion finding, the most confident region above
``faint_threshold`` is shown, flagged as low confidence, rather than nothing; when there is no such region
either and the caller gives the network's location prior (``pointed``), the hottest uptake where the sentence
points is grown into a lesion (model.pointed), flagged the same way. (The paper's rule, kept by
evaluation as "network alone", is the highest *mean* probability at 0.5 only. On 118 sentences without
numbers of 48 validation phantoms the described lesion was chosen for 0.686 by that rule, 0.771 by mean
with a faint answer above 0.2, 0.822 by peak with a faint answer above 0.1 — the rule here — and was among
the regions above 0.1 at all for 0.847, with the previous demo checkpoint. With the shipped one, 17 of those
118 are missed: 11 with no region above 0.1 at all, 3 whose lesion is in none of the regions, none on the
wrong side, so a choice by side or site words could fix at most 3; the uptake where the sentence points
finds 5 of the 11.) Whatever the rule picks without numbers must stand out from its surroundings (SUVmax at
least 1.5 x the background beyond its edge, weaklabel.ring's low_contrast), else nothing is offered and the
reason says so: a sentence about a lesion the exam does not have must not get a faint patch of background. With numbers, the components are ranked by
weaklabel.rank_components (SUVmax within the rounding of the stated value, the stated image inside the
component's image range, the stated side), the network's mean probability breaking ties, so the rule is the
one weak labeling uses; the chosen region's mask is then grown from its hottest voxel with the weak-label
delineation (``delineated``), so its edge follows the PET, not the network's 8 mm grid. When no component
agrees, fainter network regions (probability > ``low_threshold``) are tried; when still none agrees and
``fallback`` is on, the lesion is grown from the numbers alone with weaklabel.weak_label: the network's answer
still when a region above ``threshold`` lies on the grown lesion but, on the coarser grid, just misses the stated
SUVmax voxel; flagged as the network's miss otherwise. When the numbers fit several regions (an ambiguous weak
label: a faint nodule among noise peaks of its SUV within two images of it), the one the location prior
(``pointed``, the words) weighs at least twice as much as any other is shown, flagged with the count
(model.pointed.pointed_choice); else none is, and the flags say a reviewer must choose. ``fallback=False``
switches off every fallback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..report.finding import Finding
from .metrics import components

LOW_THRESHOLD = 0.2  # fainter network regions tried when none above 0.5 agrees with the stated numbers
FAINT_THRESHOLD = 0.1  # without numbers: the low-confidence answer when no region passes 0.5


@dataclass
class Selection:
    mask: np.ndarray  # bool, PET grid: the chosen lesion (empty when nothing was found)
    components: list  # ComponentStats of the candidate regions
    chosen: int | None  # index into components
    agreement: object | None  # weaklabel.Agreement of the chosen region with the finding (None without one)
    method: str  # "network", "network (faint region)", "location prior + uptake", "numbers",
    # "numbers (faint network region)", "numbers (region grown to the stated peak)", "weak label",
    # "network (numbers disagree)" or "none"
    probabilities: list[float] = field(default_factory=list)  # mean network probability per component
    flags: list[str] = field(default_factory=list)

    @property
    def agreement_text(self) -> str:
        messages = list(getattr(self.agreement, "messages", None) or [])
        return "; ".join(messages)


def uses_numbers(finding: Finding | None) -> bool:
    return finding is not None and (finding.suvmax is not None or finding.slice is not None)


@dataclass
class Regions:
    """The 26-connected components above a threshold, labelled only inside the box that holds them: the
    work follows the candidate regions, not the volume (a whole-body PET grid holds millions of voxels, the
    regions a few thousand). Labels are numbered as on the whole grid (raster order is kept by a crop)."""

    labels: np.ndarray  # int labels inside ``box``
    box: tuple[slice, slice, slice]
    shape: tuple[int, ...]  # the whole grid

    def mask(self, label: int) -> np.ndarray:
        """Component ``label`` as a mask on the whole grid."""
        out = np.zeros(self.shape, bool)
        out[self.box] = self.labels == label
        return out


def above_box(probability: np.ndarray, threshold: float) -> tuple[slice, slice, slice] | None:
    """Bounding box of ``probability > threshold`` (None when nothing passes)."""
    above = probability > threshold
    box = []
    for axis in range(above.ndim):
        hits = np.flatnonzero(above.any(axis=tuple(a for a in range(above.ndim) if a != axis)))
        if hits.size == 0:
            return None
        box.append(slice(int(hits[0]), int(hits[-1]) + 1))
    return tuple(box)  # type: ignore[return-value]


def candidate_regions(probability: np.ndarray, study, midline: float, threshold: float):
    """(Regions, their ComponentStats, their mean probabilities) of ``probability > threshold``."""
    from scipy.ndimage import mean as label_mean

    from ..weaklabel.components import component_stats

    box = above_box(probability, threshold)
    if box is None:
        return Regions(np.zeros((0, 0, 0), np.int32), (slice(0, 0),) * 3, probability.shape), [], []
    labels, count = components(probability[box], threshold)
    regions = Regions(labels, box, probability.shape)
    stats = component_stats(labels, study.pet, study.numbering, midline, offset=tuple(b.start for b in box))
    means = [float(v) for v in np.atleast_1d(label_mean(probability[box], labels, index=[s.label for s in stats]))]
    return regions, stats, means


def region_peaks(probability: np.ndarray, regions: Regions, stats) -> list[float]:
    """The highest probability in each region of ``stats``."""
    from scipy.ndimage import maximum

    if not stats:
        return []
    return [float(v) for v in
            np.atleast_1d(maximum(probability[regions.box], regions.labels, index=[s.label for s in stats]))]


def select_lesion(probability: np.ndarray, study, finding: Finding | None, *, threshold: float = 0.5,
                  low_threshold: float = LOW_THRESHOLD, faint_threshold: float = FAINT_THRESHOLD,
                  fallback: bool = True, midline_x_mm: float | None = None,
                  pointed: Callable[[], np.ndarray | None] | None = None) -> Selection:
    """Choose the lesion the sentence describes among the network's regions (see module docstring).

    ``pointed``: called only when needed, the network's location prior on the PET grid (relative weights),
    or None; it gives the last answer for a sentence without numbers when the network has no region.
    """
    from ..weaklabel.agreement import check_agreement, rank_components
    from ..weaklabel.components import body_midline_x_mm

    midline = body_midline_x_mm(study) if midline_x_mm is None else midline_x_mm
    labels, stats, means = candidate_regions(probability, study, midline, threshold)
    empty = np.zeros(probability.shape, bool)
    if not uses_numbers(finding):
        method, flags = "network", []
        if not stats and fallback and finding is not None:  # only for text that reads as a lesion finding
            labels, stats, means = candidate_regions(probability, study, midline, faint_threshold)
            method = "network (faint region)"
            flags = [f"low confidence: no region above p = {threshold:g}; the most likely region above "
                     f"p = {faint_threshold:g} is shown"]
            if not stats and pointed is not None:
                guess = _pointed_selection(probability, study, finding, midline, pointed, faint_threshold)
                if guess is not None:
                    return guess
        if not stats:
            return Selection(empty, [], None, None, "none", [], ["nothing above the threshold"])
        best = int(np.argmax(region_peaks(probability, labels, stats)))
        agreement = check_agreement(stats[best], finding) if finding is not None else None
        if finding is not None and fallback and not stands_out(study, stats[best]):
            st = stats[best]
            return Selection(empty, stats, None, agreement, "none", means, [
                f"not found: where the words point (SUVmax {st.suvmax:.1f}) the uptake does not stand out from "
                "its surroundings, so no lesion is offered"])
        return Selection(labels.mask(stats[best].label), stats, best, agreement, method, means, flags)
    assert finding is not None
    if stats:
        ranked = rank_components(stats, finding, means)
        top, agreement, _score = ranked[0]
        best = stats.index(top)
        if agreement.ok:
            mask, grown_flags = delineated(study, top, labels.mask(top.label))
            return Selection(mask, stats, best, agreement, "numbers", means, grown_flags)
    flags = ["no network region agrees with the stated numbers"]
    faint_labels, faint, faint_means = candidate_regions(probability, study, midline, low_threshold)
    agreeing = [(s, a, sc) for s, a, sc in rank_components(faint, finding, faint_means) if a.ok] if faint else []
    if agreeing:
        top, agreement, _ = agreeing[0]
        # a faint region joins the candidate list so the caller sees what was chosen
        out_stats = [*stats, top]
        out_means = [*means, faint_means[faint.index(top)]]
        mask, grown_flags = delineated(study, top, faint_labels.mask(top.label))
        return Selection(mask, out_stats, len(out_stats) - 1, agreement,
                         "numbers (faint network region)", out_means, [*flags, *grown_flags])
    if fallback:
        from ..weaklabel.components import component_stats
        from ..weaklabel.label import weak_label

        weak = weak_label(study, finding)
        if weak.matched and weak.mask.any():
            grown = component_stats(weak.mask.astype(np.int32), study.pet, study.numbering, midline)
            if grown:
                agreement = check_agreement(grown[0], finding)
                mean = float(probability[weak.mask].mean())
                if float(probability[weak.mask].max()) >= threshold:
                    # the network's region lies on this lesion but, on its coarser grid, just misses the stated
                    # peak voxel (partial volume at the edge): the network found it, the numbers placed its peak
                    return Selection(weak.mask.astype(bool), [*stats, grown[0]], len(stats), agreement,
                                     "numbers (region grown to the stated peak)", [*means, mean],
                                     ["the network's region lies on this lesion but misses its stated SUVmax "
                                      "voxel: the lesion is grown from that voxel"])
                return Selection(weak.mask.astype(bool), [*stats, grown[0]], len(stats), agreement, "weak label",
                                 [*means, mean],
                                 [*flags, "the network missed the stated lesion: mask grown from the numbers"])
        if weak.status == "ambiguous" and pointed is not None:
            chosen = _pointed_among(study, weak, pointed, probability, midline, stats, means, flags)
            if chosen is not None:
                return chosen
        flags.append(f"weak label: {weak.status} ({weak.reason})")
    if stats:  # nothing agrees: keep the network's best guess, clearly flagged
        best = int(np.argmax(means))
        agreement = check_agreement(stats[best], finding)
        return Selection(labels.mask(stats[best].label), stats, best, agreement, "network (numbers disagree)", means,
                         flags)
    return Selection(empty, [], None, None, "none", [], flags)


def stands_out(study, region) -> bool:
    """Does the region's hottest voxel stand out from its surroundings (not the delineation's low_contrast:
    SUVmax at least 1.5 x the background beyond its edge)? Without numbers, a region that does not is no lesion
    to offer, whatever the words."""
    from ..weaklabel.grow import grow_lesion
    from ..weaklabel.label import study_background

    grown = grow_lesion(np.asarray(study.pet.data), region.peak_index, tuple(study.pet.spacing),
                        background=study_background(study))
    return "low_contrast" not in grown.flags


def delineated(study, region, network_mask: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """The lesion's mask grown from the chosen region's hottest voxel with the weak-label delineation
    (weaklabel.grow, one home for lesion edges), and its review flags as sentences; the network's own region
    when the growth is refused (runaway, no uptake).

    Why: the network works on an 8 mm grid; its region says which lesion, the PET says where its edge is.
    """
    from ..weaklabel.grow import FLAG_TEXT, grow_lesion
    from ..weaklabel.label import study_background, study_ct_on_pet

    grown = grow_lesion(np.asarray(study.pet.data), region.peak_index, tuple(study.pet.spacing),
                        background=study_background(study), ct=study_ct_on_pet(study))
    if not grown.ok or not grown.mask.any():
        return network_mask, [f"the lesion's edge could not be grown ({grown.reason}): the network's region is shown"]
    return grown.mask, [FLAG_TEXT[f] for f in grown.flags if f in FLAG_TEXT]


def _pointed_among(study, weak, pointed: Callable[[], np.ndarray | None], probability: np.ndarray, midline: float,
                   stats: list, means: list[float], flags: list[str]) -> Selection | None:
    """Among the regions that all agree with the stated numbers (an ambiguous weak label), the one the sentence's
    words point at (model.pointed.pointed_choice), grown as the weak label grows it; None when the words do
    not single one out or its growth was refused."""
    from ..weaklabel.agreement import check_agreement
    from ..weaklabel.components import component_stats
    from .pointed import pointed_choice

    weights = pointed()
    if weights is None:
        return None
    items = [i for i in weak.candidates if i.grow is not None and i.grow.ok and i.grow.mask.any()]
    if len(items) < len(weak.candidates):
        return None  # a refused growth is a region the words could point at, but with no mask to show
    picked = pointed_choice(weights, [i.candidate.stats.peak_index for i in items], tuple(study.pet.spacing))
    if picked is None:
        return None
    index, ratio = picked
    mask = items[index].grow.mask.astype(bool)
    grown = component_stats(mask.astype(np.int32), study.pet, study.numbering, midline)
    if not grown:
        return None
    return Selection(mask, [*stats, grown[0]], len(stats), check_agreement(grown[0], weak.finding),
                     "weak label + words", [*means, float(probability[mask].mean())],
                     [*flags, f"{len(items)} regions agree with the stated numbers; the one the words point at "
                      f"({ratio:.1f} times the next in the network's location prior) is shown"])


def _pointed_selection(probability: np.ndarray, study, finding: Finding, midline: float,
                       pointed: Callable[[], np.ndarray | None], faint_threshold: float) -> Selection | None:
    """The hottest uptake where the sentence points (model.pointed) as a flagged Selection, or None."""
    from ..weaklabel.agreement import check_agreement
    from ..weaklabel.components import component_stats
    from .pointed import pointed_uptake

    weights = pointed()
    if weights is None:
        return None
    mask = pointed_uptake(np.asarray(study.pet.data), tuple(study.pet.spacing), weights)
    if mask is None:
        return None
    stats = component_stats(mask.astype(np.int32), study.pet, study.numbering, midline)
    if not stats:
        return None
    flag = (f"low confidence: the network found no region above p = {faint_threshold:g}; the hottest uptake "
            "where the sentence points is shown")
    return Selection(mask, stats[:1], 0, check_agreement(stats[0], finding), "location prior + uptake",
                     [float(probability[mask].mean())], [flag])
