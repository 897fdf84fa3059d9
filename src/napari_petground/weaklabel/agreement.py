"""Does a hot region agree with what a sentence states (SUVmax, image number, side)? Used by weak labeling
and by the model's number-aware post-processing, so the matching rule exists once.

SUV: a report rounds, so "SUVmax 12.3" agrees with 12.25…12.35 — half a unit of the last stated decimal,
never less than ``SUV_FLOOR`` (0.05), plus an optional relative tolerance for reconstruction differences.
Image: the region's image range must include the stated image, within ``slice_tolerance`` images.
Side: "left"/"right" must match the region's side of the body midline; "bilateral" or no side is not
checked; a midline region is not a contradiction, nor is a region in a study that does not show the midline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..report.finding import Finding
from .components import ComponentStats

SUV_FLOOR = 0.05
_DECIMALS = re.compile(r"\d+(?:[.,](\d+))?")


@dataclass
class Agreement:
    suv_ok: bool | None = None  # None: the sentence states no SUV
    slice_ok: bool | None = None  # None: no image number
    side_ok: bool | None = None  # None: no side stated (or bilateral / midline)
    messages: list[str] = field(default_factory=list)
    suv_error: float | None = None  # |region SUVmax − stated|
    slice_distance: int | None = None  # images between the stated image and the region (0 = inside)

    @property
    def ok(self) -> bool:
        """Nothing stated contradicts the region."""
        return self.suv_ok is not False and self.slice_ok is not False and self.side_ok is not False

    def to_dict(self) -> dict:
        return {"suv_ok": self.suv_ok, "slice_ok": self.slice_ok, "side_ok": self.side_ok, "ok": self.ok,
                "messages": list(self.messages), "suv_error": self.suv_error, "slice_distance": self.slice_distance}


def stated_decimals(finding: Finding) -> int:
    """Decimals written in the sentence for the SUVmax ("12.3" -> 1, "12" -> 0, "12.30" -> 2)."""
    span = finding.spans.get("suvmax")
    text = finding.sentence[span.start:span.end] if span is not None else ""
    if not text and finding.suvmax is not None:
        text = repr(float(finding.suvmax)).rstrip("0").rstrip(".")
    m = _DECIMALS.search(text)
    return len(m.group(1)) if m and m.group(1) else 0


def suv_tolerance_for(finding: Finding, relative: float = 0.0, floor: float = SUV_FLOOR) -> float:
    """Tolerance implied by the rounding of the stated SUVmax (+ ``relative`` × value)."""
    if finding.suvmax is None:
        return 0.0
    half_unit = 0.5 * 10.0 ** (-stated_decimals(finding))
    return max(half_unit, floor) + relative * abs(float(finding.suvmax))


def check_agreement(
    stats: ComponentStats,
    finding: Finding,
    *,
    suv_tolerance: float | None = None,
    relative_suv_tolerance: float = 0.0,
    slice_tolerance: int = 0,
) -> Agreement:
    """Compare one region with the numbers and side of one finding."""
    a = Agreement()
    if finding.suvmax is not None:
        tol = suv_tolerance if suv_tolerance is not None else suv_tolerance_for(finding, relative_suv_tolerance)
        a.suv_error = abs(stats.suvmax - float(finding.suvmax))
        a.suv_ok = a.suv_error <= tol + 1e-9
        a.messages.append(
            f"SUVmax in mask {stats.suvmax:.2f} vs stated {finding.suvmax:g} "
            f"({'within' if a.suv_ok else 'outside'} ±{tol:.2f})"
        )
    if finding.slice is not None:
        lo, hi = stats.image_range
        dist = 0 if lo <= finding.slice <= hi else min(abs(finding.slice - lo), abs(finding.slice - hi))
        a.slice_distance = int(dist)
        a.slice_ok = dist <= slice_tolerance
        if dist == 0:
            a.messages.append(f"images {lo}–{hi} include {finding.slice}")
        else:
            a.messages.append(
                f"images {lo}–{hi} are {dist} from {finding.slice} "
                f"({'within' if a.slice_ok else 'beyond'} tolerance {slice_tolerance})"
            )
    if finding.laterality in ("left", "right"):
        if stats.side == "midline":
            a.messages.append(f"{finding.laterality} stated, region at the midline")
        elif not stats.side:
            a.messages.append(f"{finding.laterality} stated, side not judged (the image does not show the "
                              "body's midline)")
        else:
            a.side_ok = stats.side == finding.laterality
            a.messages.append(f"{finding.laterality} ✓" if a.side_ok else f"{finding.laterality} stated, region on the {stats.side}")
    return a


def agreement_score(a: Agreement, probability: float | None = None) -> float:
    """Higher is better: agreements count, errors subtract, a model probability (0–1) adds."""
    score = 0.0
    if a.suv_ok is not None:
        score += 2.0 if a.suv_ok else -2.0
        score -= min(a.suv_error or 0.0, 5.0) * 0.2
    if a.slice_ok is not None:
        score += 2.0 if a.slice_ok else -2.0
        score -= min(a.slice_distance or 0, 20) * 0.05
    if a.side_ok is not None:
        score += 1.0 if a.side_ok else -3.0
    if probability is not None:
        score += 2.0 * float(probability)
    return score


def rank_components(
    stats_list: list[ComponentStats],
    finding: Finding,
    probabilities: dict[int, float] | list[float] | None = None,
    **tolerances,
) -> list[tuple[ComponentStats, Agreement, float]]:
    """Regions ordered from best to worst agreement with ``finding``.

    ``probabilities`` (optional) maps a region's label — or its position in ``stats_list`` — to a model
    probability, so the model's post-processing and weak labeling share one rule. ``tolerances`` are passed to
    :func:`check_agreement`.
    """
    ranked = []
    for i, stats in enumerate(stats_list):
        p = None
        if isinstance(probabilities, dict):
            p = probabilities.get(stats.label)
        elif probabilities is not None:
            p = probabilities[i]
        a = check_agreement(stats, finding, **tolerances)
        ranked.append((stats, a, agreement_score(a, p)))
    ranked.sort(key=lambda t: (-t[2], -t[0].suvmax))
    return ranked
