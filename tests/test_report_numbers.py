"""Numbers in report text: read exactly as written, or refused as not a real value; never another value.

Property-based: random text never raises, and an SUVmax / image number written into a sentence either parses
back exactly or is listed in ``Finding.refused``.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from napari_petground.report import Finding, extract_findings, split_sentences
from napari_petground.report.parse import NUMBER_LIMIT, SUV_LIMIT, findings_in_sentence, tracer_in

PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize(
    ("sentence", "refused"),
    [
        ("Right hilar node SUVmax 1e308, image 120.", {"suvmax": "1e308"}),  # was read as 1.0
        ("Right hilar node SUVmax 2.5E+3, image 120.", {"suvmax": "2.5E+3"}),
        ("Right hilar node SUVmax " + "9" * 400 + ", image 120.", {"suvmax": "9" * 400}),  # was infinity
        ("Right hilar node SUVmax 1,234, image 120.", {"suvmax": "1,234"}),  # was read as 1.0
        ("Right hilar node SUVmax 12.3.4, image 120.", {"suvmax": "12.3.4"}),  # was read as 12.3
        ("Right hilar node SUVmax 1000.5, image 120.", {"suvmax": "1000.5"}),  # not a real SUV
    ],
)
def test_suv_that_is_not_a_real_value_is_refused_not_misread(sentence, refused):
    (f,) = extract_findings(sentence)
    assert f.suvmax is None
    assert f.refused == refused
    assert f.slice == 120
    assert sentence[f.spans["suvmax"].start:f.spans["suvmax"].end] == refused["suvmax"]


@pytest.mark.parametrize(
    ("image", "why"),
    [
        ("99999999999999999999", "20 digits: was rounded to 100000000000000000000"),
        ("9" * 400, "400 digits: was a traceback (int of infinity)"),
        ("9" * 5000, "more digits than int() accepts"),
        ("1e308", "exponent: was read as 1"),
        ("1,234", "digit groups: was read as 1"),
        ("100001", "above the plausible image numbers"),
    ],
)
def test_image_number_that_is_not_a_real_value_is_refused_not_misread(image, why):
    sentence = f"Right hilar node SUVmax 4.2, image {image}."
    (f,) = extract_findings(sentence)
    assert f.slice is None, why
    assert f.refused == {"slice": image}, why
    assert f.suvmax == 4.2


def test_values_at_the_limits_are_read():
    (f,) = extract_findings(f"Node SUVmax {SUV_LIMIT:g}, image {NUMBER_LIMIT}, series {NUMBER_LIMIT}.")
    assert (f.suvmax, f.slice, f.series, f.refused) == (SUV_LIMIT, NUMBER_LIMIT, NUMBER_LIMIT, {})
    (f,) = extract_findings("Node SUVmax 0012.50, image 0045 (series 3).")
    assert (f.suvmax, f.slice, f.series) == (12.5, 45, 3)


def test_series_and_prior_and_range_are_refused_too():
    (f,) = extract_findings("Node SUVmax 4.1 image 88 series 2.5 (previously SUVmax 5e3).")
    assert (f.suvmax, f.slice, f.series, f.prior_suvmax) == (4.1, 88, None, None)  # series was read as 2
    assert f.refused == {"series": "2.5", "prior_suvmax": "5e3"}
    (f,) = extract_findings("Conglomerate nodes on images 140-1e9, SUVmax 7.7.")
    assert (f.suvmax, f.slice, f.refused) == (7.7, None, {"slice": "140-1e9"})
    (f,) = extract_findings("Conglomerate nodes on images 140-150, SUVmax 7.7.")
    assert (f.suvmax, f.slice, f.refused) == (7.7, 145, {})


def test_refused_numbers_survive_a_round_trip():
    (f,) = extract_findings("Right hilar node SUVmax 1e308, image 120.")
    back = Finding.from_dict(json.loads(json.dumps(f.to_dict())))
    assert back == f
    assert Finding.from_dict({"sentence": "old record without refused"}).refused == {}


# -- lone surrogates (text pasted from a broken clipboard or a bad file decode) ---------------------------


def test_lone_surrogate_in_a_sentence():
    text = "FDG PET/CT.\nRight hilar node \ud800 SUVmax 5.1, image 12.\n\udfff\nLeft axillary node\udc80 SUV 3.2 im 40."
    found = extract_findings(text)
    assert [(f.suvmax, f.slice, f.laterality) for f in found] == [(5.1, 12, "right"), (3.2, 40, "left")]
    for offset, sentence in split_sentences(text):
        assert text[offset:offset + len(sentence)] == sentence
    assert tracer_in(text) == "FDG"
    for f in found:
        data = json.loads(json.dumps(f.to_dict()))  # the default (ASCII) JSON keeps surrogates as escapes
        assert Finding.from_dict(data) == f
    assert findings_in_sentence("\ud800") == []
    assert extract_findings("\ud800\udfff\ud800") == []


# -- properties ---------------------------------------------------------------------------------------------

_WORDS = ["SUVmax", "SUV", "max", "image", "img", "im", "slice", "series", "se", "previously", "prior", "from",
          "to", "now", "right", "left", "hilar", "node", "liver", "blood pool", "and", "respectively", ";", ",",
          "(", ")", ".", "\n", "→", "lesion", "vs", "cm", "x", "#", ":", "axial", "coronal", "FDG", "1.",
          "IMPRESSION:", "-", "e", "E+", "!", "?", "\t", "Dr.", "\u00a0", "\ud800", "３", "٤"]
_ANY_CHAR = st.characters(codec=None, exclude_categories=())  # surrogates included
_NUMBER_TEXT = st.one_of(
    st.integers(0, 10**12).map(str),
    st.decimals(0, 10**7, places=2, allow_nan=False, allow_infinity=False).map(str),
    st.floats(0, 1e30, allow_nan=False).map(repr),  # "1e+16", "5e-324"
    st.from_regex(r"\A[0-9]{1,30}(?:[.,][0-9]{1,5}){0,2}(?:[eE][+-]?[0-9]{1,3})?\Z"),
)
_REPORT_TEXT = st.lists(st.one_of(st.sampled_from(_WORDS), _NUMBER_TEXT, st.text(_ANY_CHAR, max_size=4)),
                        max_size=60).map(" ".join)


def _check_findings(text: str, found: list[Finding]) -> None:
    for f in found:
        assert text[f.sentence_start:f.sentence_start + len(f.sentence)] == f.sentence
        for sp in f.spans.values():
            assert 0 <= sp.start < sp.end <= len(f.sentence)
        if f.suvmax is not None:
            assert math.isfinite(f.suvmax) and 0 <= f.suvmax <= SUV_LIMIT
        if f.prior_suvmax is not None:
            assert math.isfinite(f.prior_suvmax) and 0 <= f.prior_suvmax <= SUV_LIMIT
        for value in (f.slice, f.series):
            assert value is None or (isinstance(value, int) and 0 <= value <= NUMBER_LIMIT)
        for name, written in f.refused.items():
            assert getattr(f, name) is None
            assert f.sentence[f.spans[name].start:f.spans[name].end] == written
        json.dumps(f.to_dict())


@PROPERTY
@given(_REPORT_TEXT)
@example("SUVmax 1e308 image 99999999999999999999")
@example("Node image " + "9" * 400 + " SUVmax 4")
def test_report_like_text_never_raises(text):
    _check_findings(text, extract_findings(text))


@PROPERTY
@given(st.text(_ANY_CHAR, max_size=300))
def test_any_text_never_raises(text):
    _check_findings(text, extract_findings(text))
    for offset, sentence in split_sentences(text):
        assert text[offset:offset + len(sentence)] == sentence


_PLAIN = re.compile(r"[0-9]{1,9}(?:\.[0-9]+|,[0-9]{1,2})?")
_TEMPLATES = [
    "Intensely FDG-avid right hilar node with SUVmax {suv} on image {image}.",
    "Left axillary node, image {image}, SUV max {suv}.",
    "Liver lesion (SUVmax = {suv}; axial slice {image}).",
    "1.4 x 1.1 cm right axillary node (image {image}) with SUVmax {suv}.",
]


def _expected_suv(written: str) -> float | None:
    """The SUV a sentence stating ``written`` means, or None when it is to be refused."""
    if not _PLAIN.fullmatch(written):
        return None
    value = Decimal(written.replace(",", "."))
    return float(value) if value <= Decimal(SUV_LIMIT) else None


def _expected_image(written: str) -> int | None:
    if not re.fullmatch(r"[0-9]{1,9}", written):
        return None
    return int(written) if int(written) <= NUMBER_LIMIT else None


@PROPERTY
@given(st.sampled_from(_TEMPLATES), _NUMBER_TEXT, _NUMBER_TEXT)
@example(_TEMPLATES[0], "1e308", "99999999999999999999")
@example(_TEMPLATES[0], "9" * 30, "1,234")
@example(_TEMPLATES[1], "12,34", "00120")
def test_stated_numbers_parse_back_exactly_or_are_refused(template, suv, image):
    sentence = template.format(suv=suv, image=image)
    found = extract_findings(sentence)
    assert len(found) == 1, found
    (f,) = found
    want_suv, want_image = _expected_suv(suv), _expected_image(image)
    if want_suv is None:
        assert f.suvmax is None and f.refused.get("suvmax") == suv
    else:
        assert f.suvmax == want_suv and "suvmax" not in f.refused
    if want_image is None:
        assert f.slice is None and f.refused.get("slice") == image
    else:
        assert f.slice == want_image and "slice" not in f.refused
