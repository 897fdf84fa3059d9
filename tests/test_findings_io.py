"""Saving and reloading findings: NIfTI (+ DICOM SEG on real DICOM) with a JSON sidecar, atomically."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_petground.errors import StudyError, WriteError
from napari_petground.findings import FindingRecord, load_findings, save_findings, sidecar_path
from napari_petground.report import Finding
from napari_petground.study import ImageNumbering, Study, Volume


def study_with_cubes() -> Study:
    pet = np.ones((10, 12, 14), dtype=np.float32)
    pet[2:4, 2:4, 2:4] = 5.0
    pet[6:8, 7:9, 9:12] = 8.0
    return Study(pet=Volume(pet, (3.0, 2.5, 2.0), (-10.0, 4.0, 7.5)), ct=None,
                 numbering=ImageNumbering.from_convention(10), source_kind="phantom")


def accepted(study: Study) -> tuple[np.ndarray, list[FindingRecord]]:
    labels = np.zeros(study.pet.shape, dtype=np.int32)
    labels[study.pet.data == 5] = 2
    labels[study.pet.data == 8] = 5
    sentence = "Right axillary node, SUVmax 5.0, image 7."
    records = [
        FindingRecord(2, sentence, Finding(sentence, suvmax=5.0, slice=7, laterality="right"),
                      agreement={"suv_ok": True, "slice_ok": True, "side_ok": True, "messages": []},
                      model={"checkpoint": "demo", "device": "cpu"}),
        FindingRecord(5, "Hepatic lesion SUVmax 8.", edited=True),
        FindingRecord(9, "undone before saving"),  # no voxels: not saved
    ]
    return labels, records


def test_sidecar_names():
    assert sidecar_path("/a/findings.nii.gz").name == "findings.nii.gz.json"
    assert sidecar_path("/a/x.nii").name == "x.nii.json"
    assert sidecar_path("/a/seg.dcm").name == "seg.dcm.json"


def test_nifti_round_trip_keeps_voxels_and_sentences(tmp_path):
    study = study_with_cubes()
    labels, records = accepted(study)
    written = save_findings(tmp_path / "findings.nii.gz", labels, study, records, extra={"model": {"device": "cpu"}})
    assert [p.name for p in written] == ["findings.nii.gz", "findings.nii.gz.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["findings.nii.gz", "findings.nii.gz.json"]  # no temp files
    document = json.loads((tmp_path / "findings.nii.gz.json").read_text())
    assert [row["label"] for row in document["findings"]] == [2, 5]
    assert document["findings"][0]["stats"]["suvmax"] == pytest.approx(5.0)
    assert document["findings"][1]["stats"]["n_voxels"] == 2 * 2 * 3
    assert document["model"] == {"device": "cpu"} and document["labels_file"] == "findings.nii.gz"

    loaded = load_findings(tmp_path / "findings.nii.gz", study)
    np.testing.assert_array_equal(loaded.labels, labels)
    assert loaded.notes == []
    assert [(r.label, r.sentence, r.edited) for r in loaded.records] == [
        (2, records[0].sentence, False), (5, "Hepatic lesion SUVmax 8.", True)]
    assert loaded.records[0].finding == records[0].finding
    assert loaded.records[0].model == {"checkpoint": "demo", "device": "cpu"}


def test_reload_notices_a_labels_file_changed_behind_the_sidecar(tmp_path):
    study = study_with_cubes()
    labels, records = accepted(study)
    save_findings(tmp_path / "f.nii.gz", labels, study, records)
    sidecar = (tmp_path / "f.nii.gz.json").read_text()
    labels[labels == 5] = 0
    save_findings(tmp_path / "f.nii.gz", labels, study, records)
    (tmp_path / "f.nii.gz.json").write_text(sidecar)  # the old sidecar beside new labels
    loaded = load_findings(tmp_path / "f.nii.gz", study)
    assert any("changed since" in n for n in loaded.notes)
    assert any("[5]" in n for n in loaded.notes)
    assert [r.label for r in loaded.records] == [2]


def test_labels_without_sidecar_load_with_a_note(tmp_path):
    study = study_with_cubes()
    labels, records = accepted(study)
    save_findings(tmp_path / "f.nii.gz", labels, study, records)
    (tmp_path / "f.nii.gz.json").unlink()
    loaded = load_findings(tmp_path / "f.nii.gz", study)
    assert loaded.records == [] and loaded.sidecar is None and "no sidecar" in loaded.notes[0]
    np.testing.assert_array_equal(loaded.labels, labels)


def test_user_errors_say_what_to_do(tmp_path):
    study = study_with_cubes()
    labels, records = accepted(study)
    with pytest.raises(StudyError, match="does not exist"):
        load_findings(tmp_path / "missing.nii.gz", study)
    with pytest.raises(WriteError, match="does not exist"):
        save_findings(tmp_path / "no-such-folder" / "f.nii.gz", labels, study, records)
    with pytest.raises(WriteError, match="DICOM"):
        save_findings(tmp_path / "f.dcm", labels, study, records)  # a phantom has no PET series to reference
    save_findings(tmp_path / "f.nii.gz", labels, study, records)
    (tmp_path / "f.nii.gz.json").write_text("{ not json")
    with pytest.raises(StudyError, match="JSON"):
        load_findings(tmp_path / "f.nii.gz", study)


@pytest.mark.slow
def test_dicom_seg_round_trip_on_real_pet(tmp_path, ibsi_dir):
    from napari_petground.findings import label_stats
    from napari_petground.study import load_study

    study = load_study(ibsi_dir / "STS_002")
    pet = study.pet.data
    peak = np.unravel_index(int(np.argmax(pet)), pet.shape)
    labels = np.zeros(pet.shape, dtype=np.uint8)
    box = tuple(slice(max(p - 2, 0), p + 3) for p in peak)
    labels[box] = np.where(pet[box] > 0.5 * pet[peak], 1, 0)
    record = FindingRecord(1, f"Intensely FDG-avid thigh mass, SUVmax {pet[peak]:.1f}.")
    written = save_findings(tmp_path / "seg.dcm", labels, study, [record])
    assert [p.name for p in written] == ["seg.dcm", "seg.dcm.json"]
    loaded = load_findings(tmp_path / "seg.dcm", study)
    np.testing.assert_array_equal(loaded.labels, labels)
    assert loaded.records[0].sentence == record.sentence and loaded.notes == []
    assert label_stats(study, loaded.labels)[1].suvmax == pytest.approx(float(pet[peak]), rel=1e-5)
