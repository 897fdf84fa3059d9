"""DICOM headers that would stack a wrong volume or call wrong values SUV: placed right, or refused by name.

Each case starts from a small valid PET/CT series written by the package's own exporter and changes what a
scanner, an anonymiser or a copy could change.
"""

from __future__ import annotations

import shutil

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.dataset import Dataset

from napari_petground.errors import StudyError, SuvError, WriteError
from napari_petground.study import load_study
from napari_petground.study.export import export_dicom
from napari_petground.study.suv import MAX_SUV, check_suv_values, suv_conversion
from napari_petground.study.synthetic import HOT_SUV, synthetic_study
from napari_petground.study.writers import load_labels, write_labels


@pytest.fixture(scope="module")
def exam_template(tmp_path_factory):
    study = synthetic_study(ct_shape=(12, 24, 24), pet_shape=(8, 16, 16))
    return export_dicom(study, tmp_path_factory.mktemp("template") / "exam")


@pytest.fixture(scope="module")
def reference(exam_template):
    return load_study(exam_template)


@pytest.fixture
def exam(tmp_path, exam_template):
    return shutil.copytree(exam_template, tmp_path / "exam")


def edit(paths, change) -> None:
    for path in paths:
        ds = pydicom.dcmread(path)
        change(ds)
        ds.save_as(path)


def pet_files(exam):
    return sorted((exam / "PET").glob("*.dcm"))  # PT0000 is the most inferior slice


def same_grid(volume, other) -> bool:
    return volume.shape == other.shape and np.allclose(volume.spacing, other.spacing, atol=1e-4) and np.allclose(
        volume.origin, other.origin, atol=1e-4)


# -- missing slices: placed by their positions ------------------------------------------------------------

def test_missing_pet_slice_is_filled_where_it_was(exam, reference):
    victim = pet_files(exam)[3]
    number = int(pydicom.dcmread(victim, stop_before_pixels=True).InstanceNumber)
    victim.unlink()
    study = load_study(exam)
    assert same_grid(study.pet, reference.pet)  # not 7 slices stacked at the median spacing
    assert same_grid(study.ct, reference.ct)
    for z in (0, 1, 2, 4, 5, 6, 7):  # every image that exists is where it was, with its own values
        np.testing.assert_allclose(study.pet.data[z], reference.pet.data[z], rtol=1e-5, atol=1e-5)
    expected = (reference.pet.data[2] + reference.pet.data[4]) / 2
    np.testing.assert_allclose(study.pet.data[3], expected, rtol=1e-4, atol=1e-4)
    assert study.numbering.numbers == reference.numbering.numbers  # image N is still image N
    assert study.extras["pet_filled_slices"] == [3]
    assert any(f"image {number}" in w and "missing" in w and "interpolation" in w for w in study.warnings)


def test_missing_ct_slice_keeps_the_ct_on_its_grid(exam, reference):
    sorted((exam / "CT").glob("*.dcm"))[5].unlink()
    study = load_study(exam)
    assert same_grid(study.ct, reference.ct)
    np.testing.assert_array_equal(study.ct.data[6:], reference.ct.data[6:])
    assert any("CT" in w and "missing" in w for w in study.warnings)


def test_three_missing_slices_in_a_row_are_refused(exam):
    for victim in pet_files(exam)[2:5]:
        victim.unlink()
    with pytest.raises(StudyError, match="lacks 3 images between PT0001.dcm and PT0005.dcm"):
        load_study(exam)


def test_irregular_slice_positions_are_refused(exam, reference):
    spacing = reference.pet.spacing[0]

    def shift(ds):
        x, y, z = (float(v) for v in ds.ImagePositionPatient)
        ds.ImagePositionPatient = [x, y, z + 0.5 * spacing]

    edit(pet_files(exam)[4:], shift)
    with pytest.raises(StudyError, match="not evenly spaced"):
        load_study(exam)


def test_slice_shifted_sideways_is_refused(exam):
    def shift(ds):
        x, y, z = (float(v) for v in ds.ImagePositionPatient)
        ds.ImagePositionPatient = [x + 5.0, y, z]

    edit(pet_files(exam)[4:5], shift)
    with pytest.raises(StudyError, match="sideways"):
        load_study(exam)


