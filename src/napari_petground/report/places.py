"""Where a finding is: side and site words of a sentence, the tracer it names, and reference phrases.

Every vocabulary word (report.lexicon) is matched by one regex built once (an alternation shaped as a
prefix tree, so the longest word wins where several start), on the lower-cased sentence and without
IGNORECASE; each sentence is scanned once for sides and sites, and every finding of the sentence picks from
those mentions. A mention is of one of three kinds:

* a site word ("hilar node", "upper lobe", "RUL", "station 4R": the last two also state the side);
* a weak word ("T10", "L3"): it names its site only when the finding has no site word ("focus at T10"),
  and otherwise only refines one ("vertebral body lesion at T10"; "para-aortic node at L3" stays a node);
* a qualifier ("apical segment", "6th", "head"): it names a sub-site next to its site ("apical segment of the
  right upper lobe", "head of the pancreas").

A site word in a negated clause ("no FDG-avid axillary nodes; right hilar node SUVmax 5.1") is not the
finding's site while another one is there. In a list ("left hilar and subcarinal nodes") a side carried
over another site word is kept only for a paired site.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from functools import lru_cache

from .finding import Finding, Span
from .lexicon import SITE_BY_KEY, SITES, TRACERS, children
from .roles import REF, REF_HINTS, has_any, lower

SIDE = re.compile(
    r"\b(?P<side>right|left|rt|lt|bilateral|bilaterally|both|bilat)\b(?:-sided)?|\b(?P<lobe>rul|rml|rll|lul|lll)\b"
)
_BOTH_WHAT = re.compile(r"\s+(?:sides|lungs|hila|axillae|kidneys|adrenals|\w+\s+(?:nodes|lungs))")
_SIDE_WORDS = {"right": "right", "rt": "right", "left": "left", "lt": "left", "bilateral": "bilateral",
               "bilaterally": "bilateral", "both": "bilateral", "bilat": "bilateral"}

# kept for callers of the first lexicon: every phrase is now in the vocabulary itself
PARSER_SYNONYMS: dict[str, str] = {}

STRONG, WEAK, QUALIFIER = "site", "weak", "qualifier"
_WORDS: dict[str, tuple[str, str, str]] = {}  # word -> (kind, key or "|"-joined sub-site keys, stated side)
for _site in SITES:
    for _w in _site.synonyms:
        _WORDS.setdefault(_w.lower(), (STRONG, _site.key, ""))
    for _w, _side in _site.sided:
        _WORDS.setdefault(_w, (STRONG, _site.key, _side))
for _site in SITES:
    for _w in _site.weak:
        _WORDS.setdefault(_w.lower(), (WEAK, _site.key, ""))
for _site in SITES:
    for _w in _site.qualifiers:
        kind, keys, _ = _WORDS.get(_w, (QUALIFIER, "", ""))
        if kind == QUALIFIER:
            _WORDS[_w] = (QUALIFIER, f"{keys}|{_site.key}" if keys else _site.key, "")
_LOBES = {w: (side, SITE_BY_KEY[key].key) for w, (kind, key, side) in _WORDS.items()
          if side and w in ("rul", "rml", "rll", "lul", "lll")}

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


def _trie_of(kinds: tuple[str, ...]) -> str:
    return _trie_pattern([w.replace(" node", _NODE) for w, (k, _, _) in _WORDS.items() if k in kinds])


_SITE_TRIE = _trie_of((STRONG, WEAK))
SITE = re.compile(r"\b(?:" + _SITE_TRIE + r")(?:e?s)?\b")  # words that place a finding without help
_PLACE = re.compile(
    r"\b(?:(?P<site>" + _trie_of((STRONG, WEAK, QUALIFIER)) + r")(?:e?s)?\b"
    r"|(?P<side>right|left|rt|lt|bilateral|bilaterally|both|bilat)\b(?:-sided)?)"
)
_LYMPH = re.compile(r"\s+lymph(?=\s+node)")
_NODE_TAIL = re.compile(r"(?:\s+lymph)?\s+nodes?$")
# negation cues of a clause, and the phrases with those words that do not negate a lesion
_NEG = re.compile(r"\b(?:no|not|without|negative\s+for|free\s+of|absence\s+of|resolution\s+of)\b")
_NOT_NEG = re.compile(r"\b(?:no|not)\s+(?:significant(?:ly)?\s+|interval\s+|substantial(?:ly)?\s+)?chang")
_NEG_HINTS = ("no ", "not ", "no\n", "without", "negative", "free of", "absence", "resolution")
_CLAUSE_END = re.compile(r"[.;:,()]|\b(?:but|however|whereas|while|although)\b")
_TRACER_SYNONYMS: dict[str, str] = {syn.lower(): name for name, syns in TRACERS.items() for syn in syns}
_TRACER = re.compile(
    r"(?<![\w-])(?:" + "|".join(re.escape(s) for s in sorted(_TRACER_SYNONYMS, key=len, reverse=True)) + r")(?![a-z])"
)
_TRACER_HINTS = ("fdg", "psma", "dota", "fluci", "axumin", "pylar", "piflu", "netspot", "somato", "facbc",
                 "fluorode", "dcfpyl")

span = lru_cache(maxsize=8192)(Span)  # spans are immutable: a lookup is cheaper than building a frozen dataclass
Side = tuple[str, int, int, str]  # (side, start, end, lobe site)
SiteMention = tuple[int, int, str]  # (start, end, lexicon key)


class Places:
    """The site and side mentions of one sentence: site words (those of a negated clause apart), weak
    words and qualifiers, each (start, end, key) in order; qualifiers keep every sub-site they may name."""

    __slots__ = ("low", "negated", "qualifiers", "sides", "sites", "weak")

    def __init__(self, low: str = "") -> None:
        self.low = low
        self.sides: list[Side] = []
        self.sites: list[SiteMention] = []
        self.negated: list[SiteMention] = []
        self.weak: list[SiteMention] = []
        self.qualifiers: list[tuple[int, int, tuple[str, ...]]] = []


def mask_reference(low: str) -> str:
    """The lower-cased sentence with reference phrases ("blood pool", "liver background") blanked out."""
    if not has_any(low, REF_HINTS):
        return low
    return REF.sub(lambda m: " " * len(m.group()), low)


def mentions(low: str) -> Places:
    """Every side, site, weak and qualifier mention of a lower-cased sentence, in order."""
    out = Places(low)
    negations = has_any(low, _NEG_HINTS) and _NEG.search(low) is not None
    for m in _PLACE.finditer(low):
        if m.group("site") is None:
            _add_side(low, m, out.sides)
            continue
        kind, key, side = lookup(m.group())
        start, end = m.start(), m.end()
        if kind == QUALIFIER:
            out.qualifiers.append((start, end, tuple(key.split("|"))))
        elif kind == WEAK:
            out.weak.append((start, end, key))
        elif kind == STRONG:
            (out.negated if negations and _negated(low, start) else out.sites).append((start, end, key))
            if side:
                out.sides.append((side, start, end, key))
            elif (lead := SIDE.match(low, start)) is not None:  # "right middle lobe nodule"
                _add_side(low, lead, out.sides)
    if not out.sites and out.negated:  # every site word negated: they are still where the numbers are
        out.sites, out.negated = out.negated, []
    header = _header_end(low)
    if header and any(s[0] > header for s in out.sites):  # "Skin and soft tissues: nodule in the left thigh"
        out.weak = sorted(out.weak + [s for s in out.sites if s[0] < header])
        out.sites = [s for s in out.sites if s[0] > header]
    return out


def _header_end(low: str) -> int:
    """End of a section header at the start of the sentence ("Brain:", "Skin and soft tissues:"), or 0."""
    colon = low.find(":", 0, 48)
    if colon <= 0 or any(ch.isdigit() for ch in low[:colon]):
        return 0
    return colon


def _negated(low: str, start: int) -> bool:
    """Does a negation cue precede ``start`` in its clause ("no FDG-avid axillary nodes")?"""
    lo = max(0, start - 120)
    cut = lo
    for m in _CLAUSE_END.finditer(low, lo, start):
        cut = m.end()
    clause = low[cut:start]
    return _NEG.search(clause) is not None and _NOT_NEG.search(clause) is None


def _add_side(low: str, m: re.Match, out: list[Side]) -> None:
    word = m.group("side")
    if word == "both" and not _BOTH_WHAT.match(low[m.end():m.end() + 30]):
        return
    out.append((_SIDE_WORDS[word], m.start(), m.end(), ""))


def sides(low: str) -> list[Side]:
    """(side, start, end, lobe site) mentions in order."""
    out: list[Side] = []
    for m in SIDE.finditer(low):
        if m.group("lobe"):
            side, site = _LOBES[m.group("lobe")]
            out.append((side, m.start(), m.end(), site))
        else:
            _add_side(low, m, out)
    return out


def sites(low: str) -> list[SiteMention]:
    """(start, end, lexicon key) of every site word (weak words included)."""
    return [(m.start(), m.end(), site_key(m.group())) for m in SITE.finditer(low)]


@lru_cache(maxsize=8192)
def lookup(phrase: str) -> tuple[str, str, str]:
    """(kind, key, stated side) of a matched phrase ("hilar lymph nodes" -> ("site", "hilar_node", ""));
    a qualifier's key lists every sub-site it may name, joined by "|"."""
    p = " ".join(phrase.lower().split())
    for candidate in (p, _LYMPH.sub("", p)):
        for cut in ("", "es", "s"):
            base = candidate[: -len(cut)] if cut and candidate.endswith(cut) else candidate
            if base in _WORDS:
                return _WORDS[base]
    return ("", "", "")


