"""Split a pasted report into sentences, keeping each sentence's offset in the report.

Reports are not prose: they carry section headers ("CHEST:"), bullets and numbered lists, hard line
breaks inside sentences, abbreviations ("approx.", "cm.", "Dr.", "vs.") and decimals ("SUV 12.3"). The
splitter walks the text once and cuts at

* blank lines, bullets and list markers at the start of a line, section headers ("Chest:" / "IMPRESSION:");
* a line break whose next line starts with a capital letter or a digit (a new line-per-finding entry),
  unless the previous line ended inside parentheses or on a joining word/comma, or the next line starts
  with an upper-case abbreviation ("SUV max 5.1" wrapped onto it) other than the previous line's first
  word (rows of a pasted table, "LN 3 R hilar ...", are entries of their own);
* ``.``, ``!``, ``?`` followed by white space, outside parentheses, unless the word before the period is a
  known abbreviation or a single letter ("e.g.", "R.", but not the numeral of "segment V.") or the next
  text starts lower case.

Headers and list markers are not part of the sentence text; offsets always point into the original text, so
``text[offset:offset + len(sentence)] == sentence``.

Time is linear in the length of the text, whatever its shape (the GUI parses a pasted report as it is typed):
a line is joined to its block by looking at the block's last few characters only, parenthesis depth is
counted once per character, and runs of punctuation are scanned once.
"""

from __future__ import annotations

import re

# words that end with a period without ending a sentence (lower case, without the period): titles and
# words usually followed by a number or a name ("Dr. Smith", "vs. 5.4", "approx. 2 cm", "im. 145"). Units
# ("2 cm. SUVmax ...") end a sentence when the next word is capitalised, like any other word.
_ABBREVIATION_WORDS = """
approx appr ca cf dr drs mr mrs ms prof st jr sr vs v eg ie al no nos nr num ser se im img sl ax cor
sag fig figs incl esp resp prev ref est jan feb mar apr jun jul aug sep sept oct nov dec
"""
ABBREVIATIONS: frozenset[str] = frozenset(_ABBREVIATION_WORDS.split())
_SECTION_WORDS = """findings impression impressions conclusion conclusions technique procedure history
indication indications comparison comparisons result results report addendum note notes summary
diagnosis opinion recommendation recommendations"""
SECTION_HEADERS: frozenset[str] = frozenset(_SECTION_WORDS.split()) | {
    "clinical history", "clinical information", "pet/ct", "pet", "ct"
}

_LINE_HEADER = re.compile(r"[ \t]*([A-Za-z][A-Za-z /&,()'-]{0,40}?):(?=[ \t]|$)")
_LIST_MARKER = re.compile(r"[ \t]*(?:[-*•·▪◦‣–—>]+|\(?\d{1,2}[.)](?!\d)|\(?[a-hA-H][.)](?=\s))[ \t]*")
# a sentence end: a run of [.!?] (and closing quotes/brackets) before white space or the end. Possessive and
# tried only where a run starts, so a long run ("!!!!…x") costs its length once, not its length squared;
# _SENT_END_HERE is the same without the look-behind, for a block that starts inside a run
_SENT_END_HERE = re.compile(r"[.!?]++[\"')\]]*+(?:(?=\s)|$)")
_SENT_END = re.compile(r"(?<![.!?])" + _SENT_END_HERE.pattern)
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z.]*)$")
# "hepatic segment V." ends a sentence: a Roman numeral after these words is not an initial
_NUMBERED_BEFORE = re.compile(r"\b(?:segment|level|station|stage|grade|type|zone|nerve)\s+$", re.IGNORECASE)
_JOINING_END = re.compile(
    r"(?:[,(\-/&+=:]|\b(?:and|or|of|with|in|at|on|the|a|an|to|from|for|by|measuring|image|images|slice|"
    r"series|suv|suvmax|max|than|vs|versus|compared|previously|approximately|approx\.?|up))\s*$",
    re.IGNORECASE,
)
_JOIN_TAIL = 16  # characters at the end of a block that _JOINING_END can need (its longest word is 13)
_NONSPACE = re.compile(r"\S")
_FIRST_WORD = re.compile(r"\S+")
_ALNUM = re.compile(r"[^\W_]")  # a letter or digit (str.isalnum)


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    """(start, end) without white space at either end."""
    part = text[start:end]
    left = part.lstrip()
    if not left:
        return end, end
    return start + len(part) - len(left), end - (len(left) - len(left.rstrip()))


def _lines(text: str) -> list[tuple[int, int]]:
    """(start, end) of every line, without the newline."""
    spans = []
    start = 0
    for line in text.split("\n"):
        end = start + len(line)
        spans.append((start, end))
        start = end + 1
    return spans


def _same_first_word(text: str, at: int, rest: str) -> bool:
    """Does ``rest`` start with the word that starts at ``at`` (the block's last line)?"""
    head = _FIRST_WORD.match(text, at)
    return head is not None and rest.split(None, 1)[0] == head.group()


