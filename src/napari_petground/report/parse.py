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
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ReportError
from .finding import Finding, Span
from .lexicon import REFERENCE_PHRASES, SITES, TRACERS
from .sentences import split_sentences

I = re.IGNORECASE  # noqa: E741

_NUM = re.compile(r"(?<![\d.])(?<!\d,)\d+(?:\.\d+|,\d{1,2}(?!\d))?(?!\d)")
_SUVKW = (
    r"(?:suv\s*[-_]?\s*\(?(?:max(?:imum|imal)?|ₘₐₓ|peak|mean|avg|average|bw\s*max|lbm\s*max)\b\)?\.?"
    r"|(?:max(?:imum|imal)?|peak|mean|average)\.?\s+(?:suv|standardi[sz]ed\s+uptake\s+values?)(?:\s*\(suv\))?"
    r"|standardi[sz]ed\s+uptake\s+values?(?:\s*\(suv\s*(?:max)?\))?(?:\s*max(?:imum)?)?"
    r"|suvs?\b)"
)
_FILLER = (
    r"(?:[\s:=~≈(,\[]|'s\b|\b(?:of|is|was|were|measuring|measures|measured|up\s+to|approximately|approx\.?|about|"
    r"around|roughly|nearly|value|values|level|reaching|at|now|currently|today|an?|the|the\s+order\s+of|"
    r"on\s+the\s+order\s+of|observed|calculated|noted|seen|max)\b)*"
)
_PRE_SUV = re.compile("(" + _SUVKW + ")" + _FILLER + r"$", I)
_PRE_SLICE = re.compile(
    r"(?:\b(?P<plane>coronal|sagittal|axial|transaxial|transverse|cor|sag|ax|mip)\.?[\s/-]*)?"
    r"\b(?:images?|imgs?|im|slices?|sl|sections?|cuts?)\b\.?\s*(?:(?:no\.?|number|num|nr\.?)\s*)?[:#=]?\s*#?\s*$"
    r"|\b(?P<axial>axial|transaxial)\s*[:#]?\s*$",
    I,
)
_PRE_SLICE_HASH = re.compile(r"(?:^|[\s(,])#\s*$")
_PRE_SERIES = re.compile(r"\b(?:series|ser|se|sr)\b\.?\s*(?:(?:no\.?|number|#)\s*)?[:#=]?\s*$", I)
_POST_PLANE = re.compile(
    r"^\s*\)?\s*(?:of|on|in|from)\s+(?:the\s+)?(?:fused\s+|pet\s+|ct\s+)?(?P<plane>coronal|sagittal|axial|"
    r"transaxial|mip|maximum\s+intensity)",
    I,
)
_POST_UNIT = re.compile(
    r"^\s*(?:cm|mm|ml|mls|cc|%|x\b|×|\*\s*\d|by\s+\d|mci|mbq|gbq|min|mins|minutes|kg|lbs?|hours?|hrs?|h\b|"
    r"years?|yrs?|yo\b|y/o|-year|days?|weeks?|wks?|months?|mos?\b|mg|g/dl|ng|hu\b|sec|seconds?|mm3|ml/)",
    I,
)
_PRE_UNIT = re.compile(r"(?:\b(?:x|by)|×|\*)\s*$|\d\s*/\s*$|[a-z]$|-$|\bday\s*$", I)
_POST_DATE = re.compile(r"^\s*/\s*\d|^-\d{2}-", I)
_POST_PRIOR = re.compile(
    r"^\s*\)?\s*,?\s*(?:previously|prior\b(?!\s+to\s+(?:this|the\s+current))|before\b|earlier|formerly|"
    r"at\s+baseline|(?:on|in|at|of)\s+(?:the\s+)?(?:prior|previous|preceding|baseline|last|earlier|old|"
    r"comparison|interim|initial|pre-?treatment)\b|(?:on|in)\s+(?:\d{1,2}/|\d{4}\b|(?:jan|feb|mar|apr|may|jun|"
    r"jul|aug|sep|oct|nov|dec)[a-z]*))",
    I,
)
_PRE_PRIOR = re.compile(
    r"\b(?:previously|previous|prior|before|earlier|baseline|formerly|vs\.?|versus|compared(?:\s+(?:to|with))?|"
    r"(?:down|up|decreased|increased|reduced|declined|risen|rising|falling)?\s*from|was\s+previously|"
    r"had\s+been|in\s+comparison\s+(?:to|with))"
    r"[\s:=(,]*(?:(?:an?|the|its)\s+)?(?:" + _SUVKW + r")?" + _FILLER + r"$",
    I,
)
_PRE_CURRENT = re.compile(
    r"\b(?:now|currently|today|presently|at\s+present|on\s+(?:the\s+)?(?:current|present)\s+(?:study|exam|scan))"
    r"[\s:=(,]*(?:(?:an?|the|its)\s+)?(?:" + _SUVKW + r")?" + _FILLER + r"$",
    I,
)
_PRIOR_PAREN = re.compile(r"\(\s*(?:previously|previous|prior|before|baseline|was|on\s+(?:the\s+)?prior)\b", I)
_PARALLEL_GAP = re.compile(r"^\s*[)\]]\s*(?:,\s*and|,|and|&)\s*$", I)
_NUMBER_NEXT = re.compile(r"^[\s:=,(]*(?:" + _SUVKW + r")?[\s:=]*(?:of\s+)?\d", I)
_LIST_GAP = re.compile(r"^\s*(?:,\s*and|,\s*or|,|and|or|&|/|\+)\s*$", I)
_RANGE_GAP = re.compile(r"^\s*(?:-|–|—|to|through|thru)\s*$", I)
_LIST_END = re.compile(r"^\s*(?:[,;.)\]]|and\b|or\b|&|respectively|in\b|on\b|at\b|within\b|\(|$)", I)
_CHANGE = re.compile(
    r"(?P<a>(?<![\d.])\d+(?:\.\d+)?)\s*(?:→|->|-->|=>|⟶|➔|➝|⇒)\s*(?:" + _SUVKW + r"\s*)?(?P<b>\d+(?:\.\d+)?)"
    r"|\bfrom\s+(?:(?:an?|the)\s+)?(?:" + _SUVKW + r"\s*)?(?:of\s+)?(?P<c>\d+(?:\.\d+)?)\s*"
    r"(?:(?:on|in)\s+(?:the\s+)?(?:prior|previous|baseline)\s+(?:study|exam|scan)\s*)?"
    r"(?:,\s*)?(?:to|→|->)\s+(?:(?:an?|the)\s+)?(?:" + _SUVKW + r"\s*)?(?:of\s+)?(?P<d>\d+(?:\.\d+)?)"
    r"|\bto\s+(?:(?:an?|the)\s+)?(?:" + _SUVKW + r"\s*)?(?:of\s+)?(?P<e>\d+(?:\.\d+)?)\s*,?\s*(?:\([^)]*\)\s*)?"
    r"(?:down\s+|up\s+)?from\s+(?:(?:an?|the)\s+)?(?:" + _SUVKW + r"\s*)?(?:of\s+)?(?P<f>\d+(?:\.\d+)?)",
    I,
)
_SUV_ANY = re.compile(_SUVKW, I)
_RANGING = re.compile(r"\brang(?:e|es|ed|ing)\b", I)
_RANGE_SUV = re.compile(
    r"\b(?:rang(?:e|es|ed|ing)|between)\s+(?:of\s+|from\s+)?(?P<lo>\d+(?:\.\d+)?)\s*(?:to|-|–|and)\s*(?P<hi>\d+(?:\.\d+)?)", I
)
_SUV_OTHER = re.compile(r".*(?:peak|mean|avg|average)", I)
_SHORTHAND = re.compile(
    r"\(\s*(?:series|ser|se)?\.?\s*(?P<se>\d{1,2})\s*[/:,]\s*(?:images?|im|img)?\.?\s*(?P<im>\d{1,4})\s*\)", I
)
_RESOLVED = re.compile(r"\b(?:resolved|resolution|no\s+longer|disappeared|interval\s+clearance)\b", I)
_RESPECTIVELY = re.compile(r"\brespectively\b", I)

