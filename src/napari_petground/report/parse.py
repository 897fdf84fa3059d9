"""Findings from report text: which numbers in a sentence are the current SUVmax, the axial image, the series.

Every number of a sentence gets one role from its close context (a few words either side), in this order:

* measurement: followed by a unit ("1.2 cm", "3 x 2", "10 mCi") or part of a date/fraction ("145/300");
* change: "5.4 → 3.1", "from 5.4 to 3.1", "to 3.1 from 5.4" (the earlier value is the prior one);
* image/slice: after "image", "im", "img", "slice", "axial image", "#"… (ranges "images 140-150" give the
  middle image, rounded down); a slice on a coronal/sagittal/MIP view is dropped;
* series: after "series", "ser", "se";
* reference: an SUV of the blood pool, liver background, a threshold (never a lesion);
* prior: after "previously", "prior", "baseline", "vs", "from"… or followed by "previously", "on prior";
* SUVmax: after "SUVmax", "SUV max", "max SUV", "SUV" (+ "of", "=", ":", "up to", "approximately", "today"…);
  SUVmean / SUVpeak values are not SUVmax and are dropped;
* list continuation: "2.7 and 3.5", "170 and 176" keep the previous number's role.

Numbers become findings: a list of SUVs and a list of images of the same length with "respectively" pair up
in order; otherwise values and images pair up greedily left to right, a ";" closing a finding. Side and site
come from the words nearest each finding (reference phrases masked out), the tracer from the sentence, then
the report, then the caller. Sentences without numbers give a finding only when they describe a lesion
("Intensely FDG-avid right hilar node") and are not negated ("No abnormal uptake").

Numbers are read exactly as written ("12.3", "3,8" with a decimal comma, "0045") or not at all, never as
another value. Not read: exponent notation ("1e308"), a comma before three or more digits ("1,234": digit
groups or decimals?), more than one point or comma ("12.3.4", "3.1,4"), more than 9 digits before the
point, an image or series number with decimals, and a value no report means: an SUV (current or prior)
above SUV_LIMIT (1000) or an image or series number above NUMBER_LIMIT (100000). Such a number keeps its
role (so findings still pair up) and its span, its value stays None, and ``Finding.refused`` maps the
value's name to the number as written, so that a caller can say what was not read.

Numbers and roles live in report.roles, sides/sites/tracer in report.places; this module pairs roles into
findings. Every pattern runs on the lower-cased sentence, computed once per sentence. A sentence can be long
(a pasted table whose rows join into one sentence of thousands of findings): nearest-number and per-finding
look-ups are binary searches over positions, so the time stays linear in the length of the text.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from ..errors import ReportError
from .finding import Finding
from .places import (
    PARSER_SYNONYMS,
    SIDE,
    SITE,
    describe,
    mask_reference,
    mentions,
    span,
    tracer_in,
    tracer_in_lower,
)
from .roles import LESION, Num, classify, lower
from .sentences import split_sentences

__all__ = ["PARSER_SYNONYMS", "extract_findings", "findings_in_sentence", "split_sentences", "tracer_in"]

_NEGATED = re.compile(
    r"^\W*(?:no|none|without|negative|absent)\b|\b(?:no|not|without|negative\s+for|resolved|resolution|"
    r"no\s+longer|unremarkable|within\s+normal\s+limits|physiologic(?:al)?|normal|non-?avid|non-?fdg|"
    r"nonspecific|benign|excreted|excretion|unchanged\s+in\s+appearance|absent|disappeared|"
    r"interval\s+resolution)\b"
)
_RESOLVED = re.compile(r"\b(?:resolved|resolution|no\s+longer|disappeared|interval\s+clearance)\b")
_RESPECTIVELY = re.compile(r"\brespectively\b")
_DIGIT = re.compile(r"\d")
SUV_LIMIT = 1000.0  # a larger SUV is not a real value: refused, not read (see module docstring)
NUMBER_LIMIT = 100_000  # the same for image and series numbers
_PAREN_OR_SEMI = re.compile(r"[();]")


@dataclass(slots=True)
class _Draft:
    suv: Num | None = None
    slice: Num | None = None
    series: Num | None = None
    prior: Num | None = None
    first: int = 10**9
    last: int = -1

    def touch(self, n: Num) -> None:
        self.first = min(self.first, n.start)
        self.last = max(self.last, n.slice_end if n.slice_end > 0 else n.end)


def _semicolons(sentence: str) -> list[int]:
    """Positions of ';' outside parentheses (no more "(" than ")" before it), in one pass."""
    if ";" not in sentence:
        return []
    out = []
    depth = 0
    for m in _PAREN_OR_SEMI.finditer(sentence):
        ch = m.group()
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth <= 0:
            out.append(m.start())
    return out


def _nearest(firsts: list[int], lasts: list[int], pos: int) -> int:
    """Index of the finding nearest ``pos`` (0 inside its span, else the distance to it; the first one on a
    tie) when the findings' spans start and end in list order (both strictly increasing), in log time."""
    i = bisect_right(firsts, pos)  # spans [:i] start at or before pos
    j = bisect_left(lasts, pos)  # spans [j:] end at or after pos
    if j < i:
        return j  # the first span holding pos
    if i == 0:
        return 0
    if i == len(firsts):
        return i - 1
    return i - 1 if pos - lasts[i - 1] <= firsts[i] - pos else i


