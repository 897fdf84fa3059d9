"""Labels and sidecar are one pair: a kill at any step leaves the old pair or the new one, each format has its
own sidecar, and a malformed sidecar is one clear error."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import napari_petground.findings.io as io_module
import napari_petground.study.writers as writers
from napari_petground.errors import PetGroundError, StudyError
from napari_petground.findings import FindingRecord, load_findings, save_findings
from napari_petground.study import ImageNumbering, Study, Volume


class Killed(BaseException):
    """Stands for the process dying at this point."""


def small_study() -> Study:
    pet = np.ones((4, 5, 6), dtype=np.float32)
    pet[1, 1:3, 1:3] = 6.0
    return Study(pet=Volume(pet, (3.0, 2.0, 2.0), (0.0, 0.0, 0.0)), ct=None,
                 numbering=ImageNumbering.from_convention(4), source_kind="phantom")


def version(study: Study, k: int) -> tuple[np.ndarray, list[FindingRecord]]:
    """Findings number ``k``: its labels and sentences are told apart by ``k``."""
    labels = np.zeros(study.pet.shape, np.int32)
    labels[1, 1:3, 1:3] = k
    labels[3, 0, : k % 6 + 1] = k + 1
    return labels, [FindingRecord(k, f"lesion of save {k}"), FindingRecord(k + 1, f"node of save {k}")]


def assert_is(loaded, labels, records) -> None:
    np.testing.assert_array_equal(loaded.labels, labels)
    assert [(r.label, r.sentence) for r in loaded.records] == [(r.label, r.sentence) for r in records]


def test_nifti_files_of_the_same_name_keep_their_own_sentences(tmp_path):
    study = small_study()
    first, second = version(study, 2), version(study, 7)
    save_findings(tmp_path / "x.nii.gz", first[0], study, first[1])
    save_findings(tmp_path / "x.nii", second[0], study, second[1])
    assert_is(load_findings(tmp_path / "x.nii.gz", study), *first)
    assert_is(load_findings(tmp_path / "x.nii", study), *second)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.nii", "x.nii.gz", "x.nii.gz.json", "x.nii.json"]


def test_an_old_style_sidecar_is_read_and_replaced_on_the_next_save(tmp_path):
    study = small_study()
    labels, records = version(study, 2)
    save_findings(tmp_path / "x.nii.gz", labels, study, records)
    (tmp_path / "x.nii.gz.json").rename(tmp_path / "x.json")  # as earlier versions named it
    loaded = load_findings(tmp_path / "x.nii.gz", study)
    assert_is(loaded, labels, records) and loaded.sidecar.name == "x.json" and loaded.notes == []
    save_findings(tmp_path / "x.nii.gz", labels, study, records)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.nii.gz", "x.nii.gz.json"]


def test_an_old_style_sidecar_of_another_labels_file_or_program_is_not_taken(tmp_path):
    study = small_study()
    labels, records = version(study, 2)
    save_findings(tmp_path / "x.nii.gz", labels, study, records)
    document = json.loads((tmp_path / "x.nii.gz.json").read_text())
    (tmp_path / "x.nii.gz.json").unlink()
    (tmp_path / "x.json").write_text(json.dumps({**document, "labels_file": "x.dcm"}))
    loaded = load_findings(tmp_path / "x.nii.gz", study)
    assert loaded.records == [] and any("sidecar of x.dcm" in n for n in loaded.notes)
    (tmp_path / "x.json").write_text(json.dumps({"RepetitionTime": 2.0}))  # a BIDS sidecar beside the labels
    loaded = load_findings(tmp_path / "x.nii.gz", study)
    assert loaded.records == [] and any("not a findings sidecar" in n for n in loaded.notes)


def _kill_at(monkeypatch, step: str, target) -> None:
    """Make the save die at ``step`` (a simulated kill: nothing after that point runs)."""
    if step == "writing labels":
        def write_labels(path, *args, **kwargs):
            path.write_bytes(b"half a NIfTI")
            raise Killed
        monkeypatch.setattr(writers, "write_labels", write_labels)
    elif step == "before the sidecar":
        def atomic(path, payload):
            raise Killed
        monkeypatch.setattr(io_module, "atomic_write_bytes", atomic)
    elif step == "before the rename":
        real = os.replace

        def replace(src, dst):
            if str(dst) == str(target):
                raise Killed
            return real(src, dst)
        monkeypatch.setattr(io_module.os, "replace", replace)
    elif step == "after the rename":
        def fsync(folder):
            raise Killed
        monkeypatch.setattr(io_module, "fsync_folder", fsync)


@pytest.mark.parametrize(("step", "expect_new"), [("writing labels", False), ("before the sidecar", False),
                                                   ("before the rename", True), ("after the rename", True)])
def test_a_save_killed_at_any_step_leaves_the_old_pair_or_the_new_one(tmp_path, monkeypatch, step, expect_new):
    study = small_study()
    target = tmp_path / "f.nii.gz"
    old, new = version(study, 2), version(study, 3)
    save_findings(target, old[0], study, old[1])
    with monkeypatch.context() as patch:
        _kill_at(patch, step, target)
        with pytest.raises(Killed):
            save_findings(target, new[0], study, new[1])
    loaded = load_findings(target, study)
    assert_is(loaded, *(new if expect_new else old))
    if step == "before the rename":
        assert any("interrupted" in n and "finished" in n for n in loaded.notes)
        assert load_findings(target, study).notes == []  # finished for good
    else:
        assert loaded.notes == []
    save_findings(target, new[0], study, new[1])  # the next save clears whatever the kill left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.nii.gz", "f.nii.gz.json"]


def test_a_first_save_killed_before_the_rename_is_finished_on_load(tmp_path, monkeypatch):
    study = small_study()
    target = tmp_path / "f.nii.gz"
    new = version(study, 4)
    with monkeypatch.context() as patch:
        _kill_at(patch, "before the rename", target)
        with pytest.raises(Killed):
            save_findings(target, new[0], study, new[1])
    assert not target.exists()
    assert_is(load_findings(target, study), *new)


def test_a_pair_that_disagrees_with_no_save_to_finish_is_said_in_the_notes(tmp_path):
    study = small_study()
    target = tmp_path / "f.nii.gz"
    old, new = version(study, 2), version(study, 3)
    save_findings(target, old[0], study, old[1])
    kept = target.read_bytes()
    save_findings(target, new[0], study, new[1])
    target.write_bytes(kept)  # somebody copied the old labels back over the new ones
    loaded = load_findings(target, study)
    assert any("changed since" in n for n in loaded.notes)


SAVER = textwrap.dedent("""
    import sys
    import numpy as np
    from napari_petground.findings import FindingRecord, save_findings
    from napari_petground.study import ImageNumbering, Study, Volume

    pet = np.ones((4, 5, 6), dtype=np.float32)
    study = Study(pet=Volume(pet, (3.0, 2.0, 2.0), (0.0, 0.0, 0.0)), ct=None,
                  numbering=ImageNumbering.from_convention(4), source_kind="phantom")
    k = 0
    while True:
        k = k % 9 + 1
        labels = np.zeros(pet.shape, np.int32)
        labels[0, 0, :k % 6 + 1] = k
        save_findings(sys.argv[1], labels, study, [FindingRecord(k, f"save {k}")])
        print(k, flush=True)
