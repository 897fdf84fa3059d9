"""Report parsing: the numbers a user cares about come out of real-style sentences."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from napari_petground.errors import ReportError
from napari_petground.report import extract_findings, split_sentences
from napari_petground.report.lexicon import SITE_BY_KEY

DATA = Path(__file__).parent / "data" / "report_sentences.jsonl"


def _rows() -> list[dict]:
    return [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_labelled_set_accuracy_at_least_97_percent():
    rows = _rows()
    assert len(rows) >= 150
    right = 0
    for row in rows:
        got = [(f.suvmax, f.slice) for f in extract_findings(row["sentence"])]
        right += got == [(e["suvmax"], e["slice"]) for e in row["findings"]]
    assert right / len(rows) >= 0.97, f"{right}/{len(rows)}"


def test_labelled_set_side_and_site():
    ok = n = 0
    for row in _rows():
        found = extract_findings(row["sentence"])
        if [(f.suvmax, f.slice) for f in found] != [(e["suvmax"], e["slice"]) for e in row["findings"]]:
            continue
        for f, e in zip(found, row["findings"], strict=True):
            n += 1
            ok += (f.laterality, f.site, f.prior_suvmax) == (e["laterality"], e["site"], e["prior_suvmax"])
            assert f.site == "" or f.site in SITE_BY_KEY
    assert ok / n >= 0.95


@pytest.mark.parametrize(
    ("sentence", "suv", "image"),
    [
        ("Hypermetabolic right hilar node, SUV max 8.2, PET/CT axial slice 129.", 8.2, 129),
        ("Left axillary node with SUVmax of 12.6 (Slice 144 Series 2).", 12.6, 144),
        ("Nodule with max SUV of 3.6 (axial slice 134) compared 1.9 previously.", 3.6, 134),
        ("Sacral lesion with SUV Max of 1.7 today (previously 2.8), image 88.", 1.7, 88),
        ("Lesion best seen in slice 112 of the coronal and slice 42 in the axial, SUVmax 6.1.", 6.1, 42),
        ("Left iliac bone lesion (slice 67 SUV max 5.4).", 5.4, 67),
        ("Right axillary node SUVmax=4.3 (series 4, image 120).", 4.3, 120),
        ("Retroperitoneal node, image 145/300, SUV of 5.2.", 5.2, 145),
        ("Conglomerate nodes on images 140-150, SUVmax 7.7.", 7.7, 145),
        ("Left adrenal nodule SUV max 5.4 → 3.1, im 77.", 3.1, 77),
        ("Right hilar node, img 145, maximum SUV 6.0.", 6.0, 145),
        ("Left axillary node, SUV 3,8, image 99.", 3.8, 99),
        ("Liver lesion SUVmax increased from 4.1 to 6.3 (image 95).", 6.3, 95),
        ("1.4 x 1.1 cm right axillary node (image 98) with SUVmax 4.6.", 4.6, 98),
        ("Right hilar node SUVₘₐₓ 9.4, image 141.", 9.4, 141),
    ],
)
def test_phrasings(sentence, suv, image):
    (f,) = extract_findings(sentence)
    assert (f.suvmax, f.slice) == (suv, image)
    assert f.sentence[f.spans["suvmax"].start:f.spans["suvmax"].end].replace(",", ".").startswith(str(suv)[:3])


def test_two_findings_respectively():
    s = "Hilar nodes with SUV max of 2.7 and 3.5 respectively (series 2 slice 170 and 176 respectively)."
    found = extract_findings(s)
    assert [(f.suvmax, f.slice, f.series) for f in found] == [(2.7, 170, 2), (3.5, 176, 2)]


def test_two_lesions_keep_their_own_side_and_site():
    s = "Right hilar node SUVmax 12.3 image 145 and left axillary node SUVmax 3.2 image 98."
    a, b = extract_findings(s)
    assert (a.laterality, a.site, a.suvmax) == ("right", "hilar_node", 12.3)
    assert (b.laterality, b.site, b.suvmax) == ("left", "axillary_node", 3.2)


def test_prior_and_reference_values_are_not_the_current_suv():
    (f,) = extract_findings("Right adrenal: SUVmax 2.9 on slice 160 (previously 4.4), blood pool SUVmax 1.9.")
    assert (f.suvmax, f.prior_suvmax, f.slice) == (2.9, 4.4, 160)
    assert extract_findings("Mediastinal blood pool activity with an SUV Max of 1.9.") == []
    assert extract_findings("For reference, liver SUVmean is 2.1 and mediastinal blood pool SUVmax 1.8.") == []


def test_sentences_without_lesion_or_numbers():
    assert extract_findings("No abnormal uptake.") == []
    assert extract_findings("") == []
    (f,) = extract_findings("Intensely FDG-avid right hilar node.")
    assert (f.suvmax, f.slice, f.laterality, f.site, f.tracer) == (None, None, "right", "hilar_node", "FDG")


def test_non_string_raises_report_error():
    with pytest.raises(ReportError):
        extract_findings(None)  # type: ignore[arg-type]


def test_report_offsets_tracer_and_headers():
    report = (
        "TECHNIQUE: 68Ga-PSMA-11 PET/CT.\n\nFINDINGS:\nPelvis:\n- Left external iliac node, SUVmax 11.0 (im 270).\n"
        "- Prostate bed focus, SUV max 6.8, image 280, compared with Dr. Smith's exam vs. prior 7.1.\n"
        "IMPRESSION: 1. Nodal recurrence.\n"
    )
    found = extract_findings(report)
    assert [(f.suvmax, f.slice, f.tracer) for f in found] == [(11.0, 270, "PSMA"), (6.8, 280, "PSMA")]
    for f in found:
        assert report[f.sentence_start:f.sentence_start + len(f.sentence)] == f.sentence
    assert found[1].prior_suvmax == 7.1
    assert extract_findings("Right hilar node SUV 5.1, image 40.", tracer="FDG")[0].tracer == "FDG"


def test_split_sentences_abbreviations_decimals_and_line_breaks():
    text = ("Left axillary node measures approx. 1.2 cm. It has\nSUV max 3.2 (series 4, image 120). "
            "Compared with Dr. Smith's exam vs. prior, e.g. 5.4 there.\n\n1. Right node SUV 2.5.\n2. No uptake.")
    got = [s for _, s in split_sentences(text)]
    assert got == [
        "Left axillary node measures approx. 1.2 cm.",
        "It has\nSUV max 3.2 (series 4, image 120).",
        "Compared with Dr. Smith's exam vs. prior, e.g. 5.4 there.",
        "Right node SUV 2.5.",
        "No uptake.",
    ]


def test_large_non_ascii_report():
    unit = "Befund: Läsion im rechten Hilus – SUVmax 7,4 (image 140). Ünremarkable ß.\n"
    text = unit * (1_000_000 // len(unit))
    found = extract_findings(text)
    assert len(found) == text.count("Befund")
    assert found[-1].suvmax == 7.4 and found[-1].slice == 140
