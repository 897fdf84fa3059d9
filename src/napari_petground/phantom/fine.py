"""The fine site of a phantom lesion: the vocabulary's sub-site where its words or its position say which.

Phantoms of the first generator (``version=1``) name lesions by the 27 sites of the first lexicon and keep
where inside the site a lesion sits as sub-site words (``LesionTruth.subsite``: "VII", "apical segment",
"T6" ...). Those words map onto the vocabulary's sub-sites, so such lesions can teach and test the fine
level too; a lesion whose words do not say (a sacral lesion, a middle-lobe nodule) keeps its grouping site.
Phantoms of version 2 already name the fine site.
"""

from __future__ import annotations

from ..report.lexicon import SITE_BY_KEY

_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6, "VII": 7, "VIII": 8}
_BY_WORDS: dict[str, dict[str, str]] = {
    "lung_upper_lobe": {"apical segment": "lung_upper_apical", "anterior segment": "lung_upper_anterior",
                        "posterior segment": "lung_upper_posterior"},
    "lung_lower_lobe": {"superior segment": "lung_lower_superior", "posterior basal segment":
                        "lung_lower_posterior_basal", "lateral basal segment": "lung_lower_lateral_basal"},
    "mediastinal_node": {"upper paratracheal": "upper_paratracheal_node", "lower paratracheal":
                         "lower_paratracheal_node", "aortopulmonary window": "aortopulmonary_window_node",
                         "subcarinal": "subcarinal_node"},
    "cervical_node": {"II": "cervical_level_2", "III": "cervical_level_3", "IV": "cervical_level_4"},
    "iliac_bone": {"iliac wing": "ilium", "supra-acetabular": "ilium", "acetabular": "acetabulum"},
    "pancreas": {"head": "pancreas_head", "body": "pancreas_body", "tail": "pancreas_tail"},
}


def fine_site(lesion) -> tuple[str, str]:
    """(site, side) of a LesionTruth at the finest level its truth tells; the side of a paired sub-site of
    an unpaired site (a right paratracheal node) from the side of the midline its centre lies on."""
    site, side = lesion.site, lesion.laterality
    known = SITE_BY_KEY.get(site)
    if known is None or not known.group:
        return site, side
    sub = lesion.subsite
    fine = ""
    if site == "liver" and sub in _ROMAN:
        fine = f"liver_segment_{_ROMAN[sub]}"
    elif site == "vertebra" and sub:
        fine = f"vertebra_{sub.lower()}"
    elif site == "rib" and sub.startswith("T"):
        fine = f"rib_{sub[1:]}"
    elif site == "retroperitoneal_node":
        fine = {"right": "aortocaval_node", "left": "para_aortic_node"}.get(side, "")
    elif site == "femur":
        fine = "proximal_femur"  # the first generator places femoral lesions in the upper femur
    else:
        fine = _BY_WORDS.get(site, {}).get(sub, "")
    if fine not in SITE_BY_KEY:
        return site, side
    if SITE_BY_KEY[fine].lateral and side not in ("left", "right"):
        side = "right" if float(lesion.center_mm[2]) < 0 else "left"
    elif not SITE_BY_KEY[fine].lateral:
        side = ""
    return fine, side


__all__ = ["fine_site"]
