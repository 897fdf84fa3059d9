"""The describer's vocabulary: every (fine site, side) the lexicon knows, as phrases the text encoder can read.

Built from report.lexicon's hierarchy (region -> site -> sub-site). The fine level is every site that is an
answer of its own (a sub-site, or a site without sub-sites, or a station with one inside it); a lateral one
gives two entries ("left hilar lymph node", "right hilar lymph node"), an unpaired one gives one ("subcarinal
lymph node"). The coarse level is the site a fine entry belongs to ("hepatic segment VII" -> "liver"), so
the head ranks both: fine entries directly, coarse sites by the summed probability of their fine entries.
Each entry keeps up to ``PHRASES_PER_ENTRY`` of the lexicon's synonyms with the side prefixed, so the head
is trained on the words reports use; the first is what a drafted sentence says.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..report.lexicon import FINE_SITES, SITE_BY_KEY, Site, site_phrase

SIDES = ("left", "right")
PHRASES_PER_ENTRY = 6


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
    def coarse(self) -> str:
        """The coarse site holding this entry's site (the site itself at the coarse level)."""
        return SITE_BY_KEY[self.site].coarse

    @property
    def phrase(self) -> str:
        """Canonical phrase, e.g. "left external iliac lymph node"."""
        return site_phrase(self.site, self.side)

    def phrases(self) -> tuple[str, ...]:
        """The first synonyms with the side in front: what a report may call this entry."""
        site = SITE_BY_KEY[self.site]
        words = site.synonyms[:PHRASES_PER_ENTRY]
        return tuple(f"{self.side} {s}" if self.side else s for s in words)


def entries_of(site: Site) -> tuple[VocabEntry, ...]:
    if site.lateral:
        return tuple(VocabEntry(site.key, side) for side in SIDES)
    return (VocabEntry(site.key, ""),)


def vocabulary(sites: tuple[Site, ...] = FINE_SITES) -> tuple[VocabEntry, ...]:
    """All fine entries, in lexicon order."""
    return tuple(e for s in sites for e in entries_of(s))


def entry_index(entries: tuple[VocabEntry, ...] | list[VocabEntry], site: str, side: str) -> int | None:
    """Index of (site, side) in ``entries``; a side given for an unpaired site is ignored. None if unknown,
    a mere grouping of sub-sites ("vertebra") or a paired site without a side."""
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


def coarse_sites(entries: tuple[VocabEntry, ...] | list[VocabEntry]) -> list[str]:
    """The coarse sites of ``entries``, in order of first appearance."""
    return list(dict.fromkeys(e.coarse for e in entries))


def coarse_index(entries: tuple[VocabEntry, ...] | list[VocabEntry], site: str) -> int | None:
    """Index in ``coarse_sites(entries)`` of the coarse site holding ``site`` (a group or a sub-site)."""
    known = SITE_BY_KEY.get(site)
    if known is None:
        return None
    names = coarse_sites(entries)
    return names.index(known.coarse) if known.coarse in names else None


def phrase_table(entries: tuple[VocabEntry, ...] | list[VocabEntry]) -> tuple[list[str], list[int]]:
    """(phrases, entry index of each phrase): the texts to embed, synonyms included."""
    phrases: list[str] = []
    owner: list[int] = []
    for i, entry in enumerate(entries):
        for phrase in entry.phrases():
            phrases.append(phrase)
            owner.append(i)
    return phrases, owner
