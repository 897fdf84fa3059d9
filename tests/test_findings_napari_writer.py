"""The npe2 labels writer saves exactly the values it is given, or refuses: never a silent cast; a layer of a
study session is saved with its JSON sidecar, the findings layer with the sentence of every label."""

from __future__ import annotations

import numpy as np
import pytest

from napari_petground._napari import write_labels
from napari_petground.dataset.layout import read_nifti
from napari_petground.errors import WriteError
from napari_petground.findings import FindingRecord, load_findings
from napari_petground.report.finding import Finding
from napari_petground.session import StudySession, tag
from napari_petground.study import ImageNumbering, Study, Volume

SHAPE = (3, 4, 5)
BARE = {"scale": (3.0, 2.0, 2.0), "translate": (0.0, 0.0, 0.0), "metadata": {}}


def _study() -> Study:
    return Study(pet=Volume(np.ones(SHAPE, np.float32), (3.0, 2.0, 2.0), (0.0, 0.0, 0.0)), ct=None,
                 numbering=ImageNumbering.from_convention(SHAPE[0]), source_kind="phantom")


def _attached(role: str = "prediction", session: StudySession | None = None) -> dict:
    return {**BARE, "metadata": {"petground": tag(session or StudySession(_study()), role)}}


def _labels(value: float, dtype=np.float32) -> np.ndarray:
    data = np.zeros(SHAPE, dtype)
    data[1, 1, 1] = value
    return data


@pytest.mark.parametrize("attributes", [BARE, _attached()], ids=["bare layer", "layer of a study"])
@pytest.mark.parametrize(("data", "message"), [
    (_labels(-1.0), "must not be negative"),
    (_labels(2.5), "whole numbers"),
    (_labels(np.nan), "whole numbers"),
    (_labels(np.inf), "whole numbers"),
    (_labels(-1, np.int16), "must not be negative"),
    (_labels(2.0**33, np.float64), "too large"),
    (_labels(2**40, np.int64), "too large"),
    (np.full(SHAPE, "a"), "cannot be saved"),
])
def test_labels_that_would_change_when_stored_are_refused(tmp_path, attributes, data, message):
    with pytest.raises(WriteError, match=message):
        write_labels(str(tmp_path / "x.nii.gz"), data, attributes)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("attributes", [BARE, _attached()], ids=["bare layer", "layer of a study"])
@pytest.mark.parametrize(("value", "dtype"), [(3.0, np.float32), (300.0, np.float64), (70000.0, np.float64),
                                              (True, bool), (65535, np.int32)])
def test_whole_non_negative_labels_are_saved_exactly(tmp_path, attributes, value, dtype):
    data = _labels(value, dtype)
    path, *sidecar = write_labels(str(tmp_path / "x.nii.gz"), data, attributes)
    assert sidecar == ([str(tmp_path / "x.nii.gz.json")] if attributes is not BARE else [])
    stored = read_nifti(tmp_path / "x.nii.gz").data
    assert path.endswith("x.nii.gz") and np.issubdtype(stored.dtype, np.unsignedinteger)
    np.testing.assert_array_equal(stored, data.astype(np.int64))


def test_the_findings_layer_is_saved_with_the_sentence_of_every_label(tmp_path):
    session = StudySession(_study())
    sentences = {1: "Right hilar node, SUVmax 6.1, image 2.", 2: "Left adrenal nodule, SUVmax 4.0, with a long "
                 "description that a DICOM segment label (64 characters) could not hold."}
    for label, sentence in sentences.items():
        session.findings.add(FindingRecord(label, sentence, Finding(sentence)))
    data = np.zeros(SHAPE, np.uint8)
    data[1, 1, 1], data[2, 2, 2] = 1, 2
    written = write_labels(str(tmp_path / "f.nii.gz"), data, _attached("findings", session))
    assert written == [str(tmp_path / "f.nii.gz"), str(tmp_path / "f.nii.gz.json")]
    loaded = load_findings(tmp_path / "f.nii.gz", session.study)
    assert {r.label: r.sentence for r in loaded.records} == sentences
    np.testing.assert_array_equal(loaded.labels, data)


def test_another_layer_of_the_session_is_saved_with_a_sidecar_but_no_sentences(tmp_path):
    session = StudySession(_study())
    session.findings.add(FindingRecord(1, "Right hilar node.", None))
    written = write_labels(str(tmp_path / "p.nii.gz"), _labels(1, np.uint8), _attached("prediction", session))
    assert len(written) == 2 and load_findings(tmp_path / "p.nii.gz", session.study).records == []