def site_key(phrase: str) -> str:
    """Lexicon key of a matched site phrase ("hilar lymph nodes" -> "hilar_node"); "" for a qualifier."""
    kind, key, _ = lookup(phrase)
    return key if kind in (STRONG, WEAK) else ""


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


def _refine(primary: SiteMention, places: Places, lo: int, hi: int, index: int | None) -> SiteMention:
    """The sub-site a qualifier or weak word of [lo, hi) names inside ``primary``'s site (the one nearest
    the site word; with "respectively", the ``index``-th), else ``primary``."""
    kids = {c.key for c in children(primary[2])}
    if not kids:
        return primary
    found: list[SiteMention] = []
    for s, e, keys in places.qualifiers:
        if lo <= s < hi and (hit := next((k for k in keys if k in kids), None)) is not None:
            found.append((s, e, hit))
    found += [w for w in places.weak if lo <= w[0] < hi and w[2] in kids]
    for s, e, _key in places.sites:  # "axillary level II node": a site word that is a qualifier here
        if lo <= s < hi and (s, e) != primary[:2]:
            kind, keys, _ = lookup(_NODE_TAIL.sub("", places.low[s:e]))
            if kind == QUALIFIER and (hit := next((k for k in keys.split("|") if k in kids), None)) is not None:
                found.append((s, e, hit))
    if not found:
        return primary
    found.sort()
    if index is not None and len(found) > index and len({f[2] for f in found}) == len(found):
        return found[index]
    return min(found, key=lambda f: abs(f[0] - primary[0]))


