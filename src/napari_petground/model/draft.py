"""Drafting report text from what was measured: one sentence per lesion, a findings paragraph per study.

A drafted sentence reads like the sentences the report parser was built on and parses back to the same
site, side, SUVmax and image number ("Hypermetabolic left external iliac lymph node, SUVmax 8.8 (image
258), 2.1 ml."), so a drafted finding can be grounded again and checked like a dictated one.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..report.lexicon import SITE_BY_KEY

# nouns of sites whose phrase would not parse back to them with "lesion" added (a grouping of sub-sites
# names itself, not a sub-site: "pelvic bone lesion", not "iliac bone lesion", which is the ilium)
DRAFT_NOUNS: dict[str, str] = {
    "thyroid": "thyroid lesion",
    "prostate": "prostate lesion",
    "vertebra": "vertebral body lesion",
    "rib": "rib lesion",
    "iliac_bone": "pelvic bone lesion",
    "sacrum": "sacral lesion",
    "femur": "femoral lesion",
}
_LESION_WORDS = ("lesion", "nodule", "mass", "node")

AVIDITY: dict[str, str] = {
    "FDG": "Hypermetabolic",
    "PSMA": "PSMA-avid",
    "DOTATATE": "DOTATATE-avid",
    "FLUCICLOVINE": "Fluciclovine-avid",
}


def avidity(tracer: str) -> str:
    """The adjective a reader uses for uptake of ``tracer`` (FDG wording when the tracer is unknown)."""
    return AVIDITY.get(tracer.upper(), "Hypermetabolic") if tracer else "Hypermetabolic"


def lesion_noun(site: str, side: str = "") -> str:
    """"left external iliac lymph node", "right rib lesion", "hepatic lesion"; "lesion" without a site."""
    if not site:
        return "lesion"
    known = SITE_BY_KEY[site]
    noun = DRAFT_NOUNS.get(site, known.phrase)
    if site not in DRAFT_NOUNS and not known.is_node and not noun.endswith(_LESION_WORDS):
        noun += " lesion"  # "right frontal lobe lesion", "hepatic segment VII lesion"
    return f"{side} {noun}" if side in ("left", "right") and known.lateral else noun


def format_volume(volume_ml: float) -> str:
    """One decimal from 1 ml up, two below (a 0.4 ml node should not read "0.0 ml")."""
    return f"{volume_ml:.1f} ml" if volume_ml >= 0.95 else f"{volume_ml:.2f} ml"


def draft_sentence(site: str, side: str, suvmax: float | None, image_number: int | None,
                   volume_ml: float | None, tracer: str = "") -> str:
    """One finding sentence; parts whose value is unknown are left out."""
    text = f"{avidity(tracer)} {lesion_noun(site, side)}"
    if suvmax is not None:
        text += f", SUVmax {suvmax:.1f}"
        if image_number is not None:
            text += f" (image {int(image_number)})"
    elif image_number is not None:
        text += f" (image {int(image_number)})"
    if volume_ml is not None:
        text += f", {format_volume(volume_ml)}"
    return text + "."


@dataclass(frozen=True)
class DraftLine:
    """A sentence of the findings paragraph and where its lesion is (for the head-to-feet order)."""

    sentence: str
    z_mm: float  # superior is larger (LPS)
    label: int = 0


def draft_paragraph(lines: list[DraftLine]) -> str:
    """The findings paragraph: sentences ordered head to feet (most superior first), one space apart."""
    ordered = sorted(lines, key=lambda line: (-line.z_mm, line.label))
    return " ".join(line.sentence.strip() for line in ordered if line.sentence.strip())
