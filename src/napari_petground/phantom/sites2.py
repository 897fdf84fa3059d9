"""Where a version-2 phantom may put a lesion at each fine site of the vocabulary, and how often.

A fine site is held by site-map labels (phantom.labels2), and for sub-sites that the anatomy draws as one
structure (hepatic segments, lung segments, mediastinal stations, cervical and axillary levels, parts of the
pancreas, larynx, uterus and peritoneum, chest and abdominal wall) by a rule on the position inside it:
fractions of the structure's extent, measured on the grid of the exam (z from bottom to top, y from front to
back, x from the patient's right to left), per side for paired structures. ``HELD`` lists every fine site
a phantom can hold; docs/phantoms.md lists the others.
"""

from __future__ import annotations

import numpy as np

from ..report.lexicon import FINE_SITES, SITE_BY_KEY
from .labels2 import L2, LABEL2_BY_VALUE

_SIDE_LABELS = {  # fine site -> label key stem with _r/_l per side
    "supraclavicular_node": "node_supraclavicular", "retropharyngeal_node": "node_retropharyngeal",
    "hilar_node": "node_hilar", "internal_mammary_node": "node_internal_mammary",
    "cardiophrenic_node": "node_cardiophrenic", "adrenal": "adrenal", "kidney": "kidney",
    "common_iliac_node": "node_common_iliac", "external_iliac_node": "node_external_iliac",
    "internal_iliac_node": "node_internal_iliac", "obturator_node": "node_obturator",
    "inguinal_node": "node_inguinal", "ovary": "ovary", "testis": "testis", "popliteal_node": "node_popliteal",
    "epitrochlear_node": "node_epitrochlear",
}
_LABELS: dict[str, tuple[str, ...]] = {  # fine site -> labels (split by the sign of x when the site is paired)
    "frontal_lobe": ("brain_frontal",), "parietal_lobe": ("brain_parietal",), "temporal_lobe": ("brain_temporal",),
    "occipital_lobe": ("brain_occipital",), "cerebellum": ("brain_cerebellum",),
    "basal_ganglia": ("brain_basal_ganglia",), "brainstem": ("brain_brainstem",), "pituitary": ("pituitary",),
    "thyroid": ("thyroid",), "parotid": ("parotid",), "submandibular_gland": ("submandibular",),
    "tonsil": ("tonsil",), "nasopharynx": ("nasopharynx",), "orbit": ("eye",), "pleura": ("pleura",),
    "pericardium": ("pericardium",), "breast": ("breast",), "gallbladder": ("gallbladder",),
    "spleen": ("spleen",), "duodenum": ("duodenum",), "jejunum": ("bowel_jejunum",), "ileum": ("bowel_ileum",),
    "terminal_ileum": ("bowel_terminal_ileum",), "omentum": ("omentum",),
    "para_aortic_node": ("node_retroperitoneal_l",), "aortocaval_node": ("node_retroperitoneal_r",),
    "mesenteric_node": ("node_mesenteric",), "celiac_node": ("node_celiac",),
    "gastrohepatic_node": ("node_gastrohepatic",), "peripancreatic_node": ("node_peripancreatic",),
    "retrocrural_node": ("node_retrocrural",), "porta_hepatis_node": ("node_porta_hepatis",),
    "presacral_node": ("node_presacral",), "mesorectal_node": ("node_mesorectal",), "prostate": ("prostate",),
    "seminal_vesicle": ("seminal_vesicle",), "bladder": ("bladder_wall",), "rectum": ("colon_rectum",),
    "anal_canal": ("anal_canal",), "calvarium": ("skull",), "skull_base": ("skull_base",),
    "mandible": ("mandible",), "coccyx": ("coccyx",), "sternum": ("sternum",), "clavicle": ("clavicle",),
    "scapula": ("scapula",), "proximal_humerus": ("humerus_proximal",), "humeral_shaft": ("humerus_shaft",),
    "distal_humerus": ("humerus_distal",), "radius": ("radius",), "ulna": ("ulna",), "hand_bones": ("hand_bones",),
    "ilium": ("ilium",), "acetabulum": ("acetabulum",), "pubis": ("pubis",), "ischium": ("ischium",),
    "proximal_femur": ("femur_proximal",), "femoral_shaft": ("femur_shaft",), "distal_femur": ("femur_distal",),
    "tibia": ("tibia",), "fibula": ("fibula",), "foot_bones": ("foot_bones",), "skin": ("skin",),
    "heart": ("myocardium",), "renal_pelvis": ("renal_pelvis",),
    "subcutaneous_tissue": ("fat",), "psoas": ("psoas",), "paraspinal_muscle": ("paraspinal",),
    "gluteal_muscle": ("gluteal",), "pectoralis_muscle": ("pectoralis",),
    "upper_arm_anterior": ("limb_upper_arm_anterior",), "upper_arm_posterior": ("limb_upper_arm_posterior",),
    "forearm": ("limb_forearm",), "hand": ("limb_hand",), "thigh_anterior": ("limb_thigh_anterior",),
    "thigh_medial": ("limb_thigh_medial",), "thigh_posterior": ("limb_thigh_posterior",),
    "lower_leg_anterior": ("limb_leg_anterior",), "lower_leg_lateral": ("limb_leg_lateral",),
    "lower_leg_posterior": ("limb_leg_posterior",), "foot": ("limb_foot",),
}
_LABELS.update({k: (f"colon_{k.replace('_colon', '')}",) for k in (
    "cecum", "ascending_colon", "hepatic_flexure", "transverse_colon", "splenic_flexure", "descending_colon",
    "sigmoid_colon")})
