"""The describer's vocabulary: every (site, side) the lexicon knows, as phrases the text encoder can read.

Built from report.lexicon's two levels (Region -> Site). A lateral site gives two entries ("left hilar lymph
node", "right hilar lymph node"), an unpaired one gives one ("mediastinal lymph node"). Each entry keeps all
the lexicon's synonyms with the side prefixed, so the head is trained on the words reports use, and the
entry's canonical phrase (the first synonym) is what a drafted sentence says.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..report.lexicon import SITE_BY_KEY, SITES, Site, site_phrase

SIDES = ("left", "right")


@dataclass(frozen=True)
class VocabEntry:
    """One thing a lesion can be called: a site key and a side ("" for an unpaired site)."""

    site: str
    side: str

    @property
    def key(self) -> str:
        return f"{self.side} {self.site}" if self.side else self.site

    @property
    def region(self) -> str:
        return str(SITE_BY_KEY[self.site].region)

    @property
    def phrase(self) -> str:
        """Canonical phrase, e.g. "left external iliac lymph node"."""
        return site_phrase(self.site, self.side)

    def phrases(self) -> tuple[str, ...]:
        """Every synonym with the side in front: what a report may call this entry."""
        site = SITE_BY_KEY[self.site]
        return tuple(f"{self.side} {s}" if self.side else s for s in site.synonyms)


def entries_of(site: Site) -> tuple[VocabEntry, ...]:
    if site.lateral:
        return tuple(VocabEntry(site.key, side) for side in SIDES)
    return (VocabEntry(site.key, ""),)


def vocabulary(sites: tuple[Site, ...] = SITES) -> tuple[VocabEntry, ...]:
    """All entries, in lexicon order (head to pelvis, then bone)."""
    return tuple(e for s in sites for e in entries_of(s))


def entry_index(entries: tuple[VocabEntry, ...] | list[VocabEntry], site: str, side: str) -> int | None:
    """Index of (site, side) in ``entries``; a side given for an unpaired site is ignored. None if unknown."""
    known = SITE_BY_KEY.get(site)
    if known is None:
        return None
    side = side if known.lateral and side in SIDES else ""
    if known.lateral and not side:
        return None  # a paired site without a side cannot be a training target
    for i, e in enumerate(entries):
        if e.site == site and e.side == side:
            return i
    return None


def phrase_table(entries: tuple[VocabEntry, ...] | list[VocabEntry]) -> tuple[list[str], list[int]]:
    """(phrases, entry index of each phrase): the texts to embed, synonyms included."""
    phrases: list[str] = []
    owner: list[int] = []
    for i, entry in enumerate(entries):
        for phrase in entry.phrases():
            phrases.append(phrase)
            owner.append(i)
    return phrases, owner