_REF_WORDS = sorted({p.lower() for p in REFERENCE_PHRASES} | {
    "blood pool", "bloodpool", "blood-pool", "background", "threshold", "cutoff",
    "cut-off", "mean liver", "liver parenchyma", "hepatic parenchyma", "liver activity", "liver uptake",
    "hepatic activity", "hepatic uptake", "liver reference", "liver mean", "normal hepatic", "spleen activity",
    "physiologic", "physiological", "deauville",
}, key=len, reverse=True)
_REF = re.compile(r"\b(?:" + "|".join(re.escape(w) for w in _REF_WORDS) + r")\b", I)
_LIVER_BEFORE = re.compile(r"\b(?:liver|hepatic)\b[\s(:]*(?:" + _SUVKW + r")?" + _FILLER + r"$", I)
_LESION = re.compile(
    r"\b(?:nodes?|nodal|lymphadenopathy|adenopathy|nodules?|masse?s?|lesions?|foci|focus|metasta\w*|"
    r"tumou?rs?|deposits?|implants?|avid\w*|hypermetabolic|hypermetabolism|consolidation|thickening|"
    r"opacity|opacities|infiltrate|recurrence|neoplasm|malignan\w*|carcinoma|lymphoma|sarcoma|adenoma|"
    r"spiculated|expressing|concentrating|"
    r"(?:intense|intensely|increased|focal|marked|markedly|moderate|mild|mildly|abnormal|suspicious|avid|"
    r"elevated|high|heterogeneous|new)\s+(?:\w+\s+)?(?:uptake|activity|accumulation|disease))\b",
    I,
)
_NEGATED = re.compile(
    r"^\W*(?:no|none|without|negative|absent)\b|\b(?:no|not|without|negative\s+for|resolved|resolution|"
    r"no\s+longer|unremarkable|within\s+normal\s+limits|physiologic(?:al)?|normal|non-?avid|non-?fdg|"
    r"nonspecific|benign|excreted|excretion|unchanged\s+in\s+appearance|absent|disappeared|"
    r"interval\s+resolution)\b",
    I,
)
_SEMICOLON = re.compile(r";")
_SIDE = re.compile(
    r"\b(?P<side>right|left|rt|lt|bilateral|bilaterally|both|bilat)\b(?:-sided)?|\b(?P<lobe>rul|rml|rll|lul|lll)\b",
    I,
)
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


