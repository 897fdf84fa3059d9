"""Report words of the version-2 generator: how a sentence names a lesion at any fine site of the vocabulary,
the report sections of the new regions, and which negative sentences a report may say.

Noun phrases are built from the vocabulary's own words (report/vocabulary.json): the site's phrase or one of
its first synonyms with the side ("left frontal lobe lesion", "lesion in the right psoas muscle"), and for a
sub-site also its qualifier next to its site's word ("nodule in the apical segment of the right upper lobe",
"mass in the head of the pancreas"). Every phrasing parses back to the lesion's site and side (tested on
whole reports).
"""

from __future__ import annotations

import numpy as np

from ..report.lexicon import SITE_BY_KEY, coarse_of

# section headers of the regions version 1 has no lesions in
SECTIONS2 = {"brain": ("Brain:", "HEAD:", "Brain/Head:"),
             "soft_tissue": ("Soft tissues:", "MUSCULOSKELETAL AND SOFT TISSUES:", "Skin and soft tissues:")}
SECTION_ORDER2 = ("brain", "head_neck", "chest", "abdomen", "bone", "soft_tissue")
NEGATIVES2 = {
    "brain": (("No focal {avid} intracranial lesion.", "brain"),),
    "soft_tissue": (("No suspicious soft tissue or cutaneous lesions.", "soft_tissue"),),
}
_ADJECTIVE_ENDINGS = ("al", "ar", "ic", "eal", "ous", "ary", "ine", "oid")
_NOUN_WORDS = 4  # phrasings use the site's first few words


def _usable(word: str, side: str, lateral: bool) -> bool:
    """Words that read well in a sentence and carry no side of their own."""
    low = word.lower()
    return not low.startswith(("left ", "right ")) and not (lateral and " of the " in low and low.endswith("lobe"))


def located_phrase(site_key: str, side: str, noun: str, rng: np.random.Generator) -> str:
    """A noun phrase naming a fine site and side, e.g. "left frontal lobe lesion"."""
    site = SITE_BY_KEY[site_key]
    side = side if site.lateral else ""
    words = [w for w in site.synonyms[:_NOUN_WORDS] if _usable(w, side, site.lateral)] or [site.phrase]
    options: list[str] = []
    for word in words:
        if word.lower().endswith(("node", "nodule", "mass", "lesion")):
            options.append(f"{side} {word}")
            continue
        if site.is_node:  # "left internal iliac lymph node"
            options.append(f"{side} {word} {noun}")
            continue
        options.append(f"{side} {word} {noun}")
        if not word.lower().endswith(_ADJECTIVE_ENDINGS):
            options.append(f"{noun} in the {side} {word}")
    parent = SITE_BY_KEY.get(site.parent)
    if parent is not None and site.qualifiers and not parent.is_node:
        q = site.qualifiers[0]
        parent_word = next((w for w in parent.synonyms if not w.lower().endswith(_ADJECTIVE_ENDINGS)
                            and _usable(w, side, parent.lateral)), parent.phrase)
        pside = side if parent.lateral else ""
        options.append(f"{noun} in the {q} of the {pside} {parent_word}")
    text = str(options[int(rng.integers(len(options)))])
    return " ".join(text.split())


def denied(key: str, lesions) -> bool:
    """Would the negative sentence of ``key`` deny a lesion of this exam? ``key`` is a region of
    NEGATIVES2 or a template of version 1's negatives (phantom.text), read by what it says."""
    coarse = {coarse_of(les.site) for les in lesions}
    regions = {les.region for les in lesions}
    nodes = {les.region for les in lesions if SITE_BY_KEY[les.site].is_node}
    words = {
        "cervical lymphadenopathy": "head_neck" in nodes, "supraclavicular": "supraclavicular_node" in coarse,
        "salivary": bool(coarse & {"parotid", "submandibular_gland", "pharynx"}),
        "pulmonary nodules": bool(coarse & {"lung_upper_lobe", "lung_middle_lobe", "lung_lower_lobe", "pleura"}),
        "mediastinal or hilar": bool(coarse & {"mediastinal_node", "hilar_node", "internal_mammary_node",
                                               "cardiophrenic_node"}),
        "axillary": "axillary_node" in coarse, "myocardial": bool(coarse & {"heart", "pericardium"}),
        "hepatic": "liver" in coarse, "abdominal or pelvic": bool(nodes & {"abdomen", "pelvis"}),
        "spleen, pancreas": bool(coarse & {"spleen", "pancreas", "adrenal"}),
        "bowel and urinary": bool(coarse & {"small_bowel", "colon", "stomach", "rectum", "bladder", "kidney",
                                            "renal_pelvis"}),
        "osseous": "bone" in regions, "intracranial": bool(coarse & {"brain", "pituitary"}),
        "soft tissue": "soft_tissue" in regions,
    }
    return any(flag for word, flag in words.items() if word in key)


__all__ = ["NEGATIVES2", "SECTIONS2", "SECTION_ORDER2", "denied", "located_phrase"]
