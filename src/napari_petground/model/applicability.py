"""Does a study lie inside what a checkpoint was trained on? The reasons it does not, in words for the user.

Why: a network answers whatever it is given. A limb crop without landmarks, a chest-only exam for a network
that learned positions on neck-to-thigh exams, a 2 mm PET for one trained at 4 mm, a tracer it never saw, no
CT: its answer from the words alone then means little, and the user must be told beside the answer, not find
out. The numbers in a sentence (SUVmax, image) do not depend on any of this, so the message says so.

The checkpoint's ``training`` record (what ``petground train`` wrote: tracers, phantom voxel size, varied
fields of view or not) is compared with the study and its anatomical frame (anatomy.frame).
"""

from __future__ import annotations

from ..wording import plural

# the generator's own field of view (neck to thighs), the only one before --variety, on the standard body axis
# (anatomy.frame: mm below the vertex): from the skull base (about 105-110) to the upper thighs (930-1110),
# measured on phantoms; a checkpoint whose positions are relative to the field of view needs about that
NECK_TO_THIGHS_MM = (108.0, 1050.0)
FIELD_TOLERANCE_MM = 150.0
VARIED_RESOLUTION_MM = (3.0, 5.0)
RESOLUTION_MARGIN_MM = 1.0


def training_record(config) -> dict:
    """The data a checkpoint was trained on (``training.settings.extra`` of its config), or {}."""
    training = getattr(config, "training", None) or {}
    return dict((training.get("settings") or {}).get("extra") or {})


def outside_training(config, study, frame) -> list[str]:
    """Reasons, for the user, why answers from the words alone may not hold on this study (empty: none)."""
    record = training_record(config)
    reasons: list[str] = []
    anatomical = getattr(config.preprocess, "coord_frame", "box") == "anatomy"
    if study.ct is None:
        reasons.append("no CT: the network was trained on PET with CT, and the body's landmarks are read from the CT")
    if frame is not None and not frame.located:
        reasons.append(f"{frame.describe()}: where the words point in this body cannot be placed")
    elif frame is not None and not anatomical and record and not record.get("variety"):
        lm = frame.landmarks
        top, bottom = (float(v) for v in frame.axial([lm.body_top, lm.body_bottom]))
        if abs(top - NECK_TO_THIGHS_MM[0]) > FIELD_TOLERANCE_MM or abs(bottom - NECK_TO_THIGHS_MM[1]) > FIELD_TOLERANCE_MM:
            reasons.append(f"the exam covers {', '.join(frame.regions()) or 'part of the body'}; this checkpoint "
                           "learned positions relative to the field of view of neck-to-thigh exams")
    resolution = record.get("resolution_mm")
    if resolution is not None:
        low, high = VARIED_RESOLUTION_MM if record.get("variety") else (float(resolution), float(resolution))
        finest, coarsest = min(study.pet.spacing), max(study.pet.spacing)
        if finest < low - RESOLUTION_MARGIN_MM or coarsest > high + RESOLUTION_MARGIN_MM:
            reasons.append(f"PET voxels of {finest:.1f}–{coarsest:.1f} mm; training used "
                           f"{low:g}–{high:g} mm" if low != high else
                           f"PET voxels of {finest:.1f}–{coarsest:.1f} mm; training used {low:g} mm")
    tracers = {str(t).upper() for t in record.get("tracers") or []}
    if tracers and (study.tracer or "").upper() not in tracers:
        seen = ", ".join(sorted(tracers))
        reasons.append(f"tracer {study.tracer or 'unknown'}; training saw {plural(len(tracers), 'tracer')} "
                       f"({seen})")
    return reasons


def applicability_flag(reasons: list[str]) -> str:
    """One flag for the result: what lies outside training, and that numbers in the sentence still hold."""
    return ("outside what this checkpoint was trained on: " + "; ".join(reasons)
            + " (an SUVmax or image number in the sentence still finds the lesion)")
