"""From (PET, finding) to a weak lesion mask, with a status a reviewer can trust or question.

1. Candidates: hot regions near the stated image whose SUVmax agrees with the text (candidates.py).
2. Laterality: a sentence that says "left" or "right" keeps only regions on that side of the body midline.
3. Status: one agreeing region -> "matched"; several -> "ambiguous" (every candidate is kept, with its own
   grown mask, for a reviewer; the published pipeline dropped these silently); none -> "no_match" (the
   reason names the closest region); a match whose growth fails (no contrast, runaway) -> "rejected".
4. Mask: grown from the matched region's hottest voxel with grow.grow_lesion (default method "ring").
Flags: "reference_organ" (a bladder/kidney/brain/heart-like hot spot, from study.extras["site_map"] when
present, else from size and position), "laterality_mismatch", "slice_tolerance_used",
"slice_outside_series", "large_lesion", "low_uptake", "no_suv_stated", "no_slice_stated", and the growing's own flags (grow.FLAG_TEXT: "touches_border",
"part_of_larger_uptake", "low_contrast", "hot_spot_in_mass").

study.extras["site_map"] is either {"labels": array, "names": {value: name}} or, as phantoms store it, a bare
label array on the PET grid whose names come from study.extras["truth"]["label_table"] (rows with "value",
"key", "name"), else from the phantom's own label table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import WeakLabelError
from ..report.finding import Finding
from .candidates import Candidate, SearchSettings, find_candidates
from .components import body_midline_x_mm, side_label
from .grow import DEFAULT_METHOD, GrowResult, grow_lesion
from .ring import body_background

# organs with physiological uptake or excretion, matched in a label's key or name ("kidney_r", "right kidney",
# "renal_pelvis", "heart chambers (blood pool)")
REFERENCE_SITES = ("bladder", "kidney", "renal_pelvis", "renal collecting", "brain", "heart", "myocardium", "ureter",
                   "urinary")
# a sentence that places its lesion in one of these organs expects a hot spot there (lexicon site -> words)
_STATED_ORGAN = {"kidney": ("kidney", "renal")}


@dataclass
class WeakLabelConfig:
    method: str = DEFAULT_METHOD
    grow_options: dict = field(default_factory=dict)
    search: SearchSettings = field(default_factory=SearchSettings)
    large_lesion_ml: float = 100.0
    low_uptake_suv: float = 2.5  # the published pipeline dropped stated SUV < 2.5; here it is a flag
    reference_volume_ml: float = 150.0  # a hot region this large at the midline is an organ, not a lesion
    grow_ambiguous: bool = True  # grow a mask for every candidate of an ambiguous finding


@dataclass
class LabelCandidate:
    """One region considered for the finding, with its agreement and (when grown) its mask."""

    candidate: Candidate
    grow: GrowResult | None = None
    flags: list[str] = field(default_factory=list)

    @property
    def mask(self) -> np.ndarray | None:
        return None if self.grow is None else self.grow.mask

    def to_dict(self) -> dict:
        c = self.candidate
        out = {"stats": c.stats.to_dict(), "agreement": c.agreement.to_dict(), "score": c.score,
               "level": c.level, "flags": list(self.flags)}
        if self.grow is not None:
            out["grow"] = {"method": self.grow.method, "threshold": self.grow.threshold, "ok": self.grow.ok,
                           "reason": self.grow.reason, "volume_ml": self.grow.volume_ml}
        return out


@dataclass
class WeakLabel:
    finding: Finding
    mask: np.ndarray  # bool, PET grid; all False unless matched
    status: str  # "matched", "ambiguous", "no_match", "rejected"
    candidates: list[LabelCandidate] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    reason: str = ""
    method: str = DEFAULT_METHOD
    threshold: float | None = None
    suvmax: float | None = None
    volume_ml: float = 0.0

    @property
    def matched(self) -> bool:
        return self.status == "matched"

    def to_dict(self) -> dict:
        """JSON-safe summary (no arrays)."""
        return {
            "finding": self.finding.to_dict(), "status": self.status, "flags": list(self.flags),
            "reason": self.reason, "method": self.method, "threshold": self.threshold, "suvmax": self.suvmax,
            "volume_ml": self.volume_ml, "n_voxels": int(self.mask.sum()),
            "candidates": [c.to_dict() for c in self.candidates],
        }


def _site_labels(study) -> tuple[np.ndarray, dict[int, str]] | None:
    """(label array on the PET grid, value -> "key name") from study.extras["site_map"], or None."""
    site_map = study.extras.get("site_map")
    if isinstance(site_map, dict) and "labels" in site_map and "names" in site_map:
        labels = np.asarray(site_map["labels"])
        names = {int(k): str(v) for k, v in site_map["names"].items()}
    elif isinstance(site_map, np.ndarray):  # a phantom's site map: names from its label table
        labels = site_map
        truth = study.extras.get("truth")
        table = truth.get("label_table") if isinstance(truth, dict) else None
        if not table:
            from ..phantom.labels import label_table

            table = label_table()
        names = {int(row["value"]): f"{row.get('key', '')} {row.get('name', '')}" for row in table}
    else:
        return None
    if labels.shape != tuple(study.pet.shape):
        return None
    return labels, names


def _reference_organ(study, cand: Candidate, config: WeakLabelConfig, finding: Finding | None = None) -> bool:
    """Is this hot spot an organ with physiological uptake rather than a lesion?"""
    site_labels = _site_labels(study)
    if site_labels is not None:
        labels, names = site_labels
        name = names.get(int(labels[cand.stats.peak_index]), "").lower()
        if finding is not None and any(word in name for word in _STATED_ORGAN.get(finding.site, ())):
            return False  # "renal mass ...": the sentence itself puts the lesion in this organ
        return any(ref in name for ref in REFERENCE_SITES)
    st = cand.stats
    return st.volume_ml >= config.reference_volume_ml and st.side == "midline"


def study_background(study) -> float:
    """The body's background SUV of the study's PET (weaklabel.ring), computed once and kept in its extras."""
    cached = study.extras.get("body_background_suv")
    if cached is None:
        cached = study.extras["body_background_suv"] = body_background(np.asarray(study.pet.data))
    return float(cached)


def study_ct_on_pet(study) -> np.ndarray | None:
    """The study's CT (HU) on the PET grid, resampled once and kept in its extras; None without a CT."""
    if study.ct is None:
        return None
    cached = study.extras.get("ct_on_pet_grid")
    if cached is None or cached.shape != tuple(study.pet.shape):
        from ..model.preprocess import ct_on_pet_grid

        cached = np.asarray(ct_on_pet_grid(study.pet, study.ct).data)
        study.extras["ct_on_pet_grid"] = cached
    return cached