def _pair(nums: list[Num], sentence: str, respectively: bool) -> list[_Draft]:
    """Group roles into findings (see module docstring)."""
    suvs = [n for n in nums if n.role == "suv"]
    slices = [n for n in nums if n.role == "slice"]
    drafts: list[_Draft] = []
    if len(suvs) <= 1:
        d = _Draft()
        if suvs:
            d.suv = suvs[0]
            d.touch(suvs[0])
        if slices:
            if len(suvs) == 1 or len(slices) == 1:
                d.slice = slices[0]
                d.touch(slices[0])
                drafts.append(d)
            else:  # no SUV, several images: one finding per image (split by ';' or "and")
                for s in slices:
                    ds = _Draft(slice=s)
                    ds.touch(s)
                    drafts.append(ds)
        else:
            drafts.append(d)
    elif len(slices) == len(suvs) and (
        respectively or (len({v.group for v in suvs}) == 1 and suvs[0].group >= 0
                         and len({x.group for x in slices}) == 1 and slices[0].group >= 0)
    ):
        for v, s in zip(suvs, slices, strict=True):
            d = _Draft(suv=v, slice=s)
            d.touch(v)
            d.touch(s)
            drafts.append(d)
    else:
        semis = _semicolons(sentence)
        one_group = len({v.group for v in suvs}) == 1 and suvs[0].group >= 0
        cur: _Draft | None = None
        events = sorted(suvs + slices, key=lambda n: n.start)
        filled = 0  # drafts[:filled] all have an image
        for n in events:
            if cur is not None and semis and (k := bisect_left(semis, cur.last)) < len(semis) and semis[k] < n.start:
                cur = None  # a ';' between the finding so far and this number
            if n.role == "suv":
                if cur is None or cur.suv is not None:
                    cur = _Draft()
                    drafts.append(cur)
                cur.suv = n
            else:
                if cur is None or cur.slice is not None:
                    if one_group and drafts:
                        for d in drafts[filled:]:  # "SUV 3.1 and 4.2 on image 120": both on that image
                            if d.slice is None:
                                d.slice = n
                        filled = len(drafts)
                        continue
                    cur = _Draft()
                    drafts.append(cur)
                cur.slice = n
            cur.touch(n)
        if one_group and len(slices) == 1:
            for d in drafts:
                d.slice = d.slice or slices[0]
    # series: the nearest series number (the earlier one on a tie), or the only one
    series = [n for n in nums if n.role == "series"]
    if series:
        starts = [n.start for n in series]
        for d in drafts:
            anchor = d.slice.start if d.slice else (d.suv.start if d.suv else 0)
            k = bisect_left(starts, anchor)
            if k == len(series) or (k and anchor - starts[k - 1] <= starts[k] - anchor):
                k -= 1
            d.series = series[k]
    # prior values: the nearest finding (the first of the list on a tie)
    priors = [n for n in nums if n.role == "prior"]
    if priors and drafts:
        # many findings whose spans are in order: look the nearest up (a prior widens its finding's span only
        # towards itself, up to the next span, so the order holds); otherwise compare every finding
        ordered = len(drafts) > 8 and all(d.first <= d.last for d in drafts) and all(
            a.first < b.first and a.last < b.last for a, b in zip(drafts, drafts[1:], strict=False))
        firsts = [d.first for d in drafts] if ordered else []
        lasts = [d.last for d in drafts] if ordered else []
        for p in priors:
            if ordered:
                i = _nearest(firsts, lasts, p.start)
                target = drafts[i]
            else:
                target = min(drafts, key=lambda d: 0 if d.first <= p.start <= d.last else
                             min(abs(p.start - d.last), abs(p.start - d.first)))
            if target.prior is None:
                target.prior = p
                target.touch(p)
                if ordered:
                    firsts[i], lasts[i] = target.first, target.last
    return drafts