def _blocks(text: str) -> list[tuple[int, int]]:
    """Group lines into blocks: a block ends at a blank line, header, bullet or a new capitalised line."""
    blocks: list[tuple[int, int]] = []
    cur_start: int | None = None
    cur_end = 0
    depth = 0  # parenthesis depth carried over line breaks
    line_at = 0  # where the text of the block's last line starts
    for ls, le in _lines(text):
        line = text[ls:le]
        if not line.strip():
            if cur_start is not None:
                blocks.append((cur_start, cur_end))
            cur_start, depth = None, 0
            continue
        start = ls
        new_block = False
        for _ in range(3):  # "IMPRESSION: 1. Liver: ..." — headers and list markers in any order
            header = _LINE_HEADER.match(text, start, le) if text.find(":", start, le) >= 0 else None
            if header and not any(ch.isdigit() for ch in header.group(1)) and len(header.group(1).split()) <= 5:
                name = header.group(1).strip()
                # section headers are dropped; organ headers ("Liver: 2 cm lesion ...") stay as context
                start = header.end() if (name.isupper() or name.lower() in SECTION_HEADERS) else start
                new_block = True
                if start != header.end():
                    break
                continue
            marker = _LIST_MARKER.match(text, start, le)
            if marker and marker.group().strip():
                start, new_block = marker.end(), True
                continue
            break
        if cur_start is not None and not new_block:
            rest = text[start:le].lstrip()
            first = rest[:1]
            acronym = rest[:2].isupper() and rest[:2].isalpha()  # "SUV max ..." continues a wrapped line
            if acronym and _same_first_word(text, line_at, rest):
                acronym = False  # rows of a pasted table ("LN 3 R hilar ...") start alike: each is an entry
            # the block so far ends at cur_end without white space: only its last few characters are
            # looked at (the longest joining word is 13 long), so a long block costs no more per line
            terminal = text[cur_end - 1:cur_end] in ".!?:;"
            joined = (
                depth > 0
                or bool(_JOINING_END.search(text, max(cur_start, cur_end - _JOIN_TAIL), cur_end))
                or not (first.isupper() or first.isdigit())
                or (acronym and not terminal)
            )
            new_block = not joined
        if new_block and cur_start is not None:
            blocks.append((cur_start, cur_end))
            cur_start, depth = None, 0
        s, e = _strip_span(text, start, le)
        if cur_start is None:
            if s == e:
                continue  # a header alone on its line
            cur_start = s
        if s < e:
            line_at = s
        cur_end = e or cur_end
        depth = max(0, depth + line.count("(") - line.count(")"))
    if cur_start is not None:
        blocks.append((cur_start, cur_end))
    return blocks


def _split_block(text: str, start: int, end: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    seg_start = start
    pos = start
    depth, depth_at = 0, start  # "(" minus ")" in text[seg_start:depth_at], counted once per character
    while True:
        m = (pos == start and _SENT_END_HERE.match(text, pos, end)) or _SENT_END.search(text, pos, end)
        if m is None:
            break
        pos = m.end()
        cut = m.end()
        if m.group()[0] == ".":
            word = _WORD_BEFORE.search(text, max(seg_start, m.start() - 20), m.start())
            if word:
                w = word.group(1).lower().rstrip(".")
                numeral = word.group(1) in ("I", "V", "X") and _NUMBERED_BEFORE.search(
                    text, max(seg_start, word.start() - 12), word.start()) is not None
                if (w in ABBREVIATIONS or len(w) == 1 or "." in w) and not numeral:
                    continue
        depth += text.count("(", depth_at, m.start()) - text.count(")", depth_at, m.start())
        depth_at = m.start()
        if depth > 0:
            continue
        nxt = (n := _NONSPACE.search(text, cut, end)) and n.group() or ""
        if nxt and not (nxt.isupper() or nxt.isdigit() or nxt in "\"'(•-*["):
            continue  # "SUV 5. in the ..." or lower-case continuation: not a boundary
        s, e = _strip_span(text, seg_start, cut)
        if s < e:
            out.append((s, e))
        seg_start = depth_at = cut
        depth = 0
    s, e = _strip_span(text, seg_start, end)
    if s < e:
        out.append((s, e))
    return out


def split_sentences(text: str) -> list[tuple[int, str]]:
    """(offset, sentence) pairs of a report, in order; headers, bullets and list markers are left out."""
    if not isinstance(text, str):
        from ..errors import ReportError

        raise ReportError(f"report text must be a string, got {type(text).__name__}")
    out: list[tuple[int, str]] = []
    for bs, be in _blocks(text):
        for s, e in _split_block(text, bs, be):
            sentence = text[s:e]
            if _ALNUM.search(sentence):
                out.append((s, sentence))
    return out
