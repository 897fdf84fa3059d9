"""Anatomical lexicon shared by the report parser, the phantom generator and the lesion describer.

The vocabulary is data (``vocabulary.json`` beside this module), three levels deep: a region (head and neck,
chest, abdomen, pelvis, skeleton, brain, skin/muscle/limbs) -> a site, the coarse level (an organ, a bone, a
structure or a nodal station: "liver", "hilar lymph node") -> a sub-site, the fine level ("hepatic segment
VII", "T10 vertebral body", "subcarinal lymph node"). A finding's ``site`` holds the key of a site or of a
sub-site: the most specific one its sentence names. A site marked ``group`` only gathers its sub-sites
("vertebra": every level); any other site is a fine answer of its own as well as the coarse level of its
sub-sites ("internal iliac lymph node", with the obturator node inside it).

A site that exists on both sides is ``lateral``; the side is a separate field of a finding, so "right hilar
node" is site ``hilar_node`` with laterality ``right``. Synonyms are lower-case phrases matched on word
boundaries by the report parser; the first one is the phrase used in drafted sentences. Keys of the first,
27-site lexicon are all still keys (some are now sites with sub-sites), so stored findings, datasets and
describe heads keep loading.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources


class Region(StrEnum):
    HEAD_NECK = "head_neck"
    CHEST = "chest"
    ABDOMEN = "abdomen"
    PELVIS = "pelvis"
    BONE = "bone"
    BRAIN = "brain"
    SOFT_TISSUE = "soft_tissue"


@dataclass(frozen=True)
class Site:
    key: str
    region: Region
    lateral: bool
    synonyms: tuple[str, ...]
    is_node: bool = False
    parent: str = ""  # the coarse site this sub-site belongs to ("" for a site of the coarse level)
    group: bool = False  # only a grouping of its sub-sites, never a fine answer itself
    qualifiers: tuple[str, ...] = ()  # words naming this sub-site only next to its parent ("apical segment")
    weak: tuple[str, ...] = ()  # words naming it alone, yielding to any other site word ("T10")
    sided: tuple[tuple[str, str], ...] = ()  # (word, side) of words that also state the side ("rul", "4r")
    sex: str = ""  # "M" or "F" (DICOM PatientSex letters) for a site only that sex has: prostate, uterus ...

    @property
    def phrase(self) -> str:
        """Phrase used when drafting a sentence about this site."""
        return self.synonyms[0]

    @property
    def coarse(self) -> str:
        """Key of the coarse site: the parent of a sub-site, else the site itself."""
        return self.parent or self.key

    @property
    def fine(self) -> bool:
        """A fine answer of its own (a describe target), i.e. not a mere grouping."""
        return not self.group


def _read(data: dict) -> tuple[tuple[Site, ...], dict[Region, str]]:
    """Sites of a vocabulary document, parents before their sub-sites; ValueError names what is wrong."""
    regions = {Region(k): str(v) for k, v in data["regions"].items()}
    out: list[Site] = []

    def add(node: dict, parent: Site | None) -> None:
        region = Region(node.get("region", parent.region if parent else ""))
        lateral = bool(node.get("lateral", parent.lateral if parent else False))
        site = Site(
            key=str(node["key"]), region=region, lateral=lateral,
            synonyms=tuple(str(w) for w in node["words"]),
            is_node=bool(node.get("node", parent.is_node if parent else False)),
            parent=parent.key if parent else "", group=bool(node.get("group", False)),
            qualifiers=tuple(str(w).lower() for w in node.get("qualifiers", ())),
            weak=tuple(str(w) for w in node.get("weak", ())),
            sided=tuple((str(w).lower(), str(s)) for w, s in node.get("sided", {}).items()),
            sex=str(node.get("sex", parent.sex if parent else "")),
        )
        if site.sex not in ("", "M", "F"):
            raise ValueError(f"site {site.key!r}: sex must be 'M' or 'F', not {site.sex!r}")
        if not site.synonyms:
            raise ValueError(f"site {site.key!r} has no words")
        out.append(site)
        for child in node.get("fine", ()):
            if parent is not None:
                raise ValueError(f"sub-site {child.get('key')!r}: the vocabulary is region -> site -> sub-site")
            add(child, site)

    for node in data["sites"]:
        add(node, None)
    keys = [s.key for s in out]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate site keys: {sorted({k for k in keys if keys.count(k) > 1})}")
    owner: dict[str, str] = {}
    for s in out:
        for word in (*s.synonyms, *s.weak, *(w for w, _ in s.sided)):
            low = word.lower()
            if owner.setdefault(low, s.key) != s.key:
                raise ValueError(f"the word {word!r} names both {owner[low]!r} and {s.key!r}")
    return tuple(out), regions


def load_vocabulary(text: str | None = None) -> tuple[tuple[Site, ...], dict[Region, str]]:
    """(sites, region names) of a vocabulary JSON text; the package's own ``vocabulary.json`` by default."""
    if text is None:
        text = resources.files(__package__).joinpath("vocabulary.json").read_text(encoding="utf-8")
    return _read(json.loads(text))


SITES, REGION_NAMES = load_vocabulary()
SITE_BY_KEY: dict[str, Site] = {s.key: s for s in SITES}
COARSE_SITES: tuple[Site, ...] = tuple(s for s in SITES if not s.parent)
FINE_SITES: tuple[Site, ...] = tuple(s for s in SITES if s.fine)
_CHILDREN: dict[str, tuple[Site, ...]] = {
    s.key: tuple(c for c in SITES if c.parent == s.key) for s in COARSE_SITES}

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
    """The site with this key; KeyError names a few known keys."""
    try:
        return SITE_BY_KEY[key]
    except KeyError:
        raise KeyError(f"unknown site {key!r}; known: {', '.join(list(SITE_BY_KEY)[:12])}, …") from None


def children(key: str) -> tuple[Site, ...]:
    """The sub-sites of a coarse site (empty for a sub-site or a site without any)."""
    return _CHILDREN.get(key, ())


def coarse_of(key: str) -> str:
    """Key of the coarse site holding ``key`` (itself when it is a coarse site); "" for an unknown key."""
    known = SITE_BY_KEY.get(key)
    return known.coarse if known else ""


def within(key: str, other: str) -> bool:
    """Is ``key`` the site ``other`` or one of its sub-sites? ("liver_segment_7" is within "liver")."""
    known = SITE_BY_KEY.get(key)
    return known is not None and other in (known.key, known.parent)


def site_phrase(key: str, laterality: str = "") -> str:
    """Readable phrase with side, e.g. ("hilar_node", "right") -> "right hilar lymph node"."""
    phrase = site(key).phrase
    return f"{laterality} {phrase}" if laterality in ("left", "right") else phrase