_SITE = re.compile(
    r"\b(?:" + _trie_pattern([s.replace(" node", _NODE) for s in _SYNONYMS]) + r")(?:e?s)?\b", I
)
_LYMPH = re.compile(r"\s+lymph(?=\s+node)", I)
_TRACER_SYNONYMS: dict[str, str] = {syn.lower(): name for name, syns in TRACERS.items() for syn in syns}
_TRACER = re.compile(
    r"(?<![\w-])(?:" + "|".join(re.escape(s) for s in sorted(_TRACER_SYNONYMS, key=len, reverse=True)) + r")(?![a-z])",
    I,
)
_DIGIT = re.compile(r"\d")

PRE_WINDOW = 48
# cheap substring tests that skip a regex when its keywords cannot be there (lower-case text)
_SLICE_HINTS = ("im", "sl", "sec", "cut", "ax", "#")
_PRIOR_HINTS = ("prev", "prior", "before", "earlier", "baseline", "former", "vs", "versus", "compar", "from",
                "had been")
_CURRENT_HINTS = ("now", "current", "today", "present")
_REF_HINTS = ("pool", "liver", "hepat", "backg", "refer", "normal", "thresh", "cut", "physiol", "deauv", "mean")
_CHANGE_HINTS = ("→", "->", "=>", "⟶", "➔", "➝", "⇒", "from")
_TRACER_HINTS = ("fdg", "psma", "dota", "fluci", "axumin", "pylar", "piflu", "netspot", "somato", "facbc",
                 "fluorode", "dcfpyl")


@dataclass
class _Num:
    start: int
    end: int
    value: float
    text: str
    role: str = ""  # suv, prior, slice, series, ref, other, unit
    group: int = -1  # numbers of one list ("2.7 and 3.5") share a group
    slice_value: int | None = None
    slice_end: int = -1


