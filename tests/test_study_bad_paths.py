"""What a dropped folder can hold besides a study: pipes, NIfTI beside DICOM, folders and files no one may read.

The reader must answer quickly, read the DICOM when there is DICOM, and name the folder or file it could
not read and why, instead of hanging, guessing or showing a traceback.
"""

from __future__ import annotations

import builtins
import os
import shutil
import threading

import numpy as np
import pytest
import SimpleITK as sitk

from napari_petground.errors import StudyError
from napari_petground.study import load_study
from napari_petground.study.export import export_dicom
from napari_petground.study.io import can_read
from napari_petground.study.synthetic import HOT_SUV, synthetic_study

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture(scope="module")
def exam_template(tmp_path_factory):
    study = synthetic_study(ct_shape=(12, 24, 24), pet_shape=(8, 16, 16))
    return export_dicom(study, tmp_path_factory.mktemp("template") / "exam")


@pytest.fixture
def exam(tmp_path, exam_template):
    return shutil.copytree(exam_template, tmp_path / "exam")


def finishes(call, seconds: float = 10.0):
    """Run ``call`` in a thread; (finished, result or exception). A hung call is left blocked in its thread."""
    box: dict = {}

    def target():
        try:
            box["result"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            box["result"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    return not thread.is_alive(), box.get("result")


def release(fifo) -> None:
    """Open the pipe's writing end once so a reader blocked on it (before the fix) returns."""
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
    except OSError:
        pass


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need a POSIX system")
def test_named_pipe_in_a_dropped_folder_does_not_hang(exam, tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    os.mkfifo(drop / "x.dcm")
    try:
        done, answer = finishes(lambda: can_read(drop))
        assert done, "can_read blocked on a named pipe"
        assert answer is False
        done, answer = finishes(lambda: can_read(drop / "x.dcm"))
        assert done and answer is False
        os.mkfifo(exam / "PET" / "fifo.dcm")
        done, answer = finishes(lambda: can_read(exam))
        assert done and answer is True
        done, answer = finishes(lambda: load_study(exam))
        assert done, "load_study blocked on a named pipe"
        assert not isinstance(answer, BaseException), answer
        assert answer.suvmax() == pytest.approx(HOT_SUV, rel=1e-3)
        done, answer = finishes(lambda: load_study(drop / "x.dcm"))
        assert done and isinstance(answer, StudyError) and "not a regular file" in str(answer)
    finally:
        for fifo in (drop / "x.dcm", exam / "PET" / "fifo.dcm"):
            release(fifo)


@pytest.fixture(scope="module")
def phantom_dicom(tmp_path_factory):
    from napari_petground.phantom.generate import make_phantom
    from napari_petground.phantom.io import save_phantom

    phantom = make_phantom(3, resolution_mm=12.0, n_lesions=1)
    return save_phantom(phantom, tmp_path_factory.mktemp("phantom") / "exam", format="dicom"), phantom


def test_phantom_dicom_output_reopens_as_dicom(phantom_dicom):
    folder, phantom = phantom_dicom
    assert sorted(p.name for p in folder.iterdir() if p.is_file()) == ["lesions.nii.gz", "phantom.json",
                                                                         "sites.nii.gz"]
    assert can_read(folder)
    study = load_study(folder)
    assert study.source_kind == "dicom"
    assert study.ct is not None and study.pet_is_suv
    assert study.pet.shape == phantom.study.pet.shape
    np.testing.assert_allclose(study.pet.origin, phantom.study.pet.origin, atol=1e-3)
    assert not any("lesions.nii.gz" in w for w in study.warnings)  # label maps beside DICOM: not worth a word


def test_napari_reader_opens_the_phantom_dicom_output(phantom_dicom):
    from napari_petground._napari import get_reader

    folder, _phantom = phantom_dicom
    reader = get_reader(str(folder))
    assert reader is not None
    layers = reader(str(folder))
    assert len(layers) == 2  # CT and PET, not a PET-only NIfTI reading


def test_stray_nifti_beside_dicom_is_not_read_as_the_pet(exam):
    image = sitk.GetImageFromArray(np.ones((4, 8, 8), np.float32))
    sitk.WriteImage(image, str(exam / "preview.nii.gz"))
    study = load_study(exam)
    assert study.source_kind == "dicom" and study.ct is not None
    assert study.suvmax() == pytest.approx(HOT_SUV, rel=1e-3)
    assert any("preview.nii.gz" in w and "not read" in w for w in study.warnings)


def test_folder_of_label_maps_only_says_so(tmp_path):
    for name in ("lesions.nii.gz", "sites.nii.gz"):
        sitk.WriteImage(sitk.GetImageFromArray(np.zeros((4, 8, 8), np.uint8)), str(tmp_path / name))
    with pytest.raises(StudyError) as error:
        load_study(tmp_path)
    message = str(error.value)
    assert "0 NIfTI images" not in message and "(none)" not in message
    assert "lesions.nii.gz" in message and "label" in message


class Denied:
    """Simulated permissions (tests run as root, whom chmod does not stop): paths under ``roots`` are refused."""

    def __init__(self, monkeypatch, *roots):
        self.roots = [os.path.abspath(r) for r in roots]
        real_open, real_scandir, real_listdir = builtins.open, os.scandir, os.listdir

        def guarded(real):
            def call(path=".", *args, **kwargs):
                self.check(path)
                return real(path, *args, **kwargs)
            return call

        monkeypatch.setattr(builtins, "open", guarded(real_open))
        monkeypatch.setattr(os, "scandir", guarded(real_scandir))
        monkeypatch.setattr(os, "listdir", guarded(real_listdir))

    def check(self, path) -> None:
        if isinstance(path, int):
            return
        text = os.path.abspath(os.fsdecode(path))
        if any(text == r or text.startswith(r + os.sep) for r in self.roots):
            raise PermissionError(13, "Permission denied", text)


def test_unreadable_input_folder_is_one_clear_error(exam, monkeypatch):
    Denied(monkeypatch, exam)
    with pytest.raises(StudyError, match="permission denied") as error:
        load_study(exam)
    assert str(exam) in str(error.value) and "\n" not in str(error.value)
    assert can_read(exam) is False


def test_unreadable_ct_folder_is_not_a_silent_pet_only_study(exam, monkeypatch):
    Denied(monkeypatch, exam / "CT")
    with pytest.raises(StudyError, match="permission denied") as error:
        load_study(exam)
    assert str(exam / "CT") in str(error.value)


def test_permission_denied_file_is_not_called_corrupt(exam, monkeypatch):
    victim = sorted((exam / "PET").glob("*.dcm"))[3]
    Denied(monkeypatch, victim)
    with pytest.raises(StudyError, match="permission denied") as error:
        load_study(exam)
    assert victim.name in str(error.value) and "corrupt" not in str(error.value)


@pytest.mark.skipif(IS_ROOT or os.name != "posix", reason="file modes do not stop root")
def test_chmod_unreadable_folder_is_one_clear_error(exam):
    os.chmod(exam / "CT", 0)
    try:
        with pytest.raises(StudyError, match="permission denied"):
            load_study(exam)
    finally:
        os.chmod(exam / "CT", 0o755)


@pytest.mark.parametrize("names", [("case_ct.nii.gz", "case_pet.nii.gz"), ("a.nii.gz", "b.nii.gz")])
def test_permission_denied_nifti_is_not_called_corrupt(tmp_path, monkeypatch, names):
    for name, low in zip(names, (-1000.0, 0.0), strict=True):
        sitk.WriteImage(sitk.GetImageFromArray(np.full((4, 8, 8), low, np.float32)), str(tmp_path / name))
    Denied(monkeypatch, tmp_path / names[1])
    with pytest.raises(StudyError, match="permission denied") as error:
        load_study([tmp_path / n for n in names])
    assert names[1] in str(error.value) and "corrupt" not in str(error.value)