_LABELS.update({f"stomach_{k}": (f"stomach_{k}",) for k in ("cardia", "fundus", "body", "antrum", "pylorus")})
_LABELS.update({f"esophagus_{k}": (f"esophagus_{k}",) for k in ("cervical", "upper", "mid", "distal")})
_LABELS["gastroesophageal_junction"] = ("esophagus_gej",)
_LABELS.update({f"vertebra_{p.lower()}{i}": (f"vertebra_{p.lower()}{i}",)
                for p, n in (("C", 7), ("T", 12), ("L", 5)) for i in range(1, n + 1)})
_LABELS.update({f"sacrum_s{i}": (f"sacrum_s{i}",) for i in range(1, 6)})
_LABELS.update({f"rib_{i}": (f"rib_{i}",) for i in range(1, 13)})

# sub-sites told apart by a rule on the position inside one structure: host labels and the rule's name
_RULED: dict[str, tuple[tuple[str, ...], str]] = {}
for _k in range(1, 9):
    _RULED[f"liver_segment_{_k}"] = (("liver",), "liver")
for _k in ("lung_upper_apical", "lung_upper_posterior", "lung_upper_anterior", "lingula"):
    _RULED[_k] = (("lung_rul", "lung_lul"), "upper")
for _k in ("lung_middle_lateral", "lung_middle_medial"):
    _RULED[_k] = (("lung_rml",), "middle")
for _k in ("lung_lower_superior", "lung_lower_medial_basal", "lung_lower_anterior_basal", "lung_lower_lateral_basal",
           "lung_lower_posterior_basal"):
    _RULED[_k] = (("lung_rll", "lung_lll"), "lower")
for _k in ("upper_paratracheal_node", "prevascular_node", "retrotracheal_node", "lower_paratracheal_node",
           "aortopulmonary_window_node", "para_aortic_mediastinal_node", "subcarinal_node", "paraesophageal_node"):
    _RULED[_k] = (("node_mediastinal",), "mediastinal")
for _k in range(1, 6):
    _RULED[f"cervical_level_{_k}"] = (("node_cervical_r", "node_cervical_l"), "cervical")
for _k in range(1, 4):
    _RULED[f"axillary_level_{_k}"] = (("node_axillary_r", "node_axillary_l"), "axillary")
for _k in ("head", "uncinate", "neck", "body", "tail"):
    _RULED[f"pancreas_{_k}"] = (("pancreas",), "pancreas")