@dataclass
class _Draft:
    suv: _Num | None = None
    slice: _Num | None = None
    series: _Num | None = None
    prior: _Num | None = None
    first: int = 10**9
    last: int = -1

    def touch(self, n: _Num) -> None:
        self.first = min(self.first, n.start)
        self.last = max(self.last, n.slice_end if n.slice_end > 0 else n.end)


def _value(text: str) -> float:
    return float(text.replace(",", "."))


def _lower(text: str) -> str:
    """Lower-case text of the same length (for substring tests at the original offsets)."""
    low = text.lower()
    return low if len(low) == len(text) else "".join(c.lower()[:1] or c for c in text)


def _classify(sentence: str) -> list[_Num]:
    nums = [_Num(m.start(), m.end(), _value(m.group()), m.group()) for m in _NUM.finditer(sentence)]
    if not nums:
        return nums
    by_start = {n.start: n for n in nums}
    low = _lower(sentence)
    maybe_ref = any(k in low for k in _REF_HINTS)
    changes = _CHANGE.finditer(sentence) if any(k in low for k in _CHANGE_HINTS) else ()
    for m in changes:
        a, b = ("a", "b") if m.group("a") else (("c", "d") if m.group("c") else ("f", "e"))
        prior_n, cur_n = by_start.get(m.start(a)), by_start.get(m.start(b))
        if prior_n is None or cur_n is None:
            continue
        if a == "a" and not _SUV_ANY.search(sentence, max(0, m.start() - PRE_WINDOW), m.end()):
            continue  # an arrow between two non-SUV numbers
        if a != "a" and not _SUV_ANY.search(sentence, max(0, m.start() - 2 * PRE_WINDOW), m.end()):
            continue
        if a == "c" and _RANGING.search(sentence, max(0, m.start() - 24), m.start()):
            continue  # "SUVmax ranging from 3.1 to 5.6": a spread, not a change
        prior_n.role, cur_n.role = "prior", "suv"
    for m in _RANGE_SUV.finditer(sentence) if ("rang" in low or "between" in low) else ():  # "SUVmax ranging from 3.1 to 5.6": the maximum is the SUVmax
        lo_n, hi_n = by_start.get(m.start("lo")), by_start.get(m.start("hi"))
        if lo_n is not None and hi_n is not None:
            lo_n, hi_n = sorted((lo_n, hi_n), key=lambda x: x.value)
            lo_n.role, hi_n.role = "suv_other", "suv"
    for m in _SHORTHAND.finditer(sentence):  # "(4/120)", "(se 4: im 120)"
        se, im = by_start.get(m.start("se")), by_start.get(m.start("im"))
        if se is not None and im is not None:
            se.role, im.role = "series", "slice"
    group_id = 0
    prev: _Num | None = None
    for n in nums:
        lo = max(0, n.start - PRE_WINDOW)
        pre = sentence[lo:n.start]
        lp = low[lo:n.start]
        post = sentence[n.end:n.end + 40]
        slice_kw = any(k in lp for k in _SLICE_HINTS)
        gap = sentence[prev.end:n.start] if prev is not None else ""
        if n.role:  # set by a change pattern
            pass
        elif prev is not None and prev.role in ("slice", "other") and _RANGE_GAP.match(gap) and "." not in n.text:
            # "images 140-150": one lesion over a range; keep the middle image
            if prev.role == "slice":
                prev.slice_value = (int(prev.value) + int(n.value)) // 2
                prev.slice_end = n.end
            n.role = "range"
        elif _POST_UNIT.match(post) or _PRE_UNIT.search(pre[-10:]) or _POST_DATE.match(post):
            n.role = "unit"
            if slice_kw and _PRE_SLICE.search(pre) and not _PRE_UNIT.search(pre[-10:]):
                n.role = "slice"  # "image 145/300"
        elif slice_kw and ((m := _PRE_SLICE.search(pre)) or _PRE_SLICE_HASH.search(pre)):
            plane = (m.group("plane") if m else None) or ((pm := _POST_PLANE.match(post)) and pm.group("plane"))
            n.role = "slice" if not plane or plane.lower().startswith(("ax", "trans")) else "other"
            if (pm := _POST_PRIOR.match(post)) and not _NUMBER_NEXT.match(post[pm.end():]):
                n.role = "other"  # "image 95 of the prior exam"
        elif ("se" in lp or "sr" in lp) and _PRE_SERIES.search(pre):
            n.role = "series"
        elif (
            prev is not None
            and prev.role in ("suv", "slice", "prior", "ref", "series", "other", "suv_other")
            and _LIST_GAP.match(gap)
            and ("." in n.text or _LIST_END.match(post))
            and not (any(k in lp for k in _PRIOR_HINTS) and _PRE_PRIOR.search(pre))
        ):
            n.role = prev.role
            if prev.group < 0:
                group_id += 1
                prev.group = group_id
            n.group = prev.group
        elif any(k in lp for k in _CURRENT_HINTS) and _PRE_CURRENT.search(pre) and (prev is not None or _SUV_ANY.search(sentence)):
            n.role = "suv"
            # "SUV max was 5.4, now 3.1": the value before "now" is the prior one
            if prev is not None and prev.role == "suv" and n.start - prev.end < 24 and " and " not in gap:
                prev.role = "prior"
        elif (pm := _POST_PRIOR.match(post)) and not _NUMBER_NEXT.match(post[pm.end():]) and (
            _SUV_ANY.search(pre) or "." in n.text
        ):
            n.role = "prior"
        elif any(k in lp for k in _PRIOR_HINTS) and _PRE_PRIOR.search(pre):
            n.role = "prior" if ("." in n.text or _SUV_ANY.search(pre)) else "other"
        elif ("suv" in lp or "uptake value" in lp) and (m := _PRE_SUV.search(pre)):
            kw = m.group(1).lower()
            n.role = "suv_other" if ("peak" in kw or "mean" in kw or "avg" in kw or "average" in kw) else "suv"
        elif (
            prev is not None and prev.role == "slice" and _PARALLEL_GAP.match(gap)
            and any(p.role == "suv" for p in nums if p.end <= prev.start) and ("." in n.text or _LIST_END.match(post))
        ):
            n.role = "suv"  # "SUVmax 2.3 (image 300) and 3.4 (image 305)"
        elif "." in n.text and (k := _SUV_ANY.search(sentence, prev.end if prev else 0, n.start)) and (
            n.start - k.end() < 48 and not _SUV_OTHER.match(k.group())
        ):
            n.role = "suv"  # "the SUVmax of the dominant node is 8.9"
        else:
            n.role = "other"
        if (n.role in ("suv", "slice", "series") or (n.role == "other" and "." in n.text)) and _in_prior_paren(
            sentence, n.start
        ):
            n.role = "prior" if n.role in ("suv", "other") else "other"  # "(previously 2.1 cm, SUV 9.8 on image 95)"
        if n.role in ("suv", "prior") and maybe_ref and _is_reference(sentence, n, prev):
            n.role = "ref"
        if n.role == "slice":
            n.slice_value = int(n.value) if "." not in n.text and "," not in n.text else None
            n.slice_end = -1
            if n.slice_value is None:
                n.role = "other"
        if n.role != "range":
            prev = n
    return nums


