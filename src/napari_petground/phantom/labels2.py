"""Site-map labels of the version-2 generator: the first table plus the structures the whole vocabulary needs.

Values 80 and up; the first table (phantom.labels, values 0-79) is unchanged, so a version-1 site map means
what it always meant. A version-2 map no longer uses the generic labels that version 2 splits (vertebra,
rib, pelvic bone, other bone, leg bone, brain, colon, stomach, oesophagus, small bowel): every vertebral
level, rib, brain lobe, colon segment ... has its own value, so a lesion's fine site is the label it sits
in wherever the anatomy draws the part. ``SOURCE`` says which first-table label a new one takes its CT
value and normal uptake from ("vertebra_t10" looks and takes up tracer like "vertebra").
"""

from __future__ import annotations

from .labels import _TABLE, Label

_ROWS: list[tuple[str, str, float, str, str]] = [  # key, name, HU, group, source label ("" = its own uptake)
    ("node_internal_mammary_r", "right internal mammary station", -80, "node", ""),
    ("node_internal_mammary_l", "left internal mammary station", -80, "node", ""),
    ("node_obturator_r", "right obturator station", -70, "node", ""),
    ("node_obturator_l", "left obturator station", -70, "node", ""),
    ("node_popliteal_r", "right popliteal station", -80, "node", ""),
    ("node_popliteal_l", "left popliteal station", -80, "node", ""),
    ("node_epitrochlear_r", "right epitrochlear station", -80, "node", ""),
    ("node_epitrochlear_l", "left epitrochlear station", -80, "node", ""),
    ("node_porta_hepatis", "porta hepatis station", -70, "node", ""),
    ("node_celiac", "coeliac station", -70, "node", ""),
    ("node_retrocrural", "retrocrural station", -70, "node", ""),
    ("node_presacral", "presacral station", -70, "node", ""),
    ("node_retropharyngeal_r", "right retropharyngeal station", -60, "node", ""),
    ("node_retropharyngeal_l", "left retropharyngeal station", -60, "node", ""),
    ("node_cardiophrenic_r", "right cardiophrenic station", -80, "node", ""),
    ("node_cardiophrenic_l", "left cardiophrenic station", -80, "node", ""),
    ("node_gastrohepatic", "gastrohepatic ligament station", -70, "node", ""),
    ("node_peripancreatic", "peripancreatic station", -70, "node", ""),
    ("node_mesorectal", "mesorectal station", -70, "node", ""),
    ("gallbladder", "gallbladder", 10, "organ", ""),
    ("ovary_r", "right ovary", 30, "organ", ""),
    ("ovary_l", "left ovary", 30, "organ", "ovary_r"),
    ("testis_r", "right testis", 35, "organ", ""),
    ("testis_l", "left testis", 35, "organ", "testis_r"),
    ("bladder_wall", "urinary bladder wall", 40, "organ", ""),
    ("seminal_vesicle", "seminal vesicles", 35, "organ", ""),
    ("anal_canal", "anal canal", 40, "organ", "colon"),
    ("pleura", "pleura (parietal and visceral, with the pleural space)", 30, "lining", ""),
    ("peritoneum", "peritoneal lining and recesses", -40, "lining", ""),
    ("omentum", "greater omentum", -80, "lining", ""),
    ("duodenum", "duodenum", 30, "organ", "small_bowel"),
    ("pericardium", "pericardium", 30, "lining", ""),
    ("nasopharynx", "nasopharyngeal mucosa and lymphoid tissue", 45, "organ", ""),
    ("larynx", "larynx (soft tissue around the airway)", 45, "organ", ""),
    ("psoas", "psoas muscles", 50, "body", "muscle"),
    ("paraspinal", "paraspinal muscles", 50, "body", "muscle"),
    ("gluteal", "gluteal muscles", 50, "body", "muscle"),
    ("pectoralis", "pectoralis muscles", 50, "body", "muscle"),
    ("clavicle", "clavicles", 500, "bone", "other_bone"),
    ("scapula", "scapulae", 450, "bone", "other_bone"),
    ("humerus_proximal", "proximal humeri", 500, "bone", "other_bone"),
    ("humerus_shaft", "humeral shafts", 600, "bone", "other_bone"),
    ("humerus_distal", "distal humeri", 550, "bone", "other_bone"),
    ("radius", "radii", 600, "bone", "leg_bone"),
    ("ulna", "ulnae", 600, "bone", "leg_bone"),
    ("hand_bones", "hand bones", 500, "bone", "leg_bone"),
    ("mandible", "mandible", 700, "bone", "other_bone"),
    ("tibia", "tibiae", 600, "bone", "leg_bone"),
    ("fibula", "fibulae", 600, "bone", "leg_bone"),
    ("foot_bones", "foot bones", 500, "bone", "leg_bone"),
    ("ilium", "ilia", 380, "bone", "pelvic_bone"),
    ("acetabulum", "acetabula", 420, "bone", "pelvic_bone"),
    ("pubis", "pubic bones", 380, "bone", "pelvic_bone"),
    ("ischium", "ischia", 380, "bone", "pelvic_bone"),
    ("femur_proximal", "proximal femora", 550, "bone", "femur"),
    ("femur_shaft", "femoral shafts", 650, "bone", "femur"),
    ("femur_distal", "distal femora", 550, "bone", "femur"),
    ("skull_base", "skull base", 800, "bone", "skull"),
    ("coccyx", "coccyx", 320, "bone", "sacrum"),
]
_ROWS += [(f"vertebra_{p.lower()}{i}", f"{p}{i} vertebra", 260, "bone", "vertebra")
          for p, n in (("C", 7), ("T", 12), ("L", 5)) for i in range(1, n + 1)]
