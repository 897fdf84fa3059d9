"""The phantom's site-map label table: one uint8 value per organ, bone or lymph-node station.

Values are stable (saved label maps and trained models depend on them). ``SITE_TARGETS`` says in which
labels a lesion at a lexicon site (report/lexicon.py) is placed, per side; sides follow LPS (the patient's
right has negative x).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Label:
    value: int
    key: str
    name: str
    hu: float  # CT attenuation
    group: str  # "body", "lung", "airway", "vessel", "organ", "bone", "node"


_TABLE: tuple[Label, ...] = (
    Label(0, "air", "outside the body", -1000, "body"),
    Label(1, "skin", "skin", 20, "body"),
    Label(2, "fat", "subcutaneous fat", -100, "body"),
    Label(3, "muscle", "skeletal muscle", 50, "body"),
    Label(4, "visceral_fat", "intra-abdominal fat", -90, "body"),
    Label(5, "mediastinum", "mediastinal fat and soft tissue", -60, "body"),
    Label(6, "lung_rul", "right upper lobe", -860, "lung"),
    Label(7, "lung_rml", "right middle lobe", -860, "lung"),
    Label(8, "lung_rll", "right lower lobe", -840, "lung"),
    Label(9, "lung_lul", "left upper lobe", -860, "lung"),
    Label(10, "lung_lll", "left lower lobe", -840, "lung"),
    Label(11, "trachea", "trachea and larynx", -1000, "airway"),
    Label(12, "bronchus", "main bronchi", -1000, "airway"),
    Label(13, "myocardium", "myocardium", 45, "organ"),
    Label(14, "blood", "heart chambers (blood pool)", 40, "vessel"),
    Label(15, "aorta", "aorta", 40, "vessel"),
    Label(16, "vein", "great veins (SVC, IVC, jugular)", 40, "vessel"),
    Label(17, "artery", "arteries (carotid, pulmonary, iliac, femoral)", 40, "vessel"),
    Label(18, "liver", "liver", 60, "organ"),
    Label(19, "spleen", "spleen", 50, "organ"),
    Label(20, "kidney_r", "right kidney", 35, "organ"),
    Label(21, "kidney_l", "left kidney", 35, "organ"),
    Label(22, "renal_pelvis", "renal collecting systems", 10, "organ"),
    Label(23, "adrenal_r", "right adrenal gland", 30, "organ"),
    Label(24, "adrenal_l", "left adrenal gland", 30, "organ"),
    Label(25, "pancreas", "pancreas", 45, "organ"),
    Label(26, "stomach", "stomach", 25, "organ"),
    Label(27, "small_bowel", "small bowel", 25, "organ"),
    Label(28, "colon", "colon and rectum", 5, "organ"),
    Label(29, "bladder", "urinary bladder", 5, "organ"),
    Label(30, "prostate", "prostate", 40, "organ"),
    Label(31, "uterus", "uterus", 45, "organ"),
    Label(32, "esophagus", "oesophagus", 40, "organ"),
    Label(33, "brain", "brain", 35, "organ"),
    Label(34, "pituitary", "pituitary gland", 45, "organ"),
    Label(35, "parotid", "parotid glands", -20, "organ"),
    Label(36, "submandibular", "submandibular glands", 40, "organ"),
    Label(37, "thyroid", "thyroid", 90, "organ"),
    Label(38, "tonsil", "palatine tonsils", 45, "organ"),
    Label(39, "eye", "eyes", 10, "organ"),
    Label(40, "pharynx", "pharynx and oral cavity (air)", -900, "airway"),
    Label(41, "breast", "breast glandular tissue", 20, "organ"),
    Label(42, "vertebra", "vertebral bodies and posterior elements", 260, "bone"),
    Label(43, "spinal_canal", "spinal canal", 25, "organ"),
    Label(44, "rib", "ribs", 450, "bone"),
    Label(45, "sternum", "sternum", 300, "bone"),
    Label(46, "other_bone", "clavicles, scapulae, humeri, mandible", 500, "bone"),
    Label(47, "pelvic_bone", "ilium, acetabulum, pubis, ischium", 380, "bone"),
    Label(48, "sacrum", "sacrum", 320, "bone"),
    Label(49, "femur", "femora", 550, "bone"),
    Label(50, "skull", "skull", 900, "bone"),
    Label(51, "leg_bone", "tibiae and forearm bones", 600, "bone"),
    Label(60, "node_cervical_r", "right cervical nodal station", -80, "node"),
    Label(61, "node_cervical_l", "left cervical nodal station", -80, "node"),
    Label(62, "node_supraclavicular_r", "right supraclavicular station", -80, "node"),
    Label(63, "node_supraclavicular_l", "left supraclavicular station", -80, "node"),
    Label(64, "node_axillary_r", "right axillary station", -80, "node"),
    Label(65, "node_axillary_l", "left axillary station", -80, "node"),
    Label(66, "node_mediastinal", "mediastinal stations", -50, "node"),
    Label(67, "node_hilar_r", "right hilar station", 10, "node"),
    Label(68, "node_hilar_l", "left hilar station", 10, "node"),
    Label(69, "node_retroperitoneal_r", "right retroperitoneal (aortocaval) station", -70, "node"),
    Label(70, "node_retroperitoneal_l", "left para-aortic station", -70, "node"),
    Label(71, "node_mesenteric", "mesenteric root", -70, "node"),
    Label(72, "node_common_iliac_r", "right common iliac station", -70, "node"),
    Label(73, "node_common_iliac_l", "left common iliac station", -70, "node"),
    Label(74, "node_external_iliac_r", "right external iliac station", -70, "node"),
    Label(75, "node_external_iliac_l", "left external iliac station", -70, "node"),
    Label(76, "node_internal_iliac_r", "right internal iliac station", -70, "node"),
    Label(77, "node_internal_iliac_l", "left internal iliac station", -70, "node"),
    Label(78, "node_inguinal_r", "right inguinal station", -80, "node"),
    Label(79, "node_inguinal_l", "left inguinal station", -80, "node"),
)

LABELS: dict[str, Label] = {label.key: label for label in _TABLE}
LABEL_BY_VALUE: dict[int, Label] = {label.value: label for label in _TABLE}
L: dict[str, int] = {label.key: label.value for label in _TABLE}  # key -> value, for painting code

LUNG = (L["lung_rul"], L["lung_rml"], L["lung_rll"], L["lung_lul"], L["lung_lll"])
SOFT = (L["skin"], L["fat"], L["muscle"], L["visceral_fat"], L["mediastinum"])
BONE = tuple(lab.value for lab in _TABLE if lab.group == "bone")

# lexicon site key -> side ("right", "left", "") -> labels a lesion centre may sit in.
# Sites whose right and left share one label (ribs, bones, thyroid, breast) are split by the sign of x.
SITE_TARGETS: dict[str, dict[str, tuple[int, ...]]] = {
    "cervical_node": {"right": (L["node_cervical_r"],), "left": (L["node_cervical_l"],)},
    "supraclavicular_node": {"right": (L["node_supraclavicular_r"],), "left": (L["node_supraclavicular_l"],)},
    "thyroid": {"right": (L["thyroid"],), "left": (L["thyroid"],)},
    "axillary_node": {"right": (L["node_axillary_r"],), "left": (L["node_axillary_l"],)},
    "mediastinal_node": {"": (L["node_mediastinal"],)},
    "hilar_node": {"right": (L["node_hilar_r"],), "left": (L["node_hilar_l"],)},
    "lung_upper_lobe": {"right": (L["lung_rul"],), "left": (L["lung_lul"],)},
    "lung_middle_lobe": {"": (L["lung_rml"],)},
    "lung_lower_lobe": {"right": (L["lung_rll"],), "left": (L["lung_lll"],)},
    "breast": {"right": (L["breast"],), "left": (L["breast"],)},
    "liver": {"": (L["liver"],)},
    "spleen": {"": (L["spleen"],)},
    "pancreas": {"": (L["pancreas"],)},
    "adrenal": {"right": (L["adrenal_r"],), "left": (L["adrenal_l"],)},
    "kidney": {"right": (L["kidney_r"],), "left": (L["kidney_l"],)},
    "retroperitoneal_node": {"right": (L["node_retroperitoneal_r"],), "left": (L["node_retroperitoneal_l"],)},
    "mesenteric_node": {"": (L["node_mesenteric"],)},
    "common_iliac_node": {"right": (L["node_common_iliac_r"],), "left": (L["node_common_iliac_l"],)},
    "external_iliac_node": {"right": (L["node_external_iliac_r"],), "left": (L["node_external_iliac_l"],)},
    "internal_iliac_node": {"right": (L["node_internal_iliac_r"],), "left": (L["node_internal_iliac_l"],)},
    "inguinal_node": {"right": (L["node_inguinal_r"],), "left": (L["node_inguinal_l"],)},
    "prostate": {"": (L["prostate"],)},
    "vertebra": {"": (L["vertebra"],)},
    "rib": {"right": (L["rib"],), "left": (L["rib"],)},
    "iliac_bone": {"right": (L["pelvic_bone"],), "left": (L["pelvic_bone"],)},
    "sacrum": {"": (L["sacrum"],)},
    "femur": {"right": (L["femur"],), "left": (L["femur"],)},
}


def label_table() -> list[dict]:
    """The label table as plain rows (for phantom.json and the docs)."""
    return [{"value": lab.value, "key": lab.key, "name": lab.name, "group": lab.group} for lab in _TABLE]


def hu_lut() -> list[float]:
    """CT HU per label value (length 256)."""
    lut = [0.0] * 256
    for lab in _TABLE:
        lut[lab.value] = lab.hu
    return lut