for _k in ("supraglottic_larynx", "glottic_larynx", "subglottic_larynx"):
    _RULED[_k] = (("larynx",), "larynx")
for _k in ("uterine_corpus", "cervix"):
    _RULED[_k] = (("uterus",), "uterus")
for _k in ("peritoneum", "perihepatic_peritoneum", "paracolic_gutter", "pouch_of_douglas"):
    _RULED[_k] = (("peritoneum",), "peritoneum")
for _k in ("chest_wall", "abdominal_wall"):
    _RULED[_k] = (("muscle",), "wall")

_PAIRED = ("upper", "lower", "cervical", "axillary")  # rules on structures drawn once per side (right, left)

HELD: tuple[str, ...] = tuple(s.key for s in FINE_SITES if s.key in _LABELS or s.key in _RULED
                              or s.key in _SIDE_LABELS)


def host_labels(site: str, side: str) -> tuple[int, ...]:
    """Site-map values a lesion at ``site`` on ``side`` may be centred in (before any position rule)."""
    if site in _SIDE_LABELS:
        return (L2[f"{_SIDE_LABELS[site]}_{'r' if side == 'right' else 'l'}"],)
    if site in _LABELS:
        return tuple(L2[k] for k in _LABELS[site])
    keys, rule = _RULED[site]
    if rule in _PAIRED:
        return (L2[keys[0] if side == "right" else keys[1]],)
    return tuple(L2[k] for k in keys)


def rule_of(site: str) -> str:
    return _RULED[site][1] if site in _RULED else ""


def frame_side(site: str, side: str) -> str:
    """The side whose part of the structure a rule measures fractions in: the side for a structure drawn
    once per side (a lobe, a nodal station), "" for one drawn once (the liver, the peritoneum)."""
    return side if rule_of(site) in _PAIRED else ""


def fractions(site_map: np.ndarray, grid, labels: tuple[int, ...], side: str, points: np.ndarray) -> np.ndarray:
    """(N, 3) positions of ``points`` (zyx mm) inside the extent of ``labels`` (on ``side`` of the midline
    for a paired site): z bottom->top, y front->back, x patient's right->left, each 0..1."""
    zax, yax, xax = grid.axes()
    lut = np.zeros(256, bool)
    lut[list(labels)] = True
    inside = lut[site_map]
    if side == "right":
        inside &= (xax < 0)[None, None, :]
    elif side == "left":
        inside &= (xax > 0)[None, None, :]
    out = np.full(points.shape, 0.5)
    for axis, (ax, other) in enumerate(((zax, (1, 2)), (yax, (0, 2)), (xax, (0, 1)))):
        hit = np.flatnonzero(inside.any(axis=other))
        if hit.size and ax[hit[-1]] > ax[hit[0]]:
            out[:, axis] = np.clip((points[:, axis] - ax[hit[0]]) / (ax[hit[-1]] - ax[hit[0]]), 0, 1)
    return out


