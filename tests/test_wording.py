"""Articles and plurals in messages built from values."""

from __future__ import annotations

import pytest

from napari_petground.wording import article, plural, with_article


@pytest.mark.parametrize(("phrase", "expected"), [
    ("upper lobe nodule", "an"), ("axillary lymph node", "an"), ("left axillary node", "a"),
    ("hepatic lesion", "a"), ("iliac bone lesion", "an"), ("external iliac node", "an"),
    ("uterine lesion", "a"), ("ureteric node", "a"), ("unilateral finding", "a"), ("unusual focus", "an"),
    ("8 mm node", "an"), ("11 mm node", "an"), ("18F scan", "an"), ("1.2 cm node", "a"), ("L5 lesion", "an"),
    ("FDG-avid node", "an"), ("SUVmax of 4", "an"), ("PSMA-avid node", "a"), ("CT", "a"), ("x-ray", "an"),
    ("object", "an"), ("uint16 label map", "a"), ("8.0 mm gap", "an"), ("list", "a"), ("hour", "an"), ("one-off", "a"), ("", "a"),
])
def test_article(phrase, expected):
    assert article(phrase) == expected


def test_with_article_and_plural():
    assert with_article("upper lobe lung nodule") == "an upper lobe lung nodule"
    assert plural(1, "finding") == "1 finding"
    assert plural(0, "finding") == "0 findings"
    assert plural(2, "finding") == "2 findings"
    assert plural(3, "phantom") == "3 phantoms"
    assert plural(2, "voxel") == "2 voxels"
    assert plural(2, "entry") == "2 entries" and plural(2, "day") == "2 days"
    assert plural(2, "box") == "2 boxes" and plural(2, "series", "series") == "2 series"
