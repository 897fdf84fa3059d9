"""Sentences and findings: splitting a pasted report, extracting SUVmax, image numbers, side, site, tracer."""

from .finding import Finding, Span

__all__ = ["Finding", "Span", "extract_findings", "split_sentences"]


def extract_findings(text: str, **kwargs) -> list[Finding]:
    """One Finding per current lesion described in ``text`` (see report.parse)."""
    from .parse import extract_findings as _extract

    return _extract(text, **kwargs)


def split_sentences(text: str) -> list[tuple[int, str]]:
    """(offset, sentence) pairs of a pasted report (see report.sentences)."""
    from .sentences import split_sentences as _split

    return _split(text)
