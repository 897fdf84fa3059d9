"""Report text for phantoms: per-lesion sentences in many real phrasings and whole structured reports.

Every sentence is tied to its lesion (or marked as a reference value, a negative, a prior ...). Numbers in
sentences are the truth measured on the simulated PET: SUVmax rounded to one decimal and the image number
of the slice holding the SUVmax voxel, so a reader (or the weak-label pipeline) checking them against the
volume finds exactly that lesion.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from ..report.lexicon import SITE_BY_KEY
from .lesions import LesionTruth
from .text2 import NEGATIVES2, SECTION_ORDER2, SECTIONS2, denied, located_phrase

_AVID = {
    "FDG": ("FDG-avid", "hypermetabolic", "FDG-avid", "FDG avid", "metabolically active"),
    "PSMA": ("PSMA-avid", "DCFPyL-avid", "radiotracer-avid", "PSMA-expressing", "PSMA avid"),
    "DOTATATE": ("DOTATATE-avid", "somatostatin receptor-avid", "radiotracer-avid", "DOTATATE avid"),
    "FLUCICLOVINE": ("fluciclovine-avid", "radiotracer-avid", "fluciclovine avid"),
}
_UPTAKE_NOUN = {"FDG": "FDG uptake", "PSMA": "PSMA uptake", "DOTATATE": "DOTATATE uptake",
                "FLUCICLOVINE": "fluciclovine uptake"}

# noun phrases per site; {side} is "right"/"left" (removed for unpaired sites), {n} the lesion noun
_SITE_NP: dict[str, tuple[str, ...]] = {
    "cervical_node": ("{side} cervical lymph node", "{side} cervical node", "{side} neck node"),
    "supraclavicular_node": ("{side} supraclavicular lymph node", "{side} supraclavicular node",
                             "lymph node in the {side} supraclavicular region"),
    "thyroid": ("{side} thyroid nodule", "{n} in the {side} thyroid lobe", "{side} thyroid lobe {n}"),
    "axillary_node": ("{side} axillary lymph node", "{side} axillary node", "lymph node in the {side} axilla"),
    "mediastinal_node": ("mediastinal lymph node", "mediastinal node", "{n} in the mediastinum"),
    "hilar_node": ("{side} hilar lymph node", "{side} hilar node", "lymph node in the {side} hilum",
                   "{side} hilar {n}"),
    "lung_upper_lobe": ("{side} upper lobe pulmonary nodule", "{side} upper lobe nodule", "{n} in the {side} upper lobe",
                        "{side} upper lobe {n}"),
    "lung_middle_lobe": ("right middle lobe nodule", "{n} in the right middle lobe", "right middle lobe {n}"),
    "lung_lower_lobe": ("{side} lower lobe pulmonary nodule", "{side} lower lobe nodule", "{n} in the {side} lower lobe",
                        "{side} lower lobe {n}"),
    "breast": ("{side} breast mass", "{n} in the {side} breast", "{side} breast {n}"),
    "liver": ("hepatic {n}", "liver {n}", "{n} in the liver"),
    "spleen": ("splenic {n}", "{n} in the spleen"),
    "pancreas": ("pancreatic {n}", "{n} in the pancreas"),
    "adrenal": ("{side} adrenal nodule", "{side} adrenal {n}", "{n} in the {side} adrenal gland"),
    "kidney": ("{side} renal {n}", "{n} in the {side} kidney", "{side} renal mass"),
    "retroperitoneal_node": ("{side} retroperitoneal lymph node", "{side} para-aortic node",
                             "{side} retroperitoneal node", "{side} periaortic node"),
    "mesenteric_node": ("mesenteric lymph node", "mesenteric node", "{n} in the mesenteric root"),
    "common_iliac_node": ("{side} common iliac lymph node", "{side} common iliac node"),
    "external_iliac_node": ("{side} external iliac lymph node", "{side} external iliac node"),
    "internal_iliac_node": ("{side} internal iliac lymph node", "{side} internal iliac node", "{side} obturator node"),
    "inguinal_node": ("{side} inguinal lymph node", "{side} inguinal node", "{side} groin node"),
    "prostate": ("{n} in the prostate gland", "prostatic {n}", "{n} in the prostate", "prostate {n}"),
    "vertebra": ("{n} in the {level} vertebral body", "{level} vertebral {n}", "osseous {n} in the {level} vertebra",
                 "{n} in the spine at {level}"),
    "rib": ("{side} rib {n}", "{n} in the {side} rib"),
    "iliac_bone": ("{side} iliac bone {n}", "{n} in the {side} ilium", "{side} pelvic bone {n}"),
    "sacrum": ("sacral {n}", "{n} in the sacrum"),
    "femur": ("{side} proximal femur {n}", "{n} in the {side} femur", "{side} femoral {n}"),
}
# noun phrases that also say where in its site the lesion sits ({sub}: LesionTruth.subsite, see
# phantom.subsites); a sub-site key not listed here uses the site's "*" entry
_LOCATED_NP: dict[str, dict[str, tuple[str, ...]]] = {
    "liver": {"*": ("{n} in hepatic segment {sub}", "segment {sub} hepatic {n}", "{n} in segment {sub} of the liver")},
    "kidney": {"*": ("{n} in the {sub} of the {side} kidney", "{side} renal {n} in the {sub}")},
    "lung_upper_lobe": {"*": ("{n} in the {sub} of the {side} upper lobe", "{side} upper lobe {sub} {n}")},
    "lung_lower_lobe": {"*": ("{n} in the {sub} of the {side} lower lobe", "{side} lower lobe {sub} {n}")},
    "mediastinal_node": {"*": ("{sub} lymph node", "{sub} node", "mediastinal node in the {sub} station")},
    "cervical_node": {"*": ("{side} level {sub} cervical node", "{side} level {sub} node",
                            "{side} cervical lymph node at level {sub}")},
    "retroperitoneal_node": {"*": ("{side} para-aortic node at the level of {sub}",
                                   "{side} retroperitoneal lymph node at {sub}",
                                   "{side} retroperitoneal node at the {sub} level")},
    "iliac_bone": {"iliac wing": ("{n} in the {side} iliac wing", "{side} iliac wing {n}"),
                   "supra-acetabular": ("{side} supra-acetabular {n}", "{n} in the {side} supra-acetabular ilium"),
                   "acetabular": ("{side} acetabular {n}", "{n} in the {side} acetabulum")},
    "pancreas": {"*": ("{n} in the pancreatic {sub}", "pancreatic {sub} {n}")},
    "rib": {"*": ("{n} in the {side} {ordinal} rib", "{side} {ordinal} rib {n}")},
}
LOCATED_SHARE = 0.5  # how often a lesion without a same-site sibling is described with its sub-site
_NODE_NOUNS = ("lymph node", "node")
_ORGAN_NOUNS = ("lesion", "focus", "lesion", "metastasis", "focal lesion")
_BONE_NOUNS = ("lesion", "focus", "osseous lesion", "metastasis")


@dataclass
class SentenceTruth:
    """One sentence of a phantom report and what it refers to."""

    text: str
    lesion_id: int | None
    kind: str  # numbers | no_numbers | prior | reference | negative | physiologic | impression | multi | other
    start: int = 0  # offset in the report
    section: str = ""
    suvmax: float | None = None  # current SUVmax stated
    image_number: int | None = None
    series: int | None = None
    prior_suvmax: float | None = None
    lesion_ids: list[int] = field(default_factory=list)  # every lesion the sentence mentions

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, row: dict) -> SentenceTruth:
        return cls(**{k: v for k, v in row.items() if k in cls.__dataclass_fields__})


def _pick(rng: np.random.Generator, options) -> str:
    return str(options[int(rng.integers(len(options)))])


def _intensity(suv: float, low: bool, rng: np.random.Generator) -> str:
    if low or suv < 3.5:
        return _pick(rng, ("mildly", "minimally", "faintly", "mildly", "low-grade"))
    if suv < 7:
        return _pick(rng, ("moderately", "moderately", "mild to moderately"))
    if suv < 12:
        return _pick(rng, ("intensely", "markedly", "moderately to intensely"))
    return _pick(rng, ("intensely", "markedly", "very intensely"))


_ADJECTIVE = {"mildly": "mild", "minimally": "minimal", "faintly": "faint", "low-grade": "low-grade",
              "moderately": "moderate", "mild to moderately": "mild to moderate", "intensely": "intense",
              "markedly": "marked", "moderately to intensely": "moderate to intense", "very intensely": "very intense"}


def _cap(text: str) -> str:
    """Upper-case the first letter only ("FDG-avid" stays "FDG-avid")."""
    return text[:1].upper() + text[1:]


def _a(word: str) -> str:
    """Indefinite article for the word that follows."""
    w = word.lower()
    if w[:1].isdigit():
        return "an" if w.startswith("8") or w.split(".")[0].split(" ")[0] in ("11", "18") else "a"
    if len(w) > 1 and w[0] in "fhlmnrsx" and w[1].isdigit():  # "an L5 ...", "an S1 ..."
        return "an"
    return "an" if w[:1] in "aeiou" else "a"


def _noun(lesion: LesionTruth, rng: np.random.Generator) -> str:
    if SITE_BY_KEY[lesion.site].is_node:
        return _pick(rng, ("conglomerate", "mass") if lesion.diameter_mm > 35 else ("lymph node", "node"))
    if lesion.region == "bone":
        noun = _pick(rng, _BONE_NOUNS)
        if rng.random() < 0.3:
            noun = ("lytic " if lesion.lytic else "sclerotic ") + "lesion"
        return noun
    if lesion.site.startswith("lung"):
        return _pick(rng, ("nodule", "nodule", "mass") if lesion.diameter_mm > 30 else ("nodule", "nodule", "lesion"))
    return _pick(rng, ("mass",) + _ORGAN_NOUNS if lesion.diameter_mm > 35 else _ORGAN_NOUNS)


_ORDINALS = {f"T{i}": word for i, word in enumerate(
    ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth", "eleventh",
     "twelfth"), start=1)}


def site_noun_phrase(lesion: LesionTruth, rng: np.random.Generator, located: bool | None = None,
                     version: int = 1) -> str:
    """'left external iliac node', 'lesion in hepatic segment VII' ... (site, side and, with ``located``, the
    sub-site in words).

    ``located=None`` states the sub-site always when another lesion shares the site and side (the words are
    what tells them apart) and otherwise for about half of the sentences.
    """
    if version >= 2 or lesion.site not in _SITE_NP:  # the whole vocabulary's words (version-2 phantoms)
        return located_phrase(lesion.site, lesion.laterality, _noun(lesion, rng), rng)
    options = _located_options(lesion)
    if options and located is None:
        located = lesion.same_site > 0 or rng.random() < LOCATED_SHARE
    template = _pick(rng, options if options and located else _SITE_NP[lesion.site])
    ordinal = _ORDINALS.get(lesion.level, "")
    text = template.format(side=lesion.laterality, n=_noun(lesion, rng), level=lesion.level or "lumbar",
                           ordinal=ordinal, sub=lesion.subsite)
    return " ".join(text.split())


def _located_options(lesion: LesionTruth) -> tuple[str, ...]:
    by_key = _LOCATED_NP.get(lesion.site)
    if not by_key or not lesion.subsite or (lesion.site == "rib" and lesion.level not in _ORDINALS):
        return ()
    return by_key.get(lesion.subsite, by_key.get("*", ()))


def _with_qualifier(text: str, lesion: LesionTruth) -> str:
    """Append "the more cranial of two" (when the lesion shares site, side and sub-site with another)."""
    if not lesion.qualifier or not text.endswith("."):
        return text
    return f"{text[:-1]}, {lesion.qualifier}."


def _size(lesion: LesionTruth, rng: np.random.Generator) -> str:
    d = lesion.diameter_mm
    if rng.random() < 0.5:
        return f"{d / 10:.1f} cm"
    if rng.random() < 0.5:
        return f"{d:.0f} mm"
    r = np.asarray(lesion.radii_mm) * 2
    return f"{max(r[1], r[2]) / 10:.1f} x {min(r[1], r[2]) / 10:.1f} cm"


def _suv_phrase(v: str, rng: np.random.Generator) -> str:
    return _pick(rng, (f"SUV max {v}", f"SUVmax {v}", f"SUVmax of {v}", f"max SUV of {v}", f"SUV max of {v}",
                       f"an SUV Max of {v}", f"SUVmax = {v}", f"maximum SUV {v}", f"SUVmax: {v}"))


def _image_phrase(n: int, series: int, rng: np.random.Generator) -> tuple[str, bool]:
    """Image reference; the bool says whether it names the series."""
    options = [(f"PET/CT axial slice {n}", False), (f"(Slice {n} Series {series})", True), (f"(axial slice {n})", False),
               (f"(image {n})", False), (f"(series {series}, image {n})", True), (f"image {n}", False),
               (f"slice {n}", False), (f"(series {series} image {n})", True), (f"on image {n}", False),
               (f"axial image {n}", False), (f"(image {n} of series {series})", True)]
    return options[int(rng.integers(len(options)))]


def _prior_phrase(prior: str, rng: np.random.Generator) -> str:
    return _pick(rng, (f"compared {prior} previously", f"(previously {prior})", f"previously {prior}",
                       f"compared to {prior} on the prior study", f"previously SUVmax {prior}"))


def lesion_sentence(lesion: LesionTruth, rng: np.random.Generator, with_numbers: bool, tracer: str = "FDG",
                    prior_suvmax: float | None = None, series: int = 2, version: int = 1) -> str:
    """One sentence describing ``lesion`` in a random real-world phrasing.

    With numbers, it states the lesion's measured SUVmax (1 decimal) and the image number of its SUVmax slice;
    with ``prior_suvmax`` it also states a previous value. Used for reports and for training on phrasings.
    ``version=2`` names the site in the whole vocabulary's words (as version-2 phantom reports do).
    """
    return _lesion_sentence(lesion, rng, with_numbers, tracer, prior_suvmax, series, version)[0]


def _lesion_sentence(lesion: LesionTruth, rng: np.random.Generator, with_numbers: bool, tracer: str,
                     prior_suvmax: float | None, series: int, version: int = 1) -> tuple[str, bool]:
    tracer = tracer.upper() if tracer.upper() in _AVID else "FDG"
    avid = _pick(rng, _AVID[tracer])
    inten = _intensity(lesion.suvmax, lesion.kind == "low_uptake", rng)
    np_ = site_noun_phrase(lesion, rng, version=version)
    v = f"{lesion.suvmax:.1f}"
    n = lesion.image_number
    with_size = rng.random() < 0.5
    size = _size(lesion, rng)
    if not with_numbers:
        templates = [
            f"{_cap(inten)} {avid} {np_}.",
            f"There is {_a(inten)} {inten} {avid} {np_}" + (f" measuring {size}." if with_size else "."),
            f"{np_[0].upper() + np_[1:]} with {_ADJECTIVE[inten]} {_UPTAKE_NOUN[tracer]}.",
            f"{_cap(_a(size))} {size} {np_} demonstrates {inten} increased uptake.",
            f"{_cap(inten)} increased {_UPTAKE_NOUN[tracer]} in {_a(np_)} {np_}, concerning for metastatic disease.",
            f"Redemonstrated {avid} {np_}" + (f", {size}." if with_size else "."),
        ]
        return _with_qualifier(_pick(rng, templates), lesion), False
    suv = _suv_phrase(v, rng)
    img, named_series = _image_phrase(n, series, rng)
    prior = _prior_phrase(f"{prior_suvmax:.1f}", rng) if prior_suvmax is not None else ""
    prior_part = f" {prior}" if prior else ""
    templates = [
        f"{_cap(inten)} {avid} {np_} with {suv}{prior_part}, {img}.",
        f"{np_[0].upper() + np_[1:]} with {suv}{prior_part} {img}.",
        f"There is {_a(inten)} {inten} {avid} {np_}" + (f" measuring {size}" if with_size else "")
        + f", {suv}{prior_part}, {img}.",
        f"{_cap(avid)} {np_} ({img.strip('()')}), {suv}{prior_part}.",
        f"{_cap(_a(size))} {size} {np_} demonstrates {_pick(rng, ('uptake', 'increased uptake', 'avid uptake'))} with {suv}"
        f"{prior_part} {img}.",
        f"{_cap(inten)} increased {_UPTAKE_NOUN[tracer]} in {_a(np_)} {np_}, {suv}{prior_part} {img}.",
        f"{np_[0].upper() + np_[1:]} ({img.strip('()')} {suv}){prior_part}.",
    ]
    if prior_suvmax is not None:
        templates.append(f"{np_[0].upper() + np_[1:]} with SUV Max of {v} today (previously {prior_suvmax:.1f}), "
                         f"{img.strip('()')}.")
    text = _pick(rng, templates)
    text = _with_qualifier(text.replace(" ,", ",").replace("  ", " ").replace(", (", " ("), lesion)
    return text, named_series and f"{series}" in text



_SECTIONS = {"head_neck": ("Neck:", "HEAD AND NECK:", "Head/Neck:"), "chest": ("Chest:", "THORAX:", "CHEST:"),
             "abdomen": ("Abdomen/Pelvis:", "ABDOMEN AND PELVIS:", "Abdomen and pelvis:"),
             "pelvis": ("Abdomen/Pelvis:", "ABDOMEN AND PELVIS:", "Abdomen and pelvis:"),
             "bone": ("Musculoskeletal:", "BONES:", "Skeleton:")}
_SECTION_ORDER = ("head_neck", "chest", "abdomen", "bone")
# negative sentences and the sites they deny (left out when a lesion sits there)
_NEGATIVES = {
    "head_neck": (("No {avid} cervical lymphadenopathy.", {"cervical_node", "supraclavicular_node"}),
                  ("No {avid} supraclavicular lymph nodes.", {"supraclavicular_node"}),
                  ("Physiologic uptake in the salivary glands and tonsils.", set())),
    "chest": (("No {avid} pulmonary nodules.", {"lung_upper_lobe", "lung_middle_lobe", "lung_lower_lobe"}),
              ("No {avid} mediastinal or hilar lymphadenopathy.", {"mediastinal_node", "hilar_node"}),
              ("No {avid} axillary lymph nodes.", {"axillary_node"}),
              ("Physiologic myocardial uptake.", set())),
    "abdomen": (("No focal {avid} hepatic lesions.", {"liver"}),
                ("No {avid} abdominal or pelvic lymphadenopathy.",
                 {"retroperitoneal_node", "mesenteric_node", "common_iliac_node", "external_iliac_node",
                  "internal_iliac_node", "inguinal_node"}),
                ("The spleen, pancreas and adrenal glands are unremarkable.", {"spleen", "pancreas", "adrenal"}),
                ("Physiologic uptake in the bowel and urinary tract.", set())),
    "bone": (("No suspicious osseous lesions.", {"vertebra", "rib", "iliac_bone", "sacrum", "femur"}),
             ("No {avid} osseous lesions.", {"vertebra", "rib", "iliac_bone", "sacrum", "femur"})),
}
_EXTENT = {"neck_to_thighs": ("skull base to mid-thigh", "skull base to mid thighs", "vertex to mid-thigh"),
           "whole_body": ("vertex to toes", "whole body", "skull vertex to feet")}


def _section_of(lesion: LesionTruth) -> str:
    return "abdomen" if lesion.region == "pelvis" else lesion.region


def build_report(lesions: list[LesionTruth], rng: np.random.Generator, tracer: str = "FDG",
                 reference: dict | None = None, extent: str = "neck_to_thighs",
                 weight_kg: float = 75.0, acquisition: dict | None = None,
                 version: int = 1) -> tuple[str, list[SentenceTruth]]:
    """Whole structured report (header, findings by section, impression) and the truth of each sentence.

    ``version=2`` (phantoms of the whole vocabulary) adds the brain and soft-tissue sections and chooses the
    negative sentences by what they say rather than by the first lexicon's sites."""
    tracer = tracer.upper() if tracer.upper() in _AVID else "FDG"
    avid = _AVID[tracer][0]
    series = int(rng.choice([2, 2, 3, 4, 5]))
    has_prior = rng.random() < 0.5
    parts: list[tuple[str, list[SentenceTruth]]] = []
    agent = {"FDG": "F-18 FDG", "PSMA": "F-18 DCFPyL", "DOTATATE": "Ga-68 DOTATATE",
             "FLUCICLOVINE": "F-18 fluciclovine"}[tracer]
    head = [SentenceTruth(f"{tracer} PET/CT {_pick(rng, _EXTENT.get(extent, _EXTENT['neck_to_thighs']))}.", None,
                          "other")]
    acq = acquisition or {"dose_mbq": 370.0, "uptake_min": 60, "glucose_mg_dl": 95}
    dose = _pick(rng, (f"{acq['dose_mbq'] / 37.0:.1f} mCi", f"{acq['dose_mbq']:.0f} MBq"))
    tech = [SentenceTruth(f"{dose} of {agent} was administered intravenously.", None, "other"),
            SentenceTruth(f"Imaging began approximately {acq['uptake_min']} minutes after injection.", None,
                          "other")]
    if tracer == "FDG":
        tech.append(SentenceTruth(f"Blood glucose was {acq['glucose_mg_dl']} mg/dL.", None, "other"))
    tech.append(SentenceTruth(f"Patient weight {weight_kg:.0f} kg.", None, "other"))
    parts.append(("EXAMINATION:", head))
    parts.append(("TECHNIQUE:", tech))
    comp = "Prior PET/CT." if has_prior else "None."
    parts.append(("COMPARISON:", [SentenceTruth(comp, None, "other")]))
    findings: list[tuple[str, list[SentenceTruth]]] = []
    if reference:
        findings.append(("", _reference_sentences(reference, rng)))
    twins_done: set[int] = set()
    for sec in SECTION_ORDER2 if version >= 2 else _SECTION_ORDER:
        here = [les for les in lesions if _section_of(les) == sec]
        sents: list[SentenceTruth] = []
        for les in here:
            if les.group is not None and les.kind == "twin" and les.group not in twins_done and rng.random() < 0.15:
                pair = [o for o in here if o.group == les.group]
                if len(pair) == 2:
                    twins_done.add(les.group)
                    sents.append(_respectively(pair, rng, avid, series))
            if les.group in twins_done and les.kind == "twin":
                continue
            with_numbers = rng.random() < 0.8
            prior = None
            if with_numbers and has_prior and rng.random() < 0.35:
                prior = round(les.suvmax * float(rng.choice([rng.uniform(0.35, 0.85), rng.uniform(1.15, 1.8)])), 1)
            text, named = _lesion_sentence(les, rng, with_numbers, tracer, prior, series, version)
            kind = "prior" if prior is not None else ("numbers" if with_numbers else "no_numbers")
            sents.append(SentenceTruth(text, les.id, kind, suvmax=round(les.suvmax, 1) if with_numbers else None,
                                       image_number=les.image_number if with_numbers else None,
                                       series=series if named else None, prior_suvmax=prior, lesion_ids=[les.id]))
        sites_here = {les.site for les in lesions}
        for template, denies in (*_NEGATIVES.get(sec, ()), *NEGATIVES2.get(sec, ())) if version >= 2 else _NEGATIVES[sec]:
            deny = denied(template, lesions) if version >= 2 else bool(denies & sites_here)
            if not deny and rng.random() < 0.6:
                kind = "negative" if template.startswith("No") or "unremarkable" in template else "physiologic"
                sents.append(SentenceTruth(template.format(avid=avid), None, kind))
        if sents:
            findings.append((_pick(rng, {**_SECTIONS, **SECTIONS2}[sec]), sents))
    impression: list[SentenceTruth] = []
    for les in sorted(lesions, key=lambda x: -x.suvmax)[: int(rng.integers(1, 4))]:
        np_ = site_noun_phrase(les, rng, version=version)
        tail = _pick(rng, ("consistent with metastatic disease", "suspicious for malignancy",
                           "concerning for nodal metastasis" if les.site.endswith("_node") else "compatible with metastasis",
                           "likely representing active disease"))
        txt = _with_qualifier(f"{_cap(_intensity(les.suvmax, les.kind == 'low_uptake', rng))} {avid} {np_}, {tail}.",
                              les)
        impression.append(SentenceTruth(txt, les.id, "impression", lesion_ids=[les.id]))
    if not lesions:
        impression.append(SentenceTruth(f"No {avid} disease.", None, "negative"))
    return _assemble(parts, findings, impression)