def _in_prior_paren(sentence: str, pos: int) -> bool:
    """Inside a parenthesis that starts with "previously"/"prior": the whole aside is about the old exam."""
    open_at = sentence.rfind("(", 0, pos)
    if open_at < 0 or sentence.find(")", open_at, pos) >= 0:
        return False
    return bool(_PRIOR_PAREN.match(sentence, open_at))


def _is_reference(sentence: str, n: _Num, prev: _Num | None) -> bool:
    """An SUV of the blood pool, the liver background or a threshold rather than of a lesion."""
    start = prev.end if prev is not None else 0
    zone = sentence[start:n.start]
    for sep in ",;(":
        cut = zone.rfind(sep)
        # a clause boundary before this number's own keyword: the reference must be in this clause
        if cut >= 0 and not _SUV_ANY.search(zone, 0, cut) and not _REF.search(zone, cut) and _SUV_ANY.search(zone, cut):
            zone = zone[cut:]
    if _REF.search(zone):
        return True
    whole = sentence[start:n.start]
    clause = whole[max(whole.rfind(","), whole.rfind(";")) + 1:]
    if _LIVER_BEFORE.search(whole) and not _LESION.search(clause):
        return True
    post = sentence[n.end:n.end + 40]
    return bool(re.match(r"^\s*\)?\s*(?:in|within|of|for|at)\s+(?:the\s+)?(?:mediastinal\s+|aortic\s+)?"
                         r"(?:blood\s*pool|liver|aort|background|reference|normal)", post, I))