_ROWS += [(f"sacrum_s{i}", f"S{i} sacral segment", 320, "bone", "sacrum") for i in range(1, 6)]
_ROWS += [(f"rib_{i}", f"rib {i} (both sides)", 450, "bone", "rib") for i in range(1, 13)]
_ROWS += [(f"brain_{k}", f"brain: {k.replace('_', ' ')}", 35, "organ", "brain") for k in (
    "frontal", "parietal", "temporal", "occipital", "cerebellum", "basal_ganglia", "brainstem")]
_ROWS += [(f"colon_{k}", f"colon: {k.replace('_', ' ')}", 5, "organ", "colon") for k in (
    "cecum", "ascending", "hepatic_flexure", "transverse", "splenic_flexure", "descending", "sigmoid", "rectum")]
_ROWS += [(f"stomach_{k}", f"stomach: {k}", 25, "organ", "stomach") for k in (
    "cardia", "fundus", "body", "antrum", "pylorus")]
_ROWS += [(f"esophagus_{k}", f"oesophagus: {k}", 40, "organ", "esophagus") for k in (
    "cervical", "upper", "mid", "distal", "gej")]
_ROWS += [(f"bowel_{k}", f"small bowel: {k.replace('_', ' ')}", 25, "organ", "small_bowel") for k in (
    "jejunum", "ileum", "terminal_ileum")]
_ROWS += [(f"limb_{k}", f"limb soft tissue: {k.replace('_', ' ')}", 50, "body", "muscle") for k in (
    "upper_arm_anterior", "upper_arm_posterior", "forearm", "hand", "thigh_anterior", "thigh_medial",
    "thigh_posterior", "leg_anterior", "leg_lateral", "leg_posterior", "foot")]

TABLE2: tuple[Label, ...] = tuple(Label(80 + i, key, name, hu, group) for i, (key, name, hu, group, _) in enumerate(_ROWS))
SOURCE: dict[str, str] = {key: src for key, _, _, _, src in _ROWS if src}
L2: dict[str, int] = {label.key: label.value for label in (*_TABLE, *TABLE2)}  # every key of version 2
LABEL2_BY_VALUE: dict[int, Label] = {label.value: label for label in (*_TABLE, *TABLE2)}
if max(L2.values()) > 255:
    raise RuntimeError("the version-2 label table does not fit uint8")

# first-table labels a version-2 map does not use any more (split into the parts above)
SPLIT = ("vertebra", "rib", "pelvic_bone", "other_bone", "leg_bone", "brain", "colon", "stomach", "esophagus")


def label_table2() -> list[dict]:
    """The version-2 label table as plain rows (for phantom.json and the docs)."""
    return [{"value": lab.value, "key": lab.key, "name": lab.name, "group": lab.group}
            for lab in (*_TABLE, *TABLE2)]


def hu_lut2() -> list[float]:
    """CT HU per label value of version 2 (length 256)."""
    lut = [0.0] * 256
    for lab in (*_TABLE, *TABLE2):
        lut[lab.value] = lab.hu
    return lut


__all__ = ["L2", "LABEL2_BY_VALUE", "SOURCE", "SPLIT", "TABLE2", "hu_lut2", "label_table2"]