def test_labels_on_a_filled_slice_series_round_trip_as_dicom_seg(exam, tmp_path):
    pet_files(exam)[3].unlink()
    study = load_study(exam)
    labels = np.zeros(study.pet.shape, np.uint8)
    labels[4:6, 6:9, 4:7] = 1
    labels[1, 2:4, 2:4] = 2
    written = write_labels(tmp_path / "labels.dcm", labels, study)
    np.testing.assert_array_equal(load_labels(written[0], study), labels)
    labels[3, 6:9, 4:7] = 1  # on the filled slice: no image there for a SEG to reference
    with pytest.raises(WriteError, match="filled in for missing images"):
        write_labels(tmp_path / "more.dcm", labels, study)
    assert not (tmp_path / "more.dcm").exists()
    written = write_labels(tmp_path / "labels.nii.gz", labels, study)  # NIfTI keeps them all
    np.testing.assert_array_equal(load_labels(written[0], study), labels)


# -- header values checked before use ---------------------------------------------------------------------

@pytest.mark.parametrize("value", [["0", "0"], ["-2", "2"]])
def test_pixel_spacing_that_is_not_positive_is_refused(exam, value):
    edit(pet_files(exam), lambda ds: setattr(ds, "PixelSpacing", value))
    with pytest.raises(StudyError, match=r"PixelSpacing \(0028,0030\)"):
        load_study(exam)


def test_missing_pixel_spacing_is_refused_by_name(exam):
    edit(pet_files(exam), lambda ds: delattr(ds, "PixelSpacing"))
    with pytest.raises(StudyError, match="has no PixelSpacing"):
        load_study(exam)


def test_nan_rescale_slope_is_refused(exam):
    edit(pet_files(exam), lambda ds: setattr(ds, "RescaleSlope", "nan"))
    with pytest.raises(StudyError, match=r"RescaleSlope \(0028,1053\) is nan"):
        load_study(exam)


def test_rescale_slope_missing_from_one_image_is_refused(exam):
    edit(pet_files(exam)[2:3], lambda ds: delattr(ds, "RescaleSlope"))
    with pytest.raises(StudyError, match="PT0002.dcm has no RescaleSlope"):
        load_study(exam)


def test_rows_that_do_not_match_the_pixel_data_are_refused(exam):
    edit(pet_files(exam), lambda ds: setattr(ds, "Rows", int(ds.Rows) - 2))
    with pytest.raises(StudyError, match="Rows x Columns"):
        load_study(exam)


def test_gml_units_on_bq_per_ml_values_are_not_called_suv(exam):
    edit(pet_files(exam), lambda ds: setattr(ds, "Units", "GML"))
    study = load_study(exam)
    assert not study.pet_is_suv and study.pet_units == "unknown"
    assert study.suvmax() > MAX_SUV  # the Bq/ml values, shown as stored
    assert any("GML" in w and "Bq/ml" in w and "re-export" in w for w in study.warnings)


def test_suv_plausibility_check():
    check_suv_values(np.array([0.0, 2.0, 80.0]), "BQML")
    with pytest.raises(SuvError, match="Bq/ml"):
        check_suv_values(np.array([0.0, 5000.0, 75_402.0]), "GML")
    with pytest.raises(SuvError, match="dose, weight or times"):
        check_suv_values(np.array([0.0, 5000.0]), "BQML")
    with pytest.raises(SuvError, match="no value above 0"):
        check_suv_values(np.zeros(4), "GML")


def philips_counts(factor: float, corrected: list[str]):
    def change(ds):
        ds.Units = "CNTS"
        ds.CorrectedImage = corrected
        ds.add_new((0x7053, 0x0010), "LO", "Philips PET Private Group")
        ds.add_new((0x7053, 0x1000), "DS", f"{factor:.10g}")
    return change