def _pair(nums: list[_Num], sentence: str) -> list[_Draft]:
    """Group roles into findings (see module docstring)."""
    suvs = [n for n in nums if n.role == "suv"]
    slices = [n for n in nums if n.role == "slice"]
    respectively = bool(_RESPECTIVELY.search(sentence))
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
        semis = [m.start() for m in _SEMICOLON.finditer(sentence) if sentence.count("(", 0, m.start())
                 <= sentence.count(")", 0, m.start())]
        one_group = len({v.group for v in suvs}) == 1 and suvs[0].group >= 0
        cur: _Draft | None = None
        events = sorted(suvs + slices, key=lambda n: n.start)
        for n in events:
            if cur is not None and any(cur.last <= s < n.start for s in semis):
                cur = None
            if n.role == "suv":
                if cur is None or cur.suv is not None:
                    cur = _Draft()
                    drafts.append(cur)
                cur.suv = n
            else:
                if cur is None or cur.slice is not None:
                    if one_group and drafts:
                        for d in drafts:  # "SUV 3.1 and 4.2 on image 120": both on that image
                            if d.slice is None:
                                d.slice = n
                        continue
                    cur = _Draft()
                    drafts.append(cur)
                cur.slice = n
            cur.touch(n)
        if one_group and len(slices) == 1:
            for d in drafts:
                d.slice = d.slice or slices[0]
    # series: the nearest series number, or the only one
    series = [n for n in nums if n.role == "series"]
    for d in drafts:
        if not series:
            break
        anchor = d.slice.start if d.slice else (d.suv.start if d.suv else 0)
        d.series = min(series, key=lambda s: abs(s.start - anchor))
    # prior values: the nearest finding
    for p in (n for n in nums if n.role == "prior"):
        if not drafts:
            break
        target = min(drafts, key=lambda d: 0 if d.first <= p.start <= d.last else
                     min(abs(p.start - d.last), abs(p.start - d.first)))
        if target.prior is None:
            target.prior = p
            target.touch(p)
    return drafts


def _mask_reference(sentence: str) -> str:
    low = _lower(sentence)
    if not any(k in low for k in _REF_HINTS):
        return sentence
    return _REF.sub(lambda m: " " * len(m.group()), sentence)


def _sides(text: str) -> list[tuple[str, int, int, str]]:
    """(side, start, end, lobe site) mentions in order."""
    out = []
    for m in _SIDE.finditer(text):
        if m.group("lobe"):
            side, site = _LOBES[m.group("lobe").lower()]
            out.append((side, m.start(), m.end(), site))
        else:
            word = m.group("side").lower()
            if word == "both" and not re.match(r"\s+(?:sides|lungs|hila|axillae|kidneys|adrenals|"
                                               r"\w+\s+(?:nodes|lungs))", text[m.end():m.end() + 30], I):
                continue
            out.append((_SIDE_WORDS[word], m.start(), m.end(), ""))
    return out


def _describe(finding: Finding, text: str, lo: int, hi: int, respectively_index: int | None,
              n_findings: int) -> None:
    """Side and site from the words of this finding's part of the sentence."""
    sides = _sides(text)
    sites = [(m.start(), m.end(), _site_key(m.group())) for m in _SITE.finditer(text)]
    if respectively_index is not None and len(sides) == n_findings:
        chosen_sides = [sides[respectively_index]]
    else:
        chosen_sides = [s for s in sides if lo <= s[1] < hi] or ([] if n_findings > 1 else sides)
        if not chosen_sides and n_findings > 1:
            chosen_sides = [s for s in sides if s[1] >= hi][:1] or [s for s in sides if s[1] < lo][-1:]
    if respectively_index is not None and len(sites) == n_findings:
        chosen_sites = [sites[respectively_index]]
    else:
        chosen_sites = [s for s in sites if lo <= s[0] < hi] or ([] if n_findings > 1 else sites)
        if not chosen_sites and n_findings > 1:
            chosen_sites = [s for s in sites if s[0] >= hi][:1] or [s for s in sites if s[0] < lo][-1:]
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
                finding.spans["laterality"] = Span(pick[1], pick[2])
        else:
            finding.laterality = chosen_sides[0][0]
            finding.spans["laterality"] = Span(chosen_sides[0][1], chosen_sides[0][2])
    if chosen_sites:
        s0 = chosen_sites[0]
        finding.site = s0[2]
        finding.spans["site"] = Span(s0[0], s0[1])
    elif lobe := next((s for s in chosen_sides if s[3]), None):
        finding.site = lobe[3]
        finding.spans["site"] = Span(lobe[1], lobe[2])


