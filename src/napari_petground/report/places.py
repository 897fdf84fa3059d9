"""Where a finding is: side and site words of a sentence, the tracer it names, and reference phrases.

Every lexicon phrase is matched by one regex built once (an alternation shaped as a prefix tree), on the
lower-cased sentence and without IGNORECASE; each sentence is scanned once for sides and once for sites,
and every finding of the sentence picks from those mentions.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from functools import lru_cache

from .finding import Finding, Span
from .lexicon import SITES, TRACERS
from .roles import REF, REF_HINTS, has_any, lower

SIDE = re.compile(
    r"\b(?P<side>right|left|rt|lt|bilateral|bilaterally|both|bilat)\b(?:-sided)?|\b(?P<lobe>rul|rml|rll|lul|lll)\b"
)
_BOTH_WHAT = re.compile(r"\s+(?:sides|lungs|hila|axillae|kidneys|adrenals|\w+\s+(?:nodes|lungs))")
_LOBES = {"rul": ("right", "lung_upper_lobe"), "rml": ("right", "lung_middle_lobe"),
          "rll": ("right", "lung_lower_lobe"), "lul": ("left", "lung_upper_lobe"),
          "lll": ("left", "lung_lower_lobe")}
_SIDE_WORDS = {"right": "right", "rt": "right", "left": "left", "lt": "left", "bilateral": "bilateral",
               "bilaterally": "bilateral", "both": "bilateral", "bilat": "bilateral"}

# phrases reports use beyond the shared lexicon (kept here so the lexicon's vocabulary stays stable)
PARSER_SYNONYMS: dict[str, str] = {
    "level ia node": "cervical_node", "level ib node": "cervical_node", "level iia node": "cervical_node",
    "level iib node": "cervical_node", "level iv node": "cervical_node", "level v node": "cervical_node",
}
_SYNONYMS: dict[str, str] = {}
for _site in SITES:
    for _syn in _site.synonyms:
        _SYNONYMS.setdefault(_syn.lower(), _site.key)
for _syn, _key in PARSER_SYNONYMS.items():
    _SYNONYMS.setdefault(_syn, _key)

_NODE = "\x01"  # stands for " node" / " lymph node" in the site trie


def _trie_pattern(words: list[str]) -> str:
    """One regex alternation shaped as a prefix tree (much faster than a flat list of phrases)."""
    trie: dict = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict) -> str:
        branches = []
        optional = "" in node
        for ch, child in sorted(node.items()):
            if ch == "":
                continue
            piece = {" ": r"\s+", _NODE: r"(?:\s+lymph)?\s+node"}.get(ch) or re.escape(ch)
            branches.append(piece + build(child))
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return "(?:" + body + ")?" if optional else body

    return build(trie)


_SITE_TRIE = _trie_pattern([s.replace(" node", _NODE) for s in _SYNONYMS])
SITE = re.compile(r"\b(?:" + _SITE_TRIE + r")(?:e?s)?\b")
# sites and sides in one scan: only "right middle lobe nodule" holds a side word, at its start (handled in
# mentions); sides cannot hide a site, nor a site a side elsewhere
_PLACE = re.compile(
    r"\b(?:(?P<site>" + _SITE_TRIE + r")(?:e?s)?\b|(?P<side>right|left|rt|lt|bilateral|bilaterally|both|bilat)\b"
    r"(?:-sided)?|(?P<lobe>rul|rml|rll|lul|lll)\b)"
)
_LYMPH = re.compile(r"\s+lymph(?=\s+node)")
_TRACER_SYNONYMS: dict[str, str] = {syn.lower(): name for name, syns in TRACERS.items() for syn in syns}
_TRACER = re.compile(
    r"(?<![\w-])(?:" + "|".join(re.escape(s) for s in sorted(_TRACER_SYNONYMS, key=len, reverse=True)) + r")(?![a-z])"
)
_TRACER_HINTS = ("fdg", "psma", "dota", "fluci", "axumin", "pylar", "piflu", "netspot", "somato", "facbc",
                 "fluorode", "dcfpyl")

span = lru_cache(maxsize=8192)(Span)  # spans are immutable: a lookup is cheaper than building a frozen dataclass
Side = tuple[str, int, int, str]  # (side, start, end, lobe site)
SiteMention = tuple[int, int, str]  # (start, end, lexicon key)


def mask_reference(low: str) -> str:
    """The lower-cased sentence with reference phrases ("blood pool", "liver background") blanked out."""
    if not has_any(low, REF_HINTS):
        return low
    return REF.sub(lambda m: " " * len(m.group()), low)


def mentions(low: str) -> tuple[list[Side], list[SiteMention]]:
    """Side mentions (side, start, end, lobe site) and site mentions (start, end, lexicon key), in order."""
    side_list: list[Side] = []
    site_list: list[SiteMention] = []
    for m in _PLACE.finditer(low):
        if m.group("site") is not None:
            site_list.append((m.start(), m.end(), site_key(m.group())))
            if (side := SIDE.match(low, m.start())) is not None:  # "right middle lobe nodule"
                _add_side(low, side, side_list)
        else:
            _add_side(low, m, side_list)
    return side_list, site_list


def _add_side(low: str, m: re.Match, out: list[Side]) -> None:
    lobe = m.group("lobe")
    if lobe:
        side, site = _LOBES[lobe]
        out.append((side, m.start(), m.end(), site))
        return
    word = m.group("side")
    if word == "both" and not _BOTH_WHAT.match(low[m.end():m.end() + 30]):
        return
    out.append((_SIDE_WORDS[word], m.start(), m.end(), ""))


def sides(low: str) -> list[Side]:
    """(side, start, end, lobe site) mentions in order."""
    out: list[Side] = []
    for m in SIDE.finditer(low):
        _add_side(low, m, out)
    return out


def sites(low: str) -> list[SiteMention]:
    """(start, end, lexicon key) of every site phrase."""
    return [(m.start(), m.end(), site_key(m.group())) for m in SITE.finditer(low)]


@lru_cache(maxsize=4096)
def site_key(phrase: str) -> str:
    """Lexicon key of a matched phrase ("hilar lymph nodes" -> "hilar_node")."""
    p = " ".join(phrase.lower().split())
    for candidate in (p, _LYMPH.sub("", p)):
        for cut in ("", "es", "s"):
            base = candidate[: -len(cut)] if cut and candidate.endswith(cut) else candidate
            if base in _SYNONYMS:
                return _SYNONYMS[base]
    return ""


def _pick(items: list, starts: list[int], lo: int, hi: int, several: bool) -> list:
    """The mentions starting in [lo, hi); with several findings and none there, the next one after the
    region or else the last one before it. ``starts`` are the mentions' starts, in order (they are looked
    up, so a sentence with many findings costs no more per finding)."""
    a, b = bisect_left(starts, lo), bisect_left(starts, hi)
    if a < b:
        return items[a:b]
    if not several:
        return items
    if b < len(items):
        return [items[b]]
    return items[a - 1:a] if a else []


def describe(finding: Finding, lo: int, hi: int, respectively_index: int | None, n_findings: int,
             side_list: list[Side], site_list: list[SiteMention], *, side_starts: list[int] | None = None,
             site_starts: list[int] | None = None) -> None:
    """Side and site from the words of this finding's part [lo, hi) of the sentence (``side_starts`` /
    ``site_starts``: the mentions' starts, computed once per sentence by a caller with many findings)."""
    several = n_findings > 1
    if respectively_index is not None and len(side_list) == n_findings:
        chosen_sides = [side_list[respectively_index]]
    else:
        starts = side_starts if side_starts is not None else [s[1] for s in side_list]
        chosen_sides = _pick(side_list, starts, lo, hi, several)
    if respectively_index is not None and len(site_list) == n_findings:
        chosen_sites = [site_list[respectively_index]]
    else:
        starts = site_starts if site_starts is not None else [s[0] for s in site_list]
        chosen_sites = _pick(site_list, starts, lo, hi, several)
    kinds = {s[0] for s in chosen_sides}
    if chosen_sides:
        if len(kinds) > 1:
            if chosen_sites:  # "bilateral nodules, the largest in the right upper lobe": side nearest the site
                before = [s for s in chosen_sides if s[1] <= chosen_sites[0][0]] or chosen_sides
                pick = before[-1]
            else:
                pick = next((s for s in chosen_sides if s[0] == "bilateral"), None)
            if pick is not None:
                finding.laterality = pick[0]
                finding.spans["laterality"] = span(pick[1], pick[2])
        else:
            finding.laterality = chosen_sides[0][0]
            finding.spans["laterality"] = span(chosen_sides[0][1], chosen_sides[0][2])
    if chosen_sites:
        s0 = chosen_sites[0]
        finding.site = s0[2]
        finding.spans["site"] = span(s0[0], s0[1])
    elif lobe := next((s for s in chosen_sides if s[3]), None):
        finding.site = lobe[3]
        finding.spans["site"] = span(lobe[1], lobe[2])


def tracer_in_lower(low: str) -> str:
    """Normalised tracer named in the lower-cased text ``low`` ("FDG", "PSMA", …) or ""."""
    if not has_any(low, _TRACER_HINTS):
        return ""
    m = _TRACER.search(low)
    return _TRACER_SYNONYMS[m.group()] if m else ""


def tracer_in(text: str) -> str:
    """Normalised tracer named in ``text`` ("FDG", "PSMA", …) or ""."""
    return tracer_in_lower(lower(text))