def test_non_attenuation_corrected_philips_counts_are_not_converted(exam):
    factor = 75_000 / 370e6  # what the exporter's BQML values need to become SUV
    edit(pet_files(exam), philips_counts(factor, ["DECY", "NORM"]))
    study = load_study(exam)
    assert not study.pet_is_suv and study.pet_units == "CNTS"
    assert any("not attenuation-corrected" in w for w in study.warnings)


def test_attenuation_corrected_philips_counts_convert(exam):
    factor = 75_000 / 370e6
    edit(pet_files(exam), philips_counts(factor, ["DECY", "ATTN"]))
    study = load_study(exam)
    assert study.pet_is_suv and study.suvmax() == pytest.approx(HOT_SUV, rel=1e-3)


def test_attenuation_correction_is_required_for_any_units():
    ds = Dataset()
    ds.Units = "GML"
    ds.CorrectedImage = ["DECY"]
    with pytest.raises(SuvError, match="not attenuation-corrected"):
        suv_conversion(ds)


def test_one_infinite_voxel_does_not_unmake_suv(tmp_path):
    data = np.ones((6, 8, 8), np.float32)
    data[3, 4, 4] = 7.5
    data[2, 3, 3] = np.inf
    sitk.WriteImage(sitk.GetImageFromArray(data), str(tmp_path / "case_pet.nii.gz"))
    study = load_study(tmp_path / "case_pet.nii.gz")
    assert study.pet_is_suv and study.suvmax() == pytest.approx(7.5)
    assert study.pet.data[2, 3, 3] == 0
    assert any("infinite" in w for w in study.warnings)


def test_copied_slice_file_is_skipped_not_4d(exam, reference):
    shutil.copy(pet_files(exam)[3], exam / "PET" / "PT0003 copy.dcm")
    study = load_study(exam)
    assert same_grid(study.pet, reference.pet)
    np.testing.assert_allclose(study.pet.data, reference.pet.data, rtol=1e-6)
    assert any("PT0003 copy.dcm" in w and "same SOPInstanceUID" in w for w in study.warnings)


def test_two_images_at_one_position_are_named_not_4d(exam):
    extra = exam / "PET" / "PT0003b.dcm"
    shutil.copy(pet_files(exam)[3], extra)

    def another_image(ds):
        ds.SOPInstanceUID = pydicom.uid.generate_uid()
        ds.PixelData = (np.frombuffer(ds.PixelData, "<i2") // 2).astype("<i2").tobytes()

    edit([extra], another_image)
    with pytest.raises(StudyError, match="PT0003.dcm and PT0003b.dcm are at the same position") as error:
        load_study(exam)
    assert "4D" not in str(error.value)


@pytest.mark.parametrize("orientation", [[0, 0, 0, 0, 0, 0], [1, 0, 0, 1, 0, 0], [2, 0, 0, 0, 1, 0]])
def test_orientation_that_is_not_two_unit_vectors_is_refused_not_4d(exam, orientation):
    edit(pet_files(exam), lambda ds: setattr(ds, "ImageOrientationPatient", orientation))
    with pytest.raises(StudyError, match=r"ImageOrientationPatient \(0020,0037\)") as error:
        load_study(exam)
    assert "4D" not in str(error.value)


def test_copy_under_a_new_uid_is_skipped_when_its_pixels_are_identical(exam, reference):
    extra = exam / "PET" / "PT0005 copy.dcm"
    shutil.copy(pet_files(exam)[5], extra)
    edit([extra], lambda ds: setattr(ds, "SOPInstanceUID", pydicom.uid.generate_uid()))
    study = load_study(exam)
    assert same_grid(study.pet, reference.pet)
    assert any("PT0005 copy.dcm" in w and "identical pixels" in w for w in study.warnings)


def test_same_uid_at_another_position_is_not_a_copy(exam, reference):
    first_uid = pydicom.dcmread(pet_files(exam)[0], stop_before_pixels=True).SOPInstanceUID
    edit(pet_files(exam)[7:], lambda ds: setattr(ds, "SOPInstanceUID", first_uid))  # a careless anonymiser
    study = load_study(exam)
    assert same_grid(study.pet, reference.pet)  # the top slice is not dropped as a "copy"