def apply_rule(rule: str, side: str, f: np.ndarray, points: np.ndarray, levels: dict) -> np.ndarray:
    """Fine-site key of each point under ``rule`` (``f``: fractions, ``points``: zyx mm)."""
    fz, fy, fx = f[:, 0], f[:, 1], f[:, 2]
    x = points[:, 2]
    lat = 1 - fx if side == "right" else fx  # 1 = the lateral edge of a paired structure
    if rule == "liver":
        seg = np.select([fx > 0.72, fx > 0.55, fy < 0.5], [np.where(fz > 0.5, 2, 3), 4, np.where(fz > 0.5, 8, 5)],
                        default=np.where(fz > 0.5, 7, 6))
        seg = np.where((fz > 0.45) & (fz < 0.75) & (fx > 0.45) & (fx < 0.58) & (fy > 0.6), 1, seg)
        return np.array([f"liver_segment_{k}" for k in seg])
    if rule == "upper":
        out = np.select([fz > 0.6, fy < 0.5], ["lung_upper_apical", "lung_upper_anterior"], "lung_upper_posterior")
        return np.where((side == "left") & (fz < 0.35) & (fy < 0.55), "lingula", out)
    if rule == "middle":
        return np.where(lat > 0.5, "lung_middle_lateral", "lung_middle_medial")
    if rule == "lower":
        medial = "lung_lower_medial_basal" if side == "right" else "lung_lower_anterior_basal"
        basal = np.select([lat < 0.3, fy > 0.6, fy < 0.35],
                          [medial, "lung_lower_posterior_basal", "lung_lower_anterior_basal"], "lung_lower_lateral_basal")
        return np.where(fz > 0.7, "lung_lower_superior", basal)
    if rule == "mediastinal":
        upper = np.select([fy > 0.68, fy < 0.28], ["retrotracheal_node", "prevascular_node"], "upper_paratracheal_node")
        middle = np.select([(x > 10) & (fy < 0.3), x > 10, fy > 0.7],
                           ["para_aortic_mediastinal_node", "aortopulmonary_window_node", "paraesophageal_node"],
                           "lower_paratracheal_node")
        lower = np.where(fy > 0.68, "paraesophageal_node", "subcarinal_node")
        return np.select([fz > 0.7, fz > 0.4], [upper, middle], lower)
    if rule == "cervical":
        return np.select([(fz > 0.78) & (fy < 0.35), fy > 0.72, fz > 0.55, fz > 0.25],
                         ["cervical_level_1", "cervical_level_5", "cervical_level_2", "cervical_level_3"],
                         "cervical_level_4")
    if rule == "axillary":
        return np.select([lat > 0.62, lat > 0.3], ["axillary_level_1", "axillary_level_2"], "axillary_level_3")
    if rule == "pancreas":
        return np.select([(fx < 0.3) & (fz < 0.35), fx < 0.3, fx < 0.42, fx < 0.72],
                         ["pancreas_uncinate", "pancreas_head", "pancreas_neck", "pancreas_body"], "pancreas_tail")
    if rule == "larynx":
        return np.select([fz > 0.62, fz > 0.32], ["supraglottic_larynx", "glottic_larynx"], "subglottic_larynx")
    if rule == "uterus":
        return np.where(fz < 0.35, "cervix", "uterine_corpus")
    if rule == "peritoneum":
        return np.select([fz < 0.08, (fz > 0.62) & (fx < 0.42), (np.minimum(fx, 1 - fx) < 0.16) & (fz < 0.6)],
                         ["pouch_of_douglas", "perihepatic_peritoneum", "paracolic_gutter"], "peritoneum")
    if rule == "wall":
        z = points[:, 0]
        top = levels.get("T1", (np.inf, np.inf))[1]
        mid = levels.get("T12", (-np.inf, -np.inf))[0]
        low = levels.get("L5", (-np.inf, -np.inf))[0]
        front = points[:, 1] < 0
        return np.select([(z < top) & (z > mid) & (np.abs(x) > 40), (z <= mid) & (z > low) & front],
                         ["chest_wall", "abdominal_wall"], "")
    raise ValueError(f"unknown rule {rule!r}")


def fine_at(site_map: np.ndarray, grid, point, levels: dict) -> tuple[str, str]:
    """(fine site, side) of a version-2 site map at ``point`` (zyx mm); ("", "") where none is held."""
    value = int(site_map[grid.index_of(point)])
    side = "right" if point[2] < 0 else "left"
    for site in HELD:
        if value not in host_labels(site, side):
            continue
        rule = rule_of(site)
        if rule:
            labels = host_labels(site, side)
            f = fractions(site_map, grid, labels, frame_side(site, side), np.asarray([point], float))
            site = str(apply_rule(rule, side, f, np.asarray([point], float), levels)[0])
            if not site:
                return "", ""
        return site, side if SITE_BY_KEY[site].lateral else ""
    return "", ""


def label_name(value: int) -> str:
    label = LABEL2_BY_VALUE.get(int(value))
    return label.key if label else ""


__all__ = ["HELD", "apply_rule", "fine_at", "fractions", "frame_side", "host_labels", "rule_of"]