def _reference_sentences(ref: dict, rng: np.random.Generator) -> list[SentenceTruth]:
    b = f"{ref['blood_pool']:.1f}"
    li = f"{ref['liver']:.1f}"
    options = [f"Reference: mediastinal blood pool SUVmax {b}, liver SUVmax {li}.",
               f"Mediastinal blood pool SUVmax {b}. Background liver SUVmax {li}.",
               f"Normal liver with an SUV Max of {li} and blood pool activity with an SUV Max of {b}.",
               f"Reference liver SUVmax {li}; mediastinal blood pool SUVmax {b}."]
    text = _pick(rng, options)
    return [SentenceTruth(t.strip() + ("" if t.strip().endswith(".") else "."), None, "reference")
            for t in ([text] if ". " not in text else [text.split(". ")[0] + ".", text.split(". ")[1]])]


# the first lexicon's phrases where the vocabulary's differ (version-1 reports read as they always did)
_FIRST_PHRASES = {"iliac_bone": "iliac bone", "femur": "proximal femur"}


def _respectively(pair: list[LesionTruth], rng: np.random.Generator, avid: str, series: int) -> SentenceTruth:
    a, b = sorted(pair, key=lambda x: x.laterality != "right")
    noun = _FIRST_PHRASES.get(a.site, SITE_BY_KEY[a.site].phrase)
    text = (f"Bilateral {avid} {noun}s, right and left, with SUV max of {a.suvmax:.1f} and {b.suvmax:.1f} "
            f"respectively (series {series} slice {a.image_number} and {b.image_number} respectively).")
    return SentenceTruth(text, None, "multi", lesion_ids=[a.id, b.id])


def _assemble(parts, findings, impression) -> tuple[str, list[SentenceTruth]]:
    out = ""
    sentences: list[SentenceTruth] = []

    def block(header: str, sents: list[SentenceTruth], numbered: bool) -> None:
        nonlocal out
        if header:
            out += header + " "
        for i, s in enumerate(sents):
            if i:
                out += "\n" if numbered else " "
            if numbered:
                out += f"{i + 1}. "
            s.start = len(out)
            s.section = s.section or header.rstrip(":")
            out += s.text
            sentences.append(s)
        out += "\n"

    for header, sents in parts:
        block(header, sents, False)
    out += "\nFINDINGS:\n"
    for header, sents in findings:
        block(header, sents, False)
    out += "\nIMPRESSION:\n"
    block("", impression, True)
    return out, sentences


__all__ = ["SentenceTruth", "build_report", "lesion_sentence", "site_noun_phrase"]
