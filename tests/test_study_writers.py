"""Labels drawn on the PET grid go back to the source geometry (NIfTI, DICOM SEG) and read back the same."""

from __future__ import annotations

import highdicom as hd
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from napari_petground.errors import WriteError
from napari_petground.study import load_study
from napari_petground.study.export import export_nifti
from napari_petground.study.synthetic import synthetic_study
from napari_petground.study.writers import load_labels, write_labels, write_labels_layer


@pytest.fixture(scope="module")
def sts(ibsi_dir):
    return load_study(ibsi_dir / "STS_002")


def lesion_mask(study) -> np.ndarray:
    labels = np.zeros(study.pet.shape, np.uint8)
    labels[study.pet.data > 0.4 * study.suvmax()] = 1
    labels[2:5, 3:6, 4:9] = 4  # a second, separate label value
    return labels


def test_dicom_seg_round_trip_on_real_pet(sts, tmp_path):
    labels = lesion_mask(sts)
    written = write_labels(tmp_path / "lesions.dcm", labels, sts, segment_names={1: "GTV", 4: "node"})
    assert written == [tmp_path / "lesions.dcm"]
    assert np.array_equal(load_labels(tmp_path / "lesions.dcm", sts), labels)
    # other tools read it: pydicom sees a SEG of the PET series, highdicom its two named segments
    ds = pydicom.dcmread(tmp_path / "lesions.dcm")
    assert ds.Modality == "SEG"
    assert ds.ReferencedSeriesSequence[0].SeriesInstanceUID == sts.extras["pet_series_uid"]
    seg = hd.seg.segread(tmp_path / "lesions.dcm")
    assert [seg.get_segment_description(n).segment_label for n in seg.segment_numbers] == ["GTV", "node"]
    assert list(tmp_path.iterdir()) == [tmp_path / "lesions.dcm"]  # no temporary file left


def test_nifti_round_trip_on_real_pet(sts, tmp_path):
    labels = lesion_mask(sts)
    write_labels(tmp_path / "lesions.nii.gz", labels, sts)
    assert np.array_equal(load_labels(tmp_path / "lesions.nii.gz", sts), labels)
    image = sitk.ReadImage(str(tmp_path / "lesions.nii.gz"))
    assert image.GetSize() == sts.pet.shape[::-1]
    assert np.allclose(image.GetOrigin(), sts.pet.origin[::-1])


def test_nifti_labels_restore_the_source_direction(tmp_path):
    synth = synthetic_study(ct_shape=(8, 16, 16), pet_shape=(8, 12, 10))
    flipped = np.ascontiguousarray(synth.pet.data[:, ::-1, ::-1])
    image = sitk.GetImageFromArray(flipped)
    image.SetSpacing(synth.pet.spacing[::-1])
    far = synth.pet.index_to_world(np.asarray(synth.pet.shape) - 1)
    image.SetOrigin((far[2], far[1], synth.pet.origin[0]))
    image.SetDirection((-1, 0, 0, 0, -1, 0, 0, 0, 1))
    sitk.WriteImage(image, str(tmp_path / "case_pet.nii.gz"))
    study = load_study(tmp_path / "case_pet.nii.gz")
    labels = (study.pet.data > 5).astype(np.uint8)
    write_labels(tmp_path / "mask.nii.gz", labels, study)
    saved = sitk.ReadImage(str(tmp_path / "mask.nii.gz"))
    assert saved.GetDirection() == image.GetDirection()
    assert np.allclose(saved.GetOrigin(), image.GetOrigin())
    # voxel for voxel like the source file: the mask covers the same stored voxels as the hot PET
    assert np.array_equal(sitk.GetArrayFromImage(saved), (flipped > 5).astype(np.uint8))
    assert np.array_equal(load_labels(tmp_path / "mask.nii.gz", study), labels)