def _site_for(places: Places, lo: int, hi: int, index: int | None, n: int, site_starts: list[int] | None,
              respectively: bool) -> tuple[SiteMention, SiteMention] | None:
    """(the finding's site word, the mention naming its site: the same, or a sub-site word refining it)."""
    several = n > 1
    pool = places.sites if places.sites else places.weak
    if not pool:
        return None
    if respectively and index is not None and len(pool) == n:
        chosen = [pool[index]]
    else:
        starts = site_starts if site_starts is not None and pool is places.sites else [s[0] for s in pool]
        chosen = _pick(pool, starts, lo, hi, several)
        if several and places.weak and not any(lo <= c[0] < hi for c in chosen):
            # "L2 vertebral body: SUVmax 7.7; L4: SUVmax 5.2": a weak word of this finding's own part
            chosen = [w for w in places.weak if lo <= w[0] < hi] or chosen
    if not chosen:
        return None
    primary = chosen[0]
    for other in chosen[1:]:  # "apical segment of the right upper lobe": the sub-site, wherever it stands
        if SITE_BY_KEY[other[2]].parent == primary[2]:
            primary = other
            break
    refined = primary
    if SITE_BY_KEY[primary[2]].parent == "":
        refined = _refine(primary, places, lo, hi, index if respectively else None)
    return primary, refined


def describe(finding: Finding, lo: int, hi: int, respectively_index: int | None, n_findings: int,
             places: Places, *, side_starts: list[int] | None = None, site_starts: list[int] | None = None) -> None:
    """Side and site from the words of this finding's part [lo, hi) of the sentence (``side_starts`` /
    ``site_starts``: the mentions' starts, computed once per sentence by a caller with many findings)."""
    several = n_findings > 1
    side_list = places.sides
    if respectively_index is not None and len(side_list) == n_findings:
        chosen_sides = [side_list[respectively_index]]
    else:
        starts = side_starts if side_starts is not None else [s[1] for s in side_list]
        chosen_sides = _pick(side_list, starts, lo, hi, several)
    respectively = respectively_index is not None
    found = _site_for(places, lo, hi, respectively_index, n_findings, site_starts, respectively)
    word, chosen_site = found if found is not None else (None, None)
    pick = None
    kinds = {s[0] for s in chosen_sides}
    if chosen_sides:
        if len(kinds) > 1:
            if chosen_site is not None:  # "bilateral nodules, the largest in the right upper lobe": nearest side
                before = [s for s in chosen_sides if s[1] <= chosen_site[0]] or chosen_sides
                pick = before[-1]
            else:
                pick = next((s for s in chosen_sides if s[0] == "bilateral"), None)
        else:
            pick = chosen_sides[0]
    if chosen_site is not None:
        site = SITE_BY_KEY[chosen_site[2]]
        if pick is not None and not site.lateral and _carried(pick, word, places):
            pick = None  # "left hilar and subcarinal nodes": the side belongs to the hilar node
        finding.site = site.key
        finding.spans["site"] = span(chosen_site[0], chosen_site[1])
    if pick is not None:
        finding.laterality = pick[0]
        finding.spans["laterality"] = span(pick[1], pick[2])


def _carried(side: Side, site: SiteMention, places: Places) -> bool:
    """Is another site word between the side word and the site (the side carried along a list)?"""
    if side[1] >= site[0]:
        return False
    return any(side[2] <= s[0] < site[0] for s in places.sites)


def tracer_in_lower(low: str) -> str:
    """Normalised tracer named in the lower-cased text ``low`` ("FDG", "PSMA", …) or ""."""
    if not has_any(low, _TRACER_HINTS):
        return ""
    m = _TRACER.search(low)
    return _TRACER_SYNONYMS[m.group()] if m else ""


def tracer_in(text: str) -> str:
    """Normalised tracer named in ``text`` ("FDG", "PSMA", …) or ""."""
    return tracer_in_lower(lower(text))
