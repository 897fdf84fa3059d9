"""The backward left-context patterns used for speed give the same answers as the forward ones."""

from __future__ import annotations

import random
import re

import pytest

from napari_petground.report import backwards as bw
from napari_petground.report import roles

WORDS = [
    "suv", "suvs", "suvmax", "suv-max", "suv_max", "max", "maximum", "maximal", "peak", "mean", "avg", "average",
    "bw", "lbm", "standardized", "standardised", "uptake", "value", "values", "of", "is", "was", "were",
    "measuring", "measures", "measured", "up", "to", "approximately", "approx", "approx.", "about", "around", "the",
    "order", "on", "an", "a", "its", "now", "currently", "today", "presently", "at", "present", "current", "study",
    "exam", "scan", "previously", "previous", "prior", "before", "earlier", "baseline", "formerly", "vs", "vs.",
    "versus", "compared", "with", "down", "up", "decreased", "increased", "from", "rising", "had", "been", "in",
    "comparison", "image", "images", "img", "imgs", "im", "slice", "slices", "sl", "section", "sections", "cut",
    "cuts", "coronal", "sagittal", "axial", "transaxial", "transverse", "cor", "sag", "ax", "mip", "no", "no.",
    "number", "num", "nr", "nr.", "series", "ser", "se", "sr", "liver", "hepatic", "node", "right", "level",
    "noted", "seen", "'s", "ₘₐₓ", "(suv)", "(suv", "max)", "12", "x",
]
GLUE = ["", " ", " ", " ", "  ", ":", "=", "(", ")", ",", "[", "~", "≈", ".", "/", "-", "_", "#", " #", " # ", "\n", "\t"]
PAIRS = [
    ("pre_suv", roles._PRE_SUV, bw.PRE_SUV),
    ("pre_prior", roles._PRE_PRIOR, bw.PRE_PRIOR),
    ("pre_current", roles._PRE_CURRENT, bw.PRE_CURRENT),
    ("pre_slice", roles._PRE_SLICE, bw.PRE_SLICE),
    ("pre_slice_hash", roles._PRE_SLICE_HASH, bw.PRE_SLICE_HASH),
    ("pre_series", roles._PRE_SERIES, bw.PRE_SERIES),
    ("liver_before", roles._LIVER_BEFORE, bw.LIVER_BEFORE),
]


def _texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 7)):
            parts.append(rng.choice(WORDS))
            parts.append(rng.choice(GLUE))
        out.append("".join(parts))
    return out


@pytest.mark.parametrize(("name", "forward", "backward"), PAIRS, ids=[p[0] for p in PAIRS])
def test_backward_pattern_matches_exactly_when_the_forward_one_does(name, forward, backward):
    texts = _texts(2500, seed=len(name))
    hits = 0
    for text in texts:
        f = forward.search(text)
        b = backward.match(text[::-1])
        assert (f is None) == (b is None), (name, text)
        if f is not None:
            hits += 1
            if name == "pre_slice":  # the plane word decides axial vs coronal/sagittal images
                plane = b.group("plane")
                assert f.group("plane") == (plane[::-1] if plane else None), text
                assert (f.group("axial") is None) == (b.group("axial") is None), text
    assert hits >= 20  # the generated text reaches the pattern


def test_real_sentences_agree():
    """Every window before a number in sentences of reports."""
    sentences = [
        "Hypermetabolic right hilar node, SUV max 8.2, PET/CT axial slice 129.",
        "Left adrenal nodule SUV max 5.4 → 3.1, im 77.",
        "Sacral lesion with SUV Max of 1.7 today (previously 2.8), image 88.",
        "Lesion best seen in slice 112 of the coronal and slice 42 in the axial, SUVmax 6.1.",
        "Right axillary node with standardized uptake value (SUV max) of 4.3 (series 4, image # 120).",
        "Liver SUVmean 2.1; node compared to the prior SUVmax of 3.3 now measures approximately 5.1, sagittal im. no. 14",
    ]
    for sentence in sentences:
        low = sentence.lower()
        for i, ch in enumerate(low):
            if ch.isdigit():
                pre = low[max(0, i - roles.PRE_WINDOW):i]
                for name, forward, backward in PAIRS:
                    assert (forward.search(pre) is None) == (backward.match(pre[::-1]) is None), (name, pre)


def test_unit_before_agrees_with_its_forward_regex():
    """A measurement on the left ("3 x 2", "145/300", "T12"), on the last 10 characters before a number."""
    forward = re.compile(r"(?:\b(?:x|by)|×|\*)\s*$|\d\s*/\s*$|[a-z]$|-$|\bday\s*$")
    texts = _texts(3000, seed=7) + ["3 x ", "3 by ", "3 ×", "4*", "145/", "145 / ", "t", "-", "day\n", "today ", "box ",
                                    "image\n", "x\u2009", "12/\n", "", " ", "nearby ", "-\n", "a\n\n"]
    hits = 0
    for text in texts:
        expected = forward.search(text[-10:]) is not None
        assert (bw.UNIT_BEFORE.match(text[::-1], 0, 10) is not None) == expected, text
        hits += expected
    assert hits >= 100



def test_slice_and_series_word_tests_never_skip_a_match():
    """classify runs _PRE_SLICE / _PRE_SERIES only when the text before the number ends with their words."""
    for text in _texts(4000, seed=5):
        tail = text.rstrip(roles._TAIL)
        if roles._PRE_SLICE.search(text):
            assert tail.endswith(roles._SLICE_ENDS), text
        if roles._PRE_SERIES.search(text):
            assert tail.endswith(roles._SERIES_ENDS), text


def test_tail_strips_what_regex_calls_white_space():
    pattern = re.compile(r"\s")
    assert {ch for ch in map(chr, range(0x110000)) if pattern.match(ch)} | set(".:#=") == set(roles._TAIL)