def test_wrong_shape_and_format_write_nothing(sts, tmp_path):
    with pytest.raises(WriteError, match="do not match the PET grid"):
        write_labels(tmp_path / "x.nii.gz", np.zeros((3, 3, 3), np.uint8), sts)
    with pytest.raises(WriteError, match=r"\.nii\.gz"):
        write_labels(tmp_path / "x.png", lesion_mask(sts), sts)
    with pytest.raises(WriteError, match="empty"):
        write_labels(tmp_path / "x.dcm", np.zeros(sts.pet.shape, np.uint8), sts)
    with pytest.raises(WriteError, match="negative"):
        write_labels(tmp_path / "x.nii.gz", -lesion_mask(sts).astype(np.int16), sts)
    assert list(tmp_path.iterdir()) == []


def test_seg_needs_a_dicom_study(tmp_path):
    synth = synthetic_study(ct_shape=(8, 16, 16), pet_shape=(8, 12, 10))
    export_nifti(synth, tmp_path / "case")
    study = load_study(tmp_path / "case")
    with pytest.raises(WriteError, match="not read from DICOM"):
        write_labels(tmp_path / "m.dcm", (study.pet.data > 5).astype(np.uint8), study)


def test_npe2_writer_finds_the_study_in_layer_metadata(sts, tmp_path):
    from napari_petground._napari import write_labels as npe2_write
    from napari_petground.session import StudySession, tag

    labels = lesion_mask(sts)
    attributes = {"metadata": {"petground": tag(StudySession(sts), "labels")}, "name": "lesions"}
    written = npe2_write(str(tmp_path / "out.nii.gz"), labels, attributes)
    assert np.array_equal(load_labels(written[0], sts), labels)
    with pytest.raises(WriteError, match="not attached to a PET/CT study"):
        write_labels_layer(tmp_path / "other.dcm", labels, {"metadata": {}})
    # overwriting keeps one complete pair (labels and their sidecar)
    npe2_write(str(tmp_path / "out.nii.gz"), np.zeros_like(labels), attributes)
    assert load_labels(tmp_path / "out.nii.gz", sts).max() == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.nii.gz", "out.nii.gz.json"]


def test_hand_made_labels_layer_is_saved_in_world_geometry(tmp_path):
    data = np.zeros((4, 5, 6), np.uint8)
    data[1, 2, 3] = 2
    attributes = {"metadata": {}, "scale": (3.0, 2.0, 2.0), "translate": (-100.0, 10.0, 20.0)}
    (written,) = write_labels_layer(tmp_path / "hand.nii.gz", data, attributes)
    image = sitk.ReadImage(str(written))
    assert image.GetSpacing() == (2.0, 2.0, 3.0) and image.GetOrigin() == (20.0, 10.0, -100.0)
    # the labelled voxel sits at the same world position napari showed it at
    assert image.TransformIndexToPhysicalPoint((3, 2, 1)) == (26.0, 14.0, -97.0)
    assert sitk.GetArrayFromImage(image)[1, 2, 3] == 2


def test_written_masks_are_readable_as_the_umask_allows_and_keep_the_permissions_of_the_file_they_replace(tmp_path):
    """Annotators share folders: a mask saved from the viewer must get the permissions any new file of the user
    gets (0644 under umask 022), not a private 0600; saving over a file keeps that file's permissions."""
    import os
    import stat

    study = synthetic_study(ct_shape=(8, 16, 16), pet_shape=(8, 12, 10))
    labels = (study.pet.data > 5).astype(np.uint8)
    old = os.umask(0o022)
    try:
        written = write_labels(tmp_path / "mask.nii.gz", labels, study)[0]
        assert stat.S_IMODE(written.stat().st_mode) == 0o644
        written.chmod(0o640)  # the group may read, others not: a second save keeps that
        write_labels(tmp_path / "mask.nii.gz", labels, study)
        assert stat.S_IMODE(written.stat().st_mode) == 0o640
    finally:
        os.umask(old)
    assert [p.name for p in tmp_path.iterdir()] == ["mask.nii.gz"]  # no temporary left behind
