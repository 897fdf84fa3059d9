"""The sentence under review as rich text, with the values the weak label was matched on highlighted."""

from __future__ import annotations

import html

# span kind -> inline CSS; numbers stand out most, words the lesion is named by less
SPAN_STYLES: dict[str, str] = {
    "suvmax": "background-color:#ffb000; color:#000000; font-weight:bold",
    "slice": "background-color:#3fb0ff; color:#000000; font-weight:bold",
    "series": "background-color:#8fd0ff; color:#000000",
    "prior_suvmax": "color:#9a9a9a; text-decoration:line-through",
    "laterality": "font-weight:bold; text-decoration:underline",
    "site": "text-decoration:underline",
}


def _pairs(spans: dict) -> list[tuple[int, int, str]]:
    out = []
    for kind, span in (spans or {}).items():
        start, end = (span.start, span.end) if hasattr(span, "start") else (int(span[0]), int(span[1]))
        if kind in SPAN_STYLES and 0 <= start < end:
            out.append((start, end, kind))
    return sorted(out)


def highlight_html(sentence: str, spans: dict) -> str:
    """HTML of ``sentence`` with each known span styled; overlapping spans keep the first one."""
    parts, pos = [], 0
    for start, end, kind in _pairs(spans):
        if start < pos or end > len(sentence):
            continue
        parts.append(html.escape(sentence[pos:start]))
        parts.append(f'<span style="{SPAN_STYLES[kind]}" title="{kind}">{html.escape(sentence[start:end])}</span>')
        pos = end
    parts.append(html.escape(sentence[pos:]))
    return "".join(parts)
