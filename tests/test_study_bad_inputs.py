"""What a user can get wrong when opening a study: each case says what is wrong and writes nothing."""

from __future__ import annotations

import shutil

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from napari_petground.errors import StudyError
from napari_petground.study import load_study
from napari_petground.study.export import export_dicom, export_nifti
from napari_petground.study.synthetic import HOT_SUV, synthetic_study


@pytest.fixture(scope="module")
def exam_template(tmp_path_factory):
    study = synthetic_study(ct_shape=(12, 24, 24), pet_shape=(8, 16, 16))
    return export_dicom(study, tmp_path_factory.mktemp("template") / "exam")


@pytest.fixture
def exam(tmp_path, exam_template):
    return shutil.copytree(exam_template, tmp_path / "exam")


def edit_series(folder, change) -> None:
    for path in sorted(folder.glob("*.dcm")):
        ds = pydicom.dcmread(path)
        change(ds)
        ds.save_as(path)


def listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("keep", [600, -100])  # cut in the header, cut in the pixel data
def test_truncated_dicom_names_the_file(exam, keep):
    victim = sorted((exam / "PET").glob("*.dcm"))[3]
    victim.write_bytes(victim.read_bytes()[:keep])
    before = listing(exam)
    with pytest.raises(StudyError, match=victim.name):
        load_study(exam)
    assert listing(exam) == before  # nothing written


def test_junk_files_are_skipped(exam):
    (exam / "README.txt").write_text("scanner export")
    (exam / "PET" / "thumbs.db").write_bytes(b"\x00\x01garbage")
    assert load_study(exam).suvmax() == pytest.approx(HOT_SUV, rel=1e-3)


def test_folder_without_pet_says_so(exam):
    shutil.rmtree(exam / "PET")
    with pytest.raises(StudyError, match=r"no PET series.*found: CT"):
        load_study(exam)


def test_ct_of_another_patient_is_refused(exam):
    edit_series(exam / "CT", lambda ds: setattr(ds, "PatientID", "SOMEONE_ELSE"))
    with pytest.raises(StudyError, match="patient"):
        load_study(exam)


def test_ct_of_another_frame_of_reference_is_refused_unless_pet_alone(exam):
    edit_series(exam / "CT", lambda ds: setattr(ds, "FrameOfReferenceUID", pydicom.uid.generate_uid()))
    with pytest.raises(StudyError, match="frame of reference"):
        load_study(exam)
    study = load_study(exam, ct_series="none")
    assert study.ct is None and any("PET only" in w for w in study.warnings)


def test_two_pet_series_are_listed_and_one_can_be_chosen(exam):
    shutil.copytree(exam / "PET", exam / "PET2")
    new_uid = pydicom.uid.generate_uid()

    def second_series(ds):
        ds.SeriesInstanceUID = new_uid
        ds.SOPInstanceUID = pydicom.uid.generate_uid()
        ds.SeriesDescription = "PET copy"

    edit_series(exam / "PET2", second_series)
    with pytest.raises(StudyError, match=r"2 PET series found; choose one with pet_series=UID") as error:
        load_study(exam)
    assert new_uid in str(error.value)
    study = load_study(exam, pet_series=new_uid)
    assert study.extras["pet_series_uid"] == new_uid


def test_single_slice_pet_is_2d(exam):
    for path in sorted((exam / "PET").glob("*.dcm"))[1:]:
        path.unlink()
    with pytest.raises(StudyError, match="2D"):
        load_study(exam)


def test_repeated_positions_are_4d(exam):
    first = pydicom.dcmread(sorted((exam / "PET").glob("*.dcm"))[0])
    edit_series(exam / "PET", lambda ds: setattr(ds, "ImagePositionPatient", first.ImagePositionPatient))
    with pytest.raises(StudyError, match="4D"):
        load_study(exam)


def test_missing_weight_keeps_stored_units_and_says_why(exam):
    edit_series(exam / "PET", lambda ds: delattr(ds, "PatientWeight"))
    study = load_study(exam)
    assert not study.pet_is_suv
    assert study.pet_units == "BQML"
    assert any("PatientWeight" in w and "not SUV" in w for w in study.warnings)
    # Bq/ml of the hot spot: SUV 12 * 370 MBq / 75 000 g
    assert study.suvmax() == pytest.approx(HOT_SUV * 370e6 / 75_000, rel=1e-3)


def test_nifti_2d_and_4d_are_refused(tmp_path):
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((8, 8), np.float32)), str(tmp_path / "flat_pet.nii.gz"))
    with pytest.raises(StudyError, match="3D"):
        load_study(tmp_path / "flat_pet.nii.gz")
    frames = sitk.JoinSeries([sitk.GetImageFromArray(np.zeros((4, 8, 8), np.float32))] * 3)
    sitk.WriteImage(frames, str(tmp_path / "dyn_pet.nii.gz"))
    with pytest.raises(StudyError, match="4D"):
        load_study(tmp_path / "dyn_pet.nii.gz")


def test_truncated_nifti_is_named(tmp_path):
    study = synthetic_study(ct_shape=(8, 16, 16), pet_shape=(8, 16, 16))
    export_nifti(study, tmp_path, layout="autopet")
    suv = tmp_path / "SUV.nii.gz"
    suv.write_bytes(suv.read_bytes()[:200])
    with pytest.raises(StudyError, match="SUV.nii.gz"):
        load_study(tmp_path)


def test_nans_become_zero_with_a_warning(tmp_path):
    data = np.ones((6, 8, 8), np.float32)
    data[2, 3, 3] = np.nan
    sitk.WriteImage(sitk.GetImageFromArray(data), str(tmp_path / "case_pet.nii.gz"))
    study = load_study(tmp_path / "case_pet.nii.gz")
    assert np.isfinite(study.pet.data).all() and study.pet.data[2, 3, 3] == 0
    assert any("NaN" in w for w in study.warnings)


def test_ct_and_pet_apart_in_space_are_refused(tmp_path):
    study = synthetic_study(ct_shape=(8, 16, 16), pet_shape=(8, 16, 16))
    study.ct.origin = (5000.0, 0.0, 0.0)
    export_nifti(study, tmp_path, layout="nnunet")
    with pytest.raises(StudyError, match="do not overlap"):
        load_study(tmp_path)


def test_missing_path_and_ambiguous_pairs(tmp_path):
    with pytest.raises(StudyError, match="not found"):
        load_study(tmp_path / "nope")
    for name in ("a.nii.gz", "b.nii.gz"):
        sitk.WriteImage(sitk.GetImageFromArray(np.ones((4, 8, 8), np.float32)), str(tmp_path / name))
    with pytest.raises(StudyError, match="cannot tell which"):
        load_study([tmp_path / "a.nii.gz", tmp_path / "b.nii.gz"])