def _regions(sentence: str, drafts: list[_Draft]) -> list[tuple[int, int]]:
    """The part of the sentence each finding's side and site are read from."""
    if len(drafts) == 1:
        return [(0, len(sentence))]
    cuts = _semicolons(sentence)
    if len(cuts) == len(drafts) - 1:
        edges = [0, *cuts, len(sentence)]
        regions = [(edges[i], edges[i + 1]) for i in range(len(drafts))]
        if all(lo <= d.first and d.last <= hi for d, (lo, hi) in zip(drafts, regions, strict=True)):
            return regions
    bounds = [0] + [d.last for d in drafts]
    return [(bounds[i], d.last) for i, d in enumerate(drafts)]


def _plausible(f: Finding, name: str, value: float | None, limit: float) -> float | None:
    """``value`` when it was read and is at most ``limit``; else None, with the number as written kept in
    ``f.refused[name]`` (``f.spans[name]`` is set)."""
    if value is not None and value <= limit:  # NaN (not read) fails the comparison
        return value
    sp = f.spans[name]
    f.refused[name] = f.sentence[sp.start:sp.end]
    return None


def findings_in_sentence(sentence: str, *, tracer: str = "", sentence_start: int = 0) -> list[Finding]:
    """Findings of one sentence (see module docstring); ``tracer`` is used when the sentence names none."""
    low = lower(sentence)
    nums = classify(low) if _DIGIT.search(low) else []
    has_current = has_suv = False
    for n in nums:
        if n.role == "suv":
            has_current = has_suv = True
            break
        has_current = has_current or n.role == "slice"
    if not has_current:
        # no current number: a finding only when a lesion is described and not negated
        # ... and says where it is (a side or a site), so that there is something to ground
        masked = mask_reference(low)
        if not LESION.search(masked) or _NEGATED.search(masked):
            return []
        if not SITE.search(masked) and not SIDE.search(masked):
            return []
    else:
        masked = mask_reference(low)
        if not has_suv and (not LESION.search(masked) or _RESOLVED.search(masked)):
            return []
    respectively = "respectively" in low and _RESPECTIVELY.search(low) is not None
    drafts = _pair(nums, low, respectively)
    sentence_tracer = tracer_in_lower(low) or tracer
    places = mentions(masked)
    side_starts = [s[1] for s in places.sides] if len(drafts) > 1 else None
    site_starts = [s[0] for s in places.sites] if len(drafts) > 1 else None
    out: list[Finding] = []
    for i, (d, (lo, hi)) in enumerate(zip(drafts, _regions(low, drafts), strict=True)):
        f = Finding(sentence=sentence, tracer=sentence_tracer, sentence_start=sentence_start)
        if d.suv is not None:
            f.spans["suvmax"] = span(d.suv.start, d.suv.end)
            f.suvmax = _plausible(f, "suvmax", d.suv.value, SUV_LIMIT)
        if d.slice is not None:
            f.spans["slice"] = span(d.slice.start, d.slice.slice_end if d.slice.slice_end > 0 else d.slice.end)
            f.slice = _plausible(f, "slice", d.slice.slice_value, NUMBER_LIMIT)
        if d.series is not None:
            f.spans["series"] = span(d.series.start, d.series.end)
            whole = not d.series.refused and d.series.text.isdigit()
            f.series = _plausible(f, "series", int(d.series.text) if whole else None, NUMBER_LIMIT)
        if d.prior is not None:
            f.spans["prior_suvmax"] = span(d.prior.start, d.prior.end)
            f.prior_suvmax = _plausible(f, "prior_suvmax", d.prior.value, SUV_LIMIT)
        respectively_index = i if (respectively and len(drafts) > 1) else None
        describe(f, lo, max(hi, lo + 1), respectively_index, len(drafts), places,
                 side_starts=side_starts, site_starts=site_starts)
        out.append(f)
    return out


def extract_findings(text: str, *, tracer: str = "") -> list[Finding]:
    """One Finding per current lesion described in ``text`` (a sentence or a whole report)."""
    if not isinstance(text, str):
        raise ReportError(f"report text must be a string, got {type(text).__name__}; pass the report as text")
    report_tracer = tracer_in(text[:4000]) or tracer_in(text) if text else ""
    fallback = report_tracer or tracer
    out: list[Finding] = []
    for offset, sentence in split_sentences(text):
        out.extend(findings_in_sentence(sentence, tracer=fallback, sentence_start=offset))
    return out