""")


@pytest.mark.slow
def test_sigkill_during_saves_never_leaves_labels_and_sentences_of_different_saves(tmp_path):
    study = small_study()
    target = tmp_path / "f.nii.gz"
    rng = np.random.default_rng(3)
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(target)], stdout=subprocess.PIPE,
                                env={**os.environ, "OMP_NUM_THREADS": "1"})
        proc.stdout.readline()
        time.sleep(float(rng.uniform(0.0, 0.5)))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
        loaded = load_findings(target, study)
        (record,) = loaded.records
        k = record.label
        assert record.sentence == f"save {k}" and int(loaded.labels.sum()) == k * (k % 6 + 1)


@pytest.mark.parametrize(("document", "message"), [
    ([], "not a napari-petground findings sidecar"),
    ({"format": "napari-petground findings", "version": "two"}, "unreadable version 'two'"),
    ({"format": "napari-petground findings", "version": 9}, "newer napari-petground"),
    ({"format": "napari-petground findings", "findings": {"label": 1}}, "not a list of objects"),
    ({"format": "napari-petground findings", "findings": ["x"]}, "not a list of objects"),
    ({"format": "napari-petground findings", "findings": [{"sentence": "x"}]}, "malformed finding"),
    ({"format": "napari-petground findings", "findings": [{"label": "one"}]}, "malformed finding"),
    ({"format": "napari-petground findings", "findings": [{"label": 1, "finding": {"spans": 3}}]}, "malformed"),
    ({"format": "napari-petground findings", "findings": [{"label": 1, "stats": {"nope": 1}}]}, "malformed"),
    ({"format": "napari-petground findings", "findings": [{"label": 2}, {"label": 2}]}, r"label ids \[2\] twice"),
    ({"format": "napari-petground findings", "findings": [{"label": 0}]}, r"label ids \[0\]"),
    ({"format": "napari-petground findings", "study": {"pet_shape": "abc"}}, "malformed"),
    ({"format": "napari-petground findings", "study": [1]}, "malformed"),
])
def test_a_malformed_sidecar_is_one_clear_error(tmp_path, document, message):
    study = small_study()
    labels, records = version(study, 2)
    save_findings(tmp_path / "f.nii.gz", labels, study, records)
    (tmp_path / "f.nii.gz.json").write_text(json.dumps(document))
    with pytest.raises(StudyError, match=message) as err:
        load_findings(tmp_path / "f.nii.gz", study)
    assert isinstance(err.value, PetGroundError)


def test_sentences_with_characters_utf8_cannot_hold_round_trip(tmp_path):
    study = small_study()
    labels, _ = version(study, 2)
    records = [FindingRecord(2, "lone \ud800 surrogate, Größe 3 cm"), FindingRecord(3, "")]
    save_findings(tmp_path / "f.nii.gz", labels, study, records)
    assert [r.sentence for r in load_findings(tmp_path / "f.nii.gz", study).records] == [r.sentence for r in records]


def test_large_label_ids_are_saved_and_read_without_counting_up_to_them(tmp_path):
    study = small_study()
    labels = np.zeros(study.pet.shape, np.int64)
    labels[1, 1, 1], labels[2, 2, 2] = 4_000_000_000, 70_000
    records = [FindingRecord(70_000, "node"), FindingRecord(4_000_000_000, "mass")]
    save_findings(tmp_path / "f.nii.gz", labels, study, records)
    assert_is(load_findings(tmp_path / "f.nii.gz", study), labels, records)


@pytest.mark.parametrize(("values", "message"), [(np.int16(-1), "outside 0"), (np.float32(1.5), "fractional")])
def test_a_labels_file_that_holds_no_label_values_is_refused_on_load(tmp_path, values, message):
    import SimpleITK as sitk

    study = small_study()
    data = np.zeros(study.pet.shape, type(values))
    data[1, 1, 1] = values
    image = sitk.GetImageFromArray(data)
    image.SetSpacing(study.pet.spacing[::-1])
    sitk.WriteImage(image, str(tmp_path / "f.nii.gz"))
    with pytest.raises(StudyError, match=message):
        load_findings(tmp_path / "f.nii.gz", study)
