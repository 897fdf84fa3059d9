"""Anatomical lexicon shared by the report parser, the phantom generator and the lesion describer.

Two levels: a coarse region (head & neck, chest, abdomen, pelvis, bone) and a fine site ("hilar lymph
node"). A site that exists on both sides is ``lateral``; the side is a separate field of a finding, so
"right hilar node" is site ``hilar_node`` with laterality ``right``. Synonyms are lower-case phrases matched
on word boundaries by the report parser; the first one is the phrase used in drafted sentences.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Region(StrEnum):
    HEAD_NECK = "head_neck"
    CHEST = "chest"
    ABDOMEN = "abdomen"
    PELVIS = "pelvis"
    BONE = "bone"


REGION_NAMES: dict[Region, str] = {
    Region.HEAD_NECK: "head and neck",
    Region.CHEST: "chest",
    Region.ABDOMEN: "abdomen",
    Region.PELVIS: "pelvis",
    Region.BONE: "skeleton",
}


@dataclass(frozen=True)
class Site:
    key: str
    region: Region
    lateral: bool
    synonyms: tuple[str, ...]
    is_node: bool = False

    @property
    def phrase(self) -> str:
        """Phrase used when drafting a sentence about this site."""
        return self.synonyms[0]


SITES: tuple[Site, ...] = (
    # head and neck
    Site("cervical_node", Region.HEAD_NECK, True,
         ("cervical lymph node", "cervical node", "level ii node", "level iii node", "jugulodigastric node",
          "neck node", "cervical nodal"), True),
    Site("supraclavicular_node", Region.HEAD_NECK, True,
         ("supraclavicular lymph node", "supraclavicular node", "supraclavicular"), True),
    Site("thyroid", Region.HEAD_NECK, True, ("thyroid lobe", "thyroid nodule", "thyroid")),
    # chest
    Site("axillary_node", Region.CHEST, True, ("axillary lymph node", "axillary node", "axilla", "axillary"), True),
    Site("mediastinal_node", Region.CHEST, False,
         ("mediastinal lymph node", "mediastinal node", "subcarinal node", "subcarinal", "paratracheal node",
          "prevascular node", "aortopulmonary window node", "mediastinal", "mediastinum"), True),
    Site("hilar_node", Region.CHEST, True, ("hilar lymph node", "hilar node", "hilum", "hilar"), True),
    Site("lung_upper_lobe", Region.CHEST, True,
         ("upper lobe pulmonary nodule", "upper lobe nodule", "upper lobe mass", "upper lobe", "apical lung",
          "lung apex")),
    Site("lung_middle_lobe", Region.CHEST, False, ("right middle lobe nodule", "middle lobe", "lingula")),
    Site("lung_lower_lobe", Region.CHEST, True,
         ("lower lobe pulmonary nodule", "lower lobe nodule", "lower lobe mass", "lower lobe", "lung base")),
    Site("breast", Region.CHEST, True, ("breast mass", "breast")),
    # abdomen
    Site("liver", Region.ABDOMEN, False,
         ("hepatic lesion", "liver lesion", "hepatic", "liver", "segment vii", "segment viii", "hepatic dome")),
    Site("spleen", Region.ABDOMEN, False, ("splenic lesion", "splenic", "spleen")),
    Site("pancreas", Region.ABDOMEN, False, ("pancreatic lesion", "pancreatic head", "pancreatic tail", "pancreas",
                                            "pancreatic")),
    Site("adrenal", Region.ABDOMEN, True, ("adrenal nodule", "adrenal gland", "adrenal")),
    Site("kidney", Region.ABDOMEN, True, ("renal lesion", "renal mass", "kidney", "renal")),
    Site("retroperitoneal_node", Region.ABDOMEN, True,
         ("retroperitoneal lymph node", "retroperitoneal node", "para-aortic node", "paraaortic node",
          "periaortic node", "aortocaval node", "retrocaval node", "retroperitoneal", "para-aortic"), True),
    Site("mesenteric_node", Region.ABDOMEN, False, ("mesenteric lymph node", "mesenteric node", "mesenteric"), True),
    # pelvis
    Site("common_iliac_node", Region.PELVIS, True,
         ("common iliac lymph node", "common iliac node", "common iliac"), True),
    Site("external_iliac_node", Region.PELVIS, True,
         ("external iliac lymph node", "external iliac node", "external iliac"), True),
    Site("internal_iliac_node", Region.PELVIS, True,
         ("internal iliac lymph node", "internal iliac node", "obturator node", "internal iliac", "obturator"), True),
    Site("inguinal_node", Region.PELVIS, True, ("inguinal lymph node", "inguinal node", "groin node", "inguinal"), True),
    Site("prostate", Region.PELVIS, False, ("prostate gland", "prostatic", "prostate", "prostate bed")),
    # bone
    Site("vertebra", Region.BONE, False,
         ("vertebral body", "vertebral", "vertebra", "spine", "spinal", "thoracic spine", "lumbar spine")),
    Site("rib", Region.BONE, True, ("rib", "costal")),
    Site("iliac_bone", Region.BONE, True, ("iliac bone", "iliac wing", "ilium", "acetabulum", "acetabular")),
    Site("sacrum", Region.BONE, False, ("sacral", "sacrum")),
    Site("femur", Region.BONE, True, ("proximal femur", "femoral", "femur")),
)

SITE_BY_KEY: dict[str, Site] = {site.key: site for site in SITES}

# Structures whose normal uptake is used as a reference value, never a lesion ("blood pool SUVmax 1.9").
REFERENCE_PHRASES: tuple[str, ...] = (
    "blood pool", "mediastinal blood pool", "aortic blood pool", "liver background", "background liver",
    "hepatic background", "normal liver", "reference", "physiologic", "physiological",
)

TRACERS: dict[str, tuple[str, ...]] = {
    "FDG": ("fdg", "18f-fdg", "f-18 fdg", "fluorodeoxyglucose"),
    "PSMA": ("psma", "dcfpyl", "piflufolastat", "pylarify", "ga-68 psma", "psma-11", "68ga-psma"),
    "DOTATATE": ("dotatate", "ga-68 dotatate", "netspot", "dotatoc", "somatostatin"),
    "FLUCICLOVINE": ("fluciclovine", "axumin", "facbc"),
}


def site(key: str) -> Site:
    """The site with this key; KeyError names the known keys."""
    try:
        return SITE_BY_KEY[key]
    except KeyError:
        raise KeyError(f"unknown site {key!r}; known: {', '.join(SITE_BY_KEY)}") from None


def site_phrase(key: str, laterality: str = "") -> str:
    """Readable phrase with side, e.g. ("hilar_node", "right") -> "right hilar lymph node"."""
    phrase = site(key).phrase
    return f"{laterality} {phrase}" if laterality in ("left", "right") else phrase