def weak_label(study, finding: Finding, config: WeakLabelConfig | None = None) -> WeakLabel:
    """Weak lesion mask on the PET grid for one finding (see module docstring)."""
    config = config or WeakLabelConfig()
    if not isinstance(finding, Finding):
        raise WeakLabelError(f"weak_label needs a report Finding, got {type(finding).__name__}")
    if study.pet is None or np.asarray(study.pet.data).ndim != 3:
        raise WeakLabelError("the study has no 3D PET; load a PET/CT study first")
    empty = np.zeros(study.pet.shape, dtype=bool)
    flags: list[str] = []
    if not study.pet_is_suv:
        flags.append("pet_not_suv")
    if finding.suvmax is None:
        flags.append("no_suv_stated")
    elif finding.suvmax < config.low_uptake_suv:
        flags.append("low_uptake")
    if finding.slice is None:
        flags.append("no_slice_stated")
    if finding.suvmax is None and finding.slice is None:
        return WeakLabel(finding, empty, "no_match", [], flags, "the sentence states neither an SUVmax nor an image "
                         "number; ground it with the model instead", config.method)
    midline = body_midline_x_mm(study)
    candidates, info = find_candidates(study.pet, study.numbering, finding, midline, config.search)
    if info["slice_outside_series"]:
        flags.append("slice_outside_series")
    agreeing = [c for c in candidates if c.agreement.suv_ok is not False and c.agreement.slice_ok is not False]
    if finding.suvmax is None:  # numbers cannot decide: the hottest regions near the image compete
        agreeing = agreeing[:3] if len(agreeing) > 1 else agreeing
    same_side = [c for c in agreeing if c.agreement.side_ok is not False]
    if agreeing and not same_side:
        flags.append("laterality_mismatch")
    elif len(same_side) < len(agreeing):
        flags.append("laterality_used")
    matches = same_side
    items = [LabelCandidate(c) for c in (matches or candidates[:5])]
    for item in items:
        if _reference_organ(study, item.candidate, config, finding):
            item.flags.append("reference_organ")
    if not matches:
        if candidates:
            best = candidates[0]
            near = "; ".join(best.agreement.messages)
            reason = f"no region agrees with the sentence; closest: {near}"
        else:
            reason = f"no region at SUV ≥ {info['levels'][0]:.2f} near the stated image"
        return WeakLabel(finding, empty, "no_match", items, flags, reason, config.method)
    if any(c.agreement.slice_distance for c in matches):
        flags.append("slice_tolerance_used")
    to_grow = items if (len(items) == 1 or config.grow_ambiguous) else []
    options = {"background": study_background(study), "ct": study_ct_on_pet(study), **config.grow_options}
    for item in to_grow:
        item.grow = grow_lesion(study.pet.data, item.candidate.stats.peak_index, study.pet.spacing,
                                config.method, **options)
    if len(items) > 1:
        if any("reference_organ" in i.flags for i in items):
            flags.append("reference_organ")
        sides = ", ".join(f"SUVmax {i.candidate.stats.suvmax:.2f} {side_label(i.candidate.stats.side)} images "
                          f"{i.candidate.stats.image_range[0]}–{i.candidate.stats.image_range[1]}" for i in items)
        return WeakLabel(finding, empty, "ambiguous", items, flags,
                         f"{len(items)} regions agree with the sentence ({sides}); a reviewer must choose",
                         config.method)
    item = items[0]
    grown = item.grow
    assert grown is not None
    flags.extend(f for f in item.flags if f not in flags)
    flags.extend(f for f in grown.flags if f not in flags)
    if grown.volume_ml >= config.large_lesion_ml:
        flags.append("large_lesion")
    label = WeakLabel(finding, grown.mask if grown.ok else empty, "matched" if grown.ok else "rejected", items,
                      flags, "; ".join(item.candidate.agreement.messages), config.method, grown.threshold,
                      item.candidate.stats.suvmax, grown.volume_ml if grown.ok else 0.0)
    if not grown.ok:
        label.reason = f"region found ({label.reason}) but its mask is rejected: {grown.reason}"
    return label