def _site_key(phrase: str) -> str:
    """Lexicon key of a matched phrase ("hilar lymph nodes" -> "hilar_node")."""
    p = " ".join(phrase.lower().split())
    for candidate in (p, _LYMPH.sub("", p)):
        for cut in ("", "es", "s"):
            base = candidate[: -len(cut)] if cut and candidate.endswith(cut) else candidate
            if base in _SYNONYMS:
                return _SYNONYMS[base]
    return ""


def tracer_in(text: str) -> str:
    """Normalised tracer named in ``text`` ("FDG", "PSMA", …) or ""."""
    low = _lower(text)
    if not any(k in low for k in _TRACER_HINTS):
        return ""
    m = _TRACER.search(text)
    return _TRACER_SYNONYMS[m.group().lower()] if m else ""


def findings_in_sentence(sentence: str, *, tracer: str = "", sentence_start: int = 0) -> list[Finding]:
    """Findings of one sentence (see module docstring); ``tracer`` is used when the sentence names none."""
    nums = _classify(sentence) if _DIGIT.search(sentence) else []
    masked = _mask_reference(sentence)
    has_current = any(n.role in ("suv", "slice") for n in nums)
    if not has_current:
        # no current number: a finding only when a lesion is described and not negated
        # ... and says where it is (a side or a site), so that there is something to ground
        if not _LESION.search(masked) or _NEGATED.search(masked):
            return []
        if not _SITE.search(masked) and not _SIDE.search(masked):
            return []
    elif not any(n.role == "suv" for n in nums) and (not _LESION.search(masked) or _RESOLVED.search(masked)):
        return []
    drafts = _pair(nums, sentence)
    sentence_tracer = tracer_in(sentence) or tracer
    respectively = bool(_RESPECTIVELY.search(sentence))
    out: list[Finding] = []
    bounds = [0] + [d.last for d in drafts]
    regions = None
    if len(drafts) > 1:
        cuts = [m.start() for m in _SEMICOLON.finditer(sentence)
                if sentence.count("(", 0, m.start()) <= sentence.count(")", 0, m.start())]
        if len(cuts) == len(drafts) - 1:
            edges = [0, *cuts, len(sentence)]
            regions = [(edges[i], edges[i + 1]) for i in range(len(drafts))]
            if not all(lo <= d.first and d.last <= hi for d, (lo, hi) in zip(drafts, regions, strict=True)):
                regions = None
    for i, d in enumerate(drafts):
        f = Finding(sentence=sentence, tracer=sentence_tracer, sentence_start=sentence_start)
        if d.suv is not None:
            f.suvmax = d.suv.value
            f.spans["suvmax"] = Span(d.suv.start, d.suv.end)
        if d.slice is not None:
            f.slice = d.slice.slice_value
            f.spans["slice"] = Span(d.slice.start, d.slice.slice_end if d.slice.slice_end > 0 else d.slice.end)
        if d.series is not None:
            f.series = int(d.series.value)
            f.spans["series"] = Span(d.series.start, d.series.end)
        if d.prior is not None:
            f.prior_suvmax = d.prior.value
            f.spans["prior_suvmax"] = Span(d.prior.start, d.prior.end)
        if regions is not None:
            lo, hi = regions[i]
        else:
            lo = bounds[i] if len(drafts) > 1 else 0
            hi = d.last if len(drafts) > 1 else len(sentence)
        _describe(f, masked, lo, max(hi, lo + 1), i if (respectively and len(drafts) > 1) else None, len(drafts))
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
