"""The role of every number in a sentence: current SUVmax, prior SUVmax, image, series, reference, other.

Roles come from a number's close context (see report.parse for the rules). All patterns run on the
lower-cased sentence (same length as the original, so offsets agree) and are compiled without
IGNORECASE, which is several times faster in Python's regex engine. The left-context patterns below
(_PRE_SUV, _PRE_SLICE, ...) are the readable definitions; classify matches their backward forms
(report.backwards) at the number instead of searching a window before every number, Tests check that both forms agree.
A number that is not read as written (exponent, digit groups, too many digits: see _read and report.parse)
still gets its role, with ``refused`` saying why and a NaN value, so that no other value stands in for it.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass

from . import backwards as bw
from .lexicon import REFERENCE_PHRASES

SUVKW = (
    r"(?:suv\s*[-_]?\s*\(?(?:max(?:imum|imal)?|ₘₐₓ|peak|mean|avg|average|bw\s*max|lbm\s*max)\b\)?\.?"
    r"|(?:max(?:imum|imal)?|peak|mean|average)\.?\s+(?:suv|standardi[sz]ed\s+uptake\s+values?)(?:\s*\(suv\))?"
    r"|standardi[sz]ed\s+uptake\s+values?(?:\s*\(suv\s*(?:max)?\))?(?:\s*max(?:imum)?)?"
    r"|suvs?\b)"
)
FILLER = (
    r"(?:[\s:=~≈(,\[]|'s\b|\b(?:of|is|was|were|measuring|measures|measured|up\s+to|approximately|approx\.?|about|"
    r"around|roughly|nearly|value|values|level|reaching|at|now|currently|today|an?|the|the\s+order\s+of|"
    r"on\s+the\s+order\s+of|observed|calculated|noted|seen|max)\b)*"
)
# a number: digits with a decimal point or comma; an exponent ("1e308"), digit groups ("1,234") and more
# separators ("12.3.4", "3.1,4") are taken whole, so that no part of them is read as another number (_read
# decides what is read, see report.parse)
_NUM = re.compile(r"(?<![\d.])(?<!\d,)\d+(?:[.,]\d+)*(?:e[+-]?\d+)?")
# the same numbers in ASCII text, found several times faster (a leading lookbehind defeats the regex
# engine's fast scan); the left context that _NUM looks behind for is checked in _numbers
_NUM_ASCII = re.compile(r"[0-9]+(?:[.,][0-9]+)*(?:e[+-]?[0-9]+)?")
MAX_DIGITS = 9  # digits before the decimal point of a number that is read at all
# left contexts, ending at the number ($); matched backwards by classify (report.backwards)
_PRE_SUV = re.compile("(" + SUVKW + ")" + FILLER + r"$")
_PRE_SLICE = re.compile(
    r"(?:\b(?P<plane>coronal|sagittal|axial|transaxial|transverse|cor|sag|ax|mip)\.?[\s/-]*)?"
    r"\b(?:images?|imgs?|im|slices?|sl|sections?|cuts?)\b\.?\s*(?:(?:no\.?|number|num|nr\.?)\s*)?[:#=]?\s*#?\s*$"
    r"|\b(?P<axial>axial|transaxial)\s*[:#]?\s*$"
)
_PRE_SLICE_HASH = re.compile(r"(?:^|[\s(,])#\s*$")
_PRE_SERIES = re.compile(r"\b(?:series|ser|se|sr)\b\.?\s*(?:(?:no\.?|number|#)\s*)?[:#=]?\s*$")
_POST_PLANE = re.compile(
    r"\s*\)?\s*(?:of|on|in|from)\s+(?:the\s+)?(?:fused\s+|pet\s+|ct\s+)?(?P<plane>coronal|sagittal|axial|"
    r"transaxial|mip|maximum\s+intensity)"
)
# a unit after the number ("1.2 cm", "3 x 2", "10 mCi") or a date/fraction ("145/300", "12-03-")
_POST_UNIT = re.compile(
    r"\s*(?:cm|mm|ml|mls|cc|%|x\b|×|\*\s*\d|by\s+\d|mci|mbq|gbq|min|mins|minutes|kg|lbs?|hours?|hrs?|h\b|"
    r"years?|yrs?|yo\b|y/o|-year|days?|weeks?|wks?|months?|mos?\b|mg|g/dl|ng|hu\b|sec|seconds?|mm3|ml/)"
    r"|\s*/\s*\d|-\d{2}-"
)
_POST_PRIOR = re.compile(
    r"\s*\)?\s*,?\s*(?:previously|prior\b(?!\s+to\s+(?:this|the\s+current))|before\b|earlier|formerly|"
    r"at\s+baseline|(?:on|in|at|of)\s+(?:the\s+)?(?:prior|previous|preceding|baseline|last|earlier|old|"
    r"comparison|interim|initial|pre-?treatment)\b|(?:on|in)\s+(?:\d{1,2}/|\d{4}\b|(?:jan|feb|mar|apr|may|jun|"
    r"jul|aug|sep|oct|nov|dec)[a-z]*))"
)
_PRE_PRIOR = re.compile(
    r"\b(?:previously|previous|prior|before|earlier|baseline|formerly|vs\.?|versus|compared(?:\s+(?:to|with))?|"
    r"(?:down|up|decreased|increased|reduced|declined|risen|rising|falling)?\s*from|was\s+previously|"
    r"had\s+been|in\s+comparison\s+(?:to|with))"
    r"[\s:=(,]*(?:(?:an?|the|its)\s+)?(?:" + SUVKW + r")?" + FILLER + r"$"
)
_PRE_CURRENT = re.compile(
    r"\b(?:now|currently|today|presently|at\s+present|on\s+(?:the\s+)?(?:current|present)\s+(?:study|exam|scan))"
    r"[\s:=(,]*(?:(?:an?|the|its)\s+)?(?:" + SUVKW + r")?" + FILLER + r"$"
)
_PAREN = re.compile(r"[()]")
_PRIOR_PAREN = re.compile(r"\(\s*(?:previously|previous|prior|before|baseline|was|on\s+(?:the\s+)?prior)\b")
_PARALLEL_GAP = re.compile(r"\s*[)\]]\s*(?:,\s*and|,|and|&)\s*")
_NUMBER_NEXT = re.compile(r"[\s:=,(]*(?:" + SUVKW + r")?[\s:=]*(?:of\s+)?\d")
_LIST_GAP = re.compile(r"\s*(?:,\s*and|,\s*or|,|and|or|&|/|\+)\s*")
_RANGE_GAP = re.compile(r"\s*(?:-|–|—|to|through|thru)\s*")
_LIST_END = re.compile(r"\s*(?:[,;.)\]]|and\b|or\b|&|respectively|in\b|on\b|at\b|within\b|\(|$)")
_CHANGE = re.compile(
    r"(?P<a>(?<![\d.])\d+(?:\.\d+)?)\s*(?:→|->|-->|=>|⟶|➔|➝|⇒)\s*(?:" + SUVKW + r"\s*)?(?P<b>\d+(?:\.\d+)?)"
    r"|\bfrom\s+(?:(?:an?|the)\s+)?(?:" + SUVKW + r"\s*)?(?:of\s+)?(?P<c>\d+(?:\.\d+)?)\s*"
    r"(?:(?:on|in)\s+(?:the\s+)?(?:prior|previous|baseline)\s+(?:study|exam|scan)\s*)?"
    r"(?:,\s*)?(?:to|→|->)\s+(?:(?:an?|the)\s+)?(?:" + SUVKW + r"\s*)?(?:of\s+)?(?P<d>\d+(?:\.\d+)?)"
    r"|\bto\s+(?:(?:an?|the)\s+)?(?:" + SUVKW + r"\s*)?(?:of\s+)?(?P<e>\d+(?:\.\d+)?)\s*,?\s*(?:\([^)]{0,200}\)\s*)?"
    r"(?:down\s+|up\s+)?from\s+(?:(?:an?|the)\s+)?(?:" + SUVKW + r"\s*)?(?:of\s+)?(?P<f>\d+(?:\.\d+)?)"
)
SUV_ANY = re.compile(SUVKW)
_RANGING = re.compile(r"\brang(?:e|es|ed|ing)\b")
_RANGE_SUV = re.compile(
    r"\b(?:rang(?:e|es|ed|ing)|between)\s+(?:of\s+|from\s+)?(?P<lo>\d+(?:\.\d+)?)\s*(?:to|-|–|and)\s*(?P<hi>\d+(?:\.\d+)?)"
)
_SUV_OTHER = re.compile(r".*(?:peak|mean|avg|average)")
_SHORTHAND = re.compile(
    r"\(\s*(?:series|ser|se)?\.?\s*(?P<se>\d{1,2})\s*[/:,]\s*(?:images?|im|img)?\.?\s*(?P<im>\d{1,4})\s*\)"
)
_REF_WORDS = sorted({p.lower() for p in REFERENCE_PHRASES} | {
    "blood pool", "bloodpool", "blood-pool", "background", "threshold", "cutoff",
    "cut-off", "mean liver", "liver parenchyma", "hepatic parenchyma", "liver activity", "liver uptake",
    "hepatic activity", "hepatic uptake", "liver reference", "liver mean", "normal hepatic", "spleen activity",
    "physiologic", "physiological", "deauville",
}, key=len, reverse=True)
REF = re.compile(r"\b(?:" + "|".join(re.escape(w) for w in _REF_WORDS) + r")\b")
_LIVER_BEFORE = re.compile(r"\b(?:liver|hepatic)\b[\s(:]*(?:" + SUVKW + r")?" + FILLER + r"$")
_REF_AFTER = re.compile(r"\s*\)?\s*(?:in|within|of|for|at)\s+(?:the\s+)?(?:mediastinal\s+|aortic\s+)?"
                        r"(?:blood\s*pool|liver|aort|background|reference|normal)")
LESION = re.compile(
    r"\b(?:nodes?|nodal|lymphadenopathy|adenopathy|nodules?|masse?s?|lesions?|foci|focus|metasta\w*|"
    r"tumou?rs?|deposits?|implants?|avid\w*|hypermetabolic|hypermetabolism|consolidation|thickening|"
    r"opacity|opacities|infiltrate|recurrence|neoplasm|malignan\w*|carcinoma|lymphoma|sarcoma|adenoma|"
    r"spiculated|expressing|concentrating|"
    r"(?:intense|intensely|increased|focal|marked|markedly|moderate|mild|mildly|abnormal|suspicious|avid|"
    r"elevated|high|heterogeneous|new)\s+(?:\w+\s+)?(?:uptake|activity|accumulation|disease))\b"
)

PRE_WINDOW = 48
_NAN = float("nan")
# cheap substring tests that skip a regex when its keywords cannot be there (lower-case text)
_SLICE_HINTS = ("im", "sl", "sec", "cut", "ax", "#")
# Without its trailing white space and ".:#=", the text before a number ends with one of these words when
# _PRE_SLICE or _PRE_SERIES can match ("image #", "slice no. 4", "series: 2"): a test that skips the regex
_TAIL = (  # the characters regex \\s matches (str.isspace), and ".:#="
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000.:#="
)
_SLICE_ENDS = ("images", "image", "imgs", "img", "im", "slices", "slice", "sl", "sections", "section", "cuts", "cut",
               "axial", "no", "number", "num", "nr")
_SERIES_ENDS = ("series", "ser", "se", "sr", "no", "number")
_PRIOR_HINTS = ("prev", "prior", "before", "earlier", "baseline", "former", "vs", "versus", "compar", "from",
                "had been")
_CURRENT_HINTS = ("now", "current", "today", "present")
REF_HINTS = ("pool", "liver", "hepat", "backg", "refer", "normal", "thresh", "cut", "physiol", "deauv", "mean")
_CHANGE_HINTS = ("→", "->", "=>", "⟶", "➔", "➝", "⇒", "from")
_OTHER_SUV = ("peak", "mean", "avg", "average")
_KEPT_ROLES = frozenset(("suv", "slice", "prior", "ref", "series", "other", "suv_other"))


@dataclass(slots=True)
class Num:
    """A number of the sentence and the role its context gives it."""

    start: int
    end: int
    value: float
    text: str
    role: str = ""  # suv, suv_other, prior, slice, series, ref, other, unit, range
    group: int = -1  # numbers of one list ("2.7 and 3.5") share a group
    slice_value: int | None = None
    slice_end: int = -1
    refused: str = ""  # why the number is not read ("" when it is; then ``value`` is NaN): see _read


def lower(text: str) -> str:
    """Lower-case text of the same length (for matching at the original offsets)."""
    low = text.lower()
    return low if len(low) == len(text) else "".join(c.lower()[:1] or c for c in text)


def has_any(text: str, words: tuple[str, ...]) -> bool:
    """Does ``text`` contain one of ``words``? (a plain loop: several times faster than any() on a generator)"""
    for w in words:  # noqa: SIM110
        if w in text:
            return True
    return False


def _read(text: str) -> tuple[float, str]:
    """(value, "") of a number as written, or (NaN, why) for one that is not read: exponent notation, a comma
    followed by three or more digits (digit groups or decimals?), more than MAX_DIGITS digits before the
    point, more than one point or comma ("12.3.4", "3.1,4"). Never another value than the one written."""
    if "e" in text:
        return _NAN, "exponent notation"
    if text.count(".") + text.count(",") > 1:
        return _NAN, "more than one decimal point or comma"
    whole, comma, decimals = text.partition(",")
    if comma and len(decimals) > 2:
        return _NAN, "digit groups or three decimals after a comma"
    if len(whole.partition(".")[0]) > MAX_DIGITS:
        return _NAN, "too many digits"
    return float(whole + "." + decimals if comma else text), ""


def _numbers(low: str) -> list[Num]:
    """The numbers of the sentence: "12.3", "3,8" (decimal comma); not ".5" nor a part of "1,234" or "1e5"."""
    out = []
    if not low.isascii():
        for m in _NUM.finditer(low):
            text = m.group()
            value, refused = _read(text)
            out.append(Num(m.start(), m.end(), value, text, refused=refused))
        return out
    for m in _NUM_ASCII.finditer(low):
        start, end = m.span()
        # a number right after "." or "d," (".5", "3.1,4.2"): the regex cannot look behind cheaply
        if start and ((c := low[start - 1]) == "." or (c == "," and start > 1 and "0" <= low[start - 2] <= "9")):
            continue
        text = low[start:end]
        if end - start <= MAX_DIGITS and text.count(".") < 2 and "," not in text and "e" not in text:
            out.append(Num(start, end, float(text), text))  # the common case, read at once
        else:
            value, refused = _read(text)
            out.append(Num(start, end, value, text, refused=refused))
    return out


def classify(low: str) -> list[Num]:
    """Every number of the lower-cased sentence ``low`` with its role (see report.parse)."""
    nums = _numbers(low)
    if not nums:
        return nums
    maybe_ref = has_any(low, REF_HINTS)
    maybe_slice = has_any(low, _SLICE_HINTS)
    maybe_series = "se" in low or "sr" in low
    maybe_prior = has_any(low, _PRIOR_HINTS)
    maybe_current = has_any(low, _CURRENT_HINTS)
    maybe_suv = "suv" in low or "uptake value" in low
    prior_paren = "(" in low and _PRIOR_PAREN.search(low) is not None
    parens: tuple[list[int], list[int]] | None = None  # made when first needed
    _preset_roles(low, nums)
    group_id = 0
    suvs_before_prev = 0  # current SUVs among the numbers before ``prev`` (counted as they become final)
    prev: Num | None = None
    for n in nums:
        pre = low[n.start - PRE_WINDOW if n.start > PRE_WINDOW else 0:n.start]
        rev = pre[::-1]  # for the backward patterns (report.backwards)
        post = low[n.end:n.end + 40]
        gap = low[prev.end:n.start] if prev is not None else ""
        tail = pre.rstrip(_TAIL)
        slice_m = bw.PRE_SLICE.match(rev) if maybe_slice and tail.endswith(_SLICE_ENDS) else None
        if n.role:  # set by a change, range or shorthand pattern
            pass
        elif prev is not None and prev.role in ("slice", "other") and "." not in n.text and _RANGE_GAP.fullmatch(gap):
            # "images 140-150": one lesion over a range; keep the middle image
            if prev.role == "slice":
                if prev.refused or n.refused:  # a range with an end that is not read is not read either
                    prev.refused, prev.slice_value = prev.refused or n.refused, None
                else:
                    prev.slice_value = (int(prev.value) + int(n.value)) // 2
                prev.slice_end = n.end
            n.role = "range"
        elif (pre_unit := bw.UNIT_BEFORE.match(rev, 0, 10)) or _POST_UNIT.match(post):
            n.role = "unit"
            if slice_m and not pre_unit:
                n.role = "slice"  # "image 145/300"
        elif slice_m or (maybe_slice and "#" in pre and bw.PRE_SLICE_HASH.match(rev)):
            plane = (slice_m.group("plane") or "")[::-1] if slice_m else ""
            plane = plane or ((pm := _POST_PLANE.match(post)) and pm.group("plane"))
            n.role = "slice" if not plane or plane.startswith(("ax", "trans")) else "other"
            if (pm := _POST_PRIOR.match(post)) and not _NUMBER_NEXT.match(post, pm.end()):
                n.role = "other"  # "image 95 of the prior exam"
        elif maybe_series and tail.endswith(_SERIES_ENDS) and bw.PRE_SERIES.match(rev):
            n.role = "series"
        elif (
            prev is not None
            and prev.role in _KEPT_ROLES
            and _LIST_GAP.fullmatch(gap)
            and ("." in n.text or _LIST_END.match(post))
            and not (maybe_prior and has_any(pre, _PRIOR_HINTS) and bw.PRE_PRIOR.match(rev))
        ):
            n.role = prev.role
            if prev.group < 0:
                group_id += 1
                prev.group = group_id
            n.group = prev.group
        elif maybe_current and bw.PRE_CURRENT.match(rev) and (prev is not None or SUV_ANY.search(low)):
            n.role = "suv"
            # "SUV max was 5.4, now 3.1": the value before "now" is the prior one
            if prev is not None and prev.role == "suv" and n.start - prev.end < 24 and " and " not in gap:
                prev.role = "prior"
        elif (pm := _POST_PRIOR.match(post)) and not _NUMBER_NEXT.match(post, pm.end()) and (
            "." in n.text or SUV_ANY.search(pre)
        ):
            n.role = "prior"
        elif maybe_prior and has_any(pre, _PRIOR_HINTS) and bw.PRE_PRIOR.match(rev):
            n.role = "prior" if ("." in n.text or SUV_ANY.search(pre)) else "other"
        elif maybe_suv and ("suv" in pre or "uptake value" in pre) and bw.PRE_SUV.match(rev):
            n.role = "suv"
            if has_any(pre, _OTHER_SUV) and _other_suv_kind(_PRE_SUV.search(pre).group(1)):
                n.role = "suv_other"  # SUVmean, SUVpeak
        elif (
            prev is not None and prev.role == "slice" and _PARALLEL_GAP.fullmatch(gap)
            and ("." in n.text or _LIST_END.match(post)) and suvs_before_prev
        ):
            n.role = "suv"  # "SUVmax 2.3 (image 300) and 3.4 (image 305)"
        elif "." in n.text and (k := SUV_ANY.search(low, prev.end if prev else 0, n.start)) and (
            n.start - k.end() < 48 and not _SUV_OTHER.match(k.group())
        ):
            n.role = "suv"  # "the SUVmax of the dominant node is 8.9"
        else:
            n.role = "other"
        if prior_paren and (n.role in ("suv", "slice", "series") or (n.role == "other" and "." in n.text)) and (
            _in_prior_paren(low, n.start, parens or (parens := _parens(low)))
        ):
            n.role = "prior" if n.role in ("suv", "other") else "other"  # "(previously 2.1 cm, SUV 9.8 on image 95)"
        if maybe_ref and (n.role == "suv" or n.role == "prior") and _is_reference(low, n, prev):
            n.role = "ref"
        if n.role == "slice":
            n.slice_end = -1
            if n.refused or "." in n.text or "," in n.text:  # still an image number, for pairing; not read
                n.slice_value = None
                n.refused = n.refused or "not a whole number"
            else:
                n.slice_value = int(n.text)  # exact (at most MAX_DIGITS digits)
        if n.role != "range":
            if prev is not None and prev.role == "suv":  # only the number just before can still change role
                suvs_before_prev += 1
            prev = n
    return nums


def _other_suv_kind(keyword: str) -> bool:
    """SUVpeak / SUVmean / average SUV: not the SUVmax."""
    return "peak" in keyword or "mean" in keyword or "avg" in keyword or "average" in keyword


def _preset_roles(low: str, nums: list[Num]) -> None:
    """Roles fixed by patterns spanning two numbers: changes, SUV ranges, "(4/120)" shorthand."""
    if len(nums) < 2:
        return
    change = has_any(low, _CHANGE_HINTS)
    ranging = "rang" in low or "between" in low
    if not (change or ranging or "(" in low):
        return
    by_start = {n.start: n for n in nums}
    if change:
        for m in _CHANGE.finditer(low):
            a, b = ("a", "b") if m.group("a") else (("c", "d") if m.group("c") else ("f", "e"))
            prior_n, cur_n = by_start.get(m.start(a)), by_start.get(m.start(b))
            if prior_n is None or cur_n is None:
                continue
            if a == "a" and not SUV_ANY.search(low, max(0, m.start() - PRE_WINDOW), m.end()):
                continue  # an arrow between two non-SUV numbers
            if a != "a" and not SUV_ANY.search(low, max(0, m.start() - 2 * PRE_WINDOW), m.end()):
                continue
            if a == "c" and _RANGING.search(low, max(0, m.start() - 24), m.start()):
                continue  # "SUVmax ranging from 3.1 to 5.6": a spread, not a change
            prior_n.role, cur_n.role = "prior", "suv"
    if ranging:  # "SUVmax ranging from 3.1 to 5.6": the maximum is the SUVmax
        for m in _RANGE_SUV.finditer(low):
            lo_n, hi_n = by_start.get(m.start("lo")), by_start.get(m.start("hi"))
            if lo_n is not None and hi_n is not None:
                if lo_n.refused or hi_n.refused:  # the maximum is unknown: the end not read is the SUVmax
                    lo_n, hi_n = (hi_n, lo_n) if lo_n.refused else (lo_n, hi_n)
                else:
                    lo_n, hi_n = sorted((lo_n, hi_n), key=lambda x: x.value)
                lo_n.role, hi_n.role = "suv_other", "suv"
    if "(" in low:
        for m in _SHORTHAND.finditer(low):  # "(4/120)", "(se 4: im 120)"
            se, im = by_start.get(m.start("se")), by_start.get(m.start("im"))
            if se is not None and im is not None:
                se.role, im.role = "series", "slice"


def _parens(low: str) -> tuple[list[int], list[int]]:
    """Positions of every "(" and every ")" of the sentence, for _in_prior_paren."""
    opens: list[int] = []
    closes: list[int] = []
    for m in _PAREN.finditer(low):
        (opens if m.group() == "(" else closes).append(m.start())
    return opens, closes


def _in_prior_paren(low: str, pos: int, parens: tuple[list[int], list[int]]) -> bool:
    """Inside a parenthesis that starts with "previously"/"prior": the whole aside is about the old exam.
    ``parens`` (from _parens) are looked up, so a long sentence is not scanned again for every number."""
    opens, closes = parens
    i = bisect_left(opens, pos)
    if not i:
        return False
    open_at = opens[i - 1]  # the last "(" before pos
    k = bisect_left(closes, open_at)
    if k < len(closes) and closes[k] < pos:  # closed again before pos
        return False
    return bool(_PRIOR_PAREN.match(low, open_at))


def _is_reference(low: str, n: Num, prev: Num | None) -> bool:
    """An SUV of the blood pool, the liver background or a threshold rather than of a lesion."""
    start = prev.end if prev is not None else 0
    whole = low[start:n.start]
    if REF.search(whole):  # (a clause of ``whole`` can name a reference only if ``whole`` does)
        zone = whole
        for sep in ",;(":
            cut = zone.rfind(sep)
            # a clause boundary before this number's own keyword: the reference must be in this clause
            if cut >= 0 and not SUV_ANY.search(zone, 0, cut) and not REF.search(zone, cut) and SUV_ANY.search(zone, cut):
                zone = zone[cut:]
        if REF.search(zone):
            return True
    if "liver" in whole or "hepatic" in whole:
        clause = whole[max(whole.rfind(","), whole.rfind(";")) + 1:]
        if bw.LIVER_BEFORE.match(whole[::-1]) and not LESION.search(clause):
            return True
    return bool(_REF_AFTER.match(low, n.end, n.end + 40))
