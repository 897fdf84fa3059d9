"""Opening studies: the real IBSI PET/CT, DICOM and NIfTI layouts, geometry, image numbers."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from napari_petground.study import Convention, load_study
from napari_petground.study.export import export_dicom, export_nifti
from napari_petground.study.geometry import SourceGeometry, canonical_volume, to_source_array
from napari_petground.study.io import can_read
from napari_petground.study.synthetic import HOT_SUV, synthetic_study

IBSI = {  # patient: (SUVmax, weight kg, PET shape z, y, x) from the sample's README
    "STS_002": (21.68, 99.0, (48, 27, 30)),
    "STS_008": (6.50, 55.0, (51, 29, 30)),
    "STS_019": (16.33, 99.0, (47, 28, 28)),
    "STS_025": (6.38, 66.0, (47, 34, 37)),
}


@pytest.mark.parametrize("patient", sorted(IBSI))
def test_ibsi_patients_open_with_published_suvmax(ibsi_dir, patient):
    suvmax, weight, shape = IBSI[patient]
    study = load_study(ibsi_dir / patient)
    assert study.pet_is_suv and study.pet_units == "SUVbw"
    assert study.suvmax() == pytest.approx(suvmax, abs=0.01)
    assert study.patient.weight_kg == weight
    assert study.pet.shape == shape
    assert study.tracer == "FDG"
    assert study.numbering.convention == Convention.DICOM
    # CT and PET overlay: same frame of reference, physical extents overlap on every axis
    ct_header = pydicom.dcmread(next((ibsi_dir / patient / "CT" / "image").glob("*.dcm")), stop_before_pixels=True)
    assert ct_header.FrameOfReferenceUID == study.frame_of_reference_uid
    pet_lo, pet_hi = np.asarray(study.pet.origin), study.pet.index_to_world(np.asarray(study.pet.shape) - 1)
    ct_lo, ct_hi = np.asarray(study.ct.origin), study.ct.index_to_world(np.asarray(study.ct.shape) - 1)
    overlap = np.minimum(pet_hi, ct_hi) - np.maximum(pet_lo, ct_lo)
    assert np.all(overlap > 0.8 * (pet_hi - pet_lo))
    assert study.ct.data.min() < -500  # HU: air around the limb


def test_ibsi_image_numbers_follow_instance_numbers(ibsi_dir):
    study = load_study(ibsi_dir / "STS_008")
    files = study.extras["pet_files"]
    # z index 0 is the most inferior slice; its InstanceNumber is the file's
    lowest = min(files, key=lambda f: float(pydicom.dcmread(f, stop_before_pixels=True).ImagePositionPatient[2]))
    assert study.numbering.image_for_index(0) == int(pydicom.dcmread(lowest, stop_before_pixels=True).InstanceNumber)


@pytest.fixture(scope="module")
def synth():
    return synthetic_study()


@pytest.fixture(scope="module")
def synth_dicom(tmp_path_factory, synth):
    return export_dicom(synth, tmp_path_factory.mktemp("dicom") / "exam")


def test_dicom_round_trip_reproduces_suv_hu_and_geometry(synth, synth_dicom):
    study = load_study(synth_dicom)
    assert study.pet_is_suv
    assert study.suvmax() == pytest.approx(HOT_SUV, rel=1e-3)
    # per-slice rescale slopes: every slice stores its own scale; all must be applied
    assert np.allclose(study.pet.data, synth.pet.data, atol=HOT_SUV / 30000)
    assert np.array_equal(study.ct.data, synth.ct.data)
    assert study.pet.origin == pytest.approx(synth.pet.origin, abs=1e-3)
    assert study.pet.spacing == pytest.approx(synth.pet.spacing, abs=1e-4)
    # exported head first: image 1 is the most superior slice, the last z index
    assert study.numbering.image_for_index(study.pet.shape[0] - 1) == 1


def test_nifti_layouts_open(tmp_path, synth):
    export_nifti(synth, tmp_path / "autopet", layout="autopet")
    export_nifti(synth, tmp_path / "nnunet", layout="nnunet", case="PT001")
    for source in (
        tmp_path / "autopet",
        tmp_path / "autopet" / "SUV.nii.gz",
        tmp_path / "nnunet",
        tmp_path / "nnunet" / "PT001_0000.nii.gz",
        [tmp_path / "nnunet" / "PT001_0001.nii.gz", tmp_path / "nnunet" / "PT001_0000.nii.gz"],
    ):
        study = load_study(source)
        assert study.ct is not None and study.ct.shape == synth.ct.shape, source
        assert study.suvmax() == pytest.approx(HOT_SUV, rel=1e-5)
        assert study.numbering.convention == Convention.HEAD_FIRST
        assert study.numbering.image_for_index(study.pet.shape[0] - 1) == 1
    assert load_study(tmp_path / "nnunet").name == "PT001"
    feet = load_study(tmp_path / "autopet", numbering="feet_first")
    assert feet.numbering.image_for_index(0) == 1


def test_nifti_pair_told_apart_by_values(tmp_path, synth):
    export_nifti(synth, tmp_path, layout="nnunet", case="x")
    first, second = tmp_path / "scan_a.nii.gz", tmp_path / "scan_b.nii.gz"
    (tmp_path / "x_0001.nii.gz").rename(first)  # PET
    (tmp_path / "x_0000.nii.gz").rename(second)  # CT
    study = load_study([first, second])
    assert study.ct.data.min() < -500 and study.pet.data.min() >= 0
    assert any("values" in w for w in study.warnings)


def test_pet_only_nifti_warns(tmp_path, synth):
    export_nifti(synth, tmp_path, layout="autopet")
    (tmp_path / "CTres.nii.gz").unlink()
    study = load_study(tmp_path / "SUV.nii.gz")
    assert study.ct is None
    assert any("PET only" in w for w in study.warnings)


def test_nifti_pet_in_bq_per_ml_is_not_called_suv(tmp_path, synth):
    image = sitk.GetImageFromArray(synth.pet.data * 5000.0)
    sitk.WriteImage(image, str(tmp_path / "pet.nii.gz"))
    study = load_study(tmp_path / "pet.nii.gz")
    assert not study.pet_is_suv
    assert any("not SUV" in w for w in study.warnings)


def test_radiological_orientation_of_nifti_stored_ras(tmp_path, synth):
    """A NIfTI stored with flipped x and y (as RAS tools write it) lands in LPS with the lesion on the right."""
    flipped = np.ascontiguousarray(synth.pet.data[:, ::-1, ::-1])
    image = sitk.GetImageFromArray(flipped)
    image.SetSpacing(synth.pet.spacing[::-1])
    z0, y0, x0 = synth.pet.index_to_world(np.asarray(synth.pet.shape) - 1)  # far corner becomes index 0
    image.SetOrigin((x0, y0, synth.pet.origin[0]))
    image.SetDirection((-1, 0, 0, 0, -1, 0, 0, 0, 1))
    sitk.WriteImage(image, str(tmp_path / "case_pet.nii.gz"))
    study = load_study(tmp_path / "case_pet.nii.gz")
    assert study.pet.source_direction == (-1, 0, 0, 0, -1, 0, 0, 0, 1)
    assert np.array_equal(study.pet.data, synth.pet.data)
    assert study.pet.origin == pytest.approx(synth.pet.origin)
    z, y, x = np.unravel_index(np.argmax(study.pet.data), study.pet.shape)
    assert study.pet.index_to_world((z, y, x))[2] < 0  # hot lesion in the patient's right (x < 0 in LPS)


@pytest.mark.parametrize("seed", range(6))
def test_canonicalisation_keeps_every_voxel_at_its_physical_place(seed):
    rng = np.random.default_rng(seed)
    perm = rng.permutation(3)
    signs = rng.choice([-1, 1], 3)
    direction = np.zeros((3, 3))
    for lps_axis in range(3):
        direction[lps_axis, perm[lps_axis]] = signs[lps_axis]
    size = (5, 6, 7)  # x, y, z of the file
    geometry = SourceGeometry(size, (1.5, 2.0, 3.0), (10.0, -20.0, 30.0), tuple(direction.reshape(-1)))
    data = rng.integers(0, 1000, size[::-1]).astype(np.int16)
    volume, notes = canonical_volume(data, geometry)
    assert notes == [] and volume.source_direction == geometry.direction
    for _ in range(20):
        index_xyz = np.array([rng.integers(0, s) for s in size])
        world_xyz = np.asarray(geometry.origin) + direction @ (np.asarray(geometry.spacing) * index_xyz)
        canonical_index = np.round(volume.world_to_index(world_xyz[::-1])).astype(int)
        assert volume.data[tuple(canonical_index)] == data[tuple(index_xyz[::-1])]
    assert np.array_equal(to_source_array(volume.data, volume), data)


def test_oblique_grid_is_resampled_with_a_warning():
    angle = np.deg2rad(15)
    direction = (np.cos(angle), -np.sin(angle), 0, np.sin(angle), np.cos(angle), 0, 0, 0, 1)
    geometry = SourceGeometry((10, 10, 4), (2.0, 2.0, 3.0), (0.0, 0.0, 0.0), direction)
    volume, notes = canonical_volume(np.ones((4, 10, 10), np.float32), geometry)
    assert volume.source_direction == direction
    assert any("oblique" in n for n in notes)
    assert volume.data.max() == pytest.approx(1.0)


def test_non_ascii_paths_open(tmp_path, synth):
    folder = tmp_path / "études" / "患者 Ünïcode"
    export_dicom(synth, folder)
    assert can_read(folder)
    assert load_study(folder).suvmax() == pytest.approx(HOT_SUV, rel=1e-3)


def test_can_read_is_cheap_and_selective(tmp_path, synth_dicom):
    assert can_read(synth_dicom)
    assert can_read(str(next((synth_dicom / "PET").iterdir())))
    assert can_read([tmp_path / "a_ct.nii.gz", tmp_path / "a_pet.nii.gz"]) is False  # not there
    (tmp_path / "notes.txt").write_text("hello")
    assert not can_read(tmp_path / "notes.txt")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert not can_read(empty)


def test_dicom_with_mirrored_rows_and_descending_slices(tmp_path, synth):
    """PET stored with rows running to the patient's right (normal pointing to the feet) lands in LPS intact."""
    folder = export_dicom(synth, tmp_path / "exam")
    for path in sorted((folder / "PET").glob("*.dcm")):
        ds = pydicom.dcmread(path)
        pixels = ds.pixel_array[:, ::-1]
        x0, y0, z0 = (float(v) for v in ds.ImagePositionPatient)
        ds.ImagePositionPatient = [x0 + (ds.Columns - 1) * float(ds.PixelSpacing[1]), y0, z0]
        ds.ImageOrientationPatient = [-1, 0, 0, 0, 1, 0]
        ds.PixelData = np.ascontiguousarray(pixels).tobytes()
        ds.save_as(path)
    study = load_study(folder)
    assert study.pet.source_direction == (-1, 0, 0, 0, 1, 0, 0, 0, -1)
    assert study.pet.origin == pytest.approx(synth.pet.origin, abs=1e-3)
    assert np.allclose(study.pet.data, synth.pet.data, atol=HOT_SUV / 30000)
    assert study.numbering.image_for_index(study.pet.shape[0] - 1) == 1  # still the most superior slice
    # labels saved as DICOM SEG line up with each source image's own pixels, and read back unchanged
    import highdicom as hd

    from napari_petground.study.writers import load_labels, write_labels

    labels = (study.pet.data > 5).astype(np.uint8)
    write_labels(tmp_path / "seg.dcm", labels, study)
    seg = hd.seg.segread(tmp_path / "seg.dcm")
    for path in sorted((folder / "PET").glob("*.dcm")):
        ds = pydicom.dcmread(path)
        frame = seg.get_pixels_by_source_instance([ds.SOPInstanceUID], combine_segments=True)[0]
        stored = ds.pixel_array * float(ds.RescaleSlope) * 75_000 / 370e6  # SUV in the file's own layout
        assert np.array_equal(frame > 0, stored > 5), path.name
    assert np.array_equal(load_labels(tmp_path / "seg.dcm", study), labels)


def test_folder_of_several_patients_asks_for_one(ibsi_dir):
    from napari_petground.errors import StudyError

    patients = sorted(p.name for p in ibsi_dir.iterdir() if p.name.startswith("STS_"))
    n = len(patients)
    with pytest.raises(StudyError, match=rf"{n} PET series of {n} patients.*open one patient's folder") as info:
        load_study(ibsi_dir)
    assert all(name in str(info.value) for name in patients[:4])  # the message names the patients


def test_phantom_nifti_folder_opens_as_one_study_ignoring_its_label_maps(tmp_path):
    """A saved phantom folder holds ct, pet_suv, lesions and sites NIfTIs: only the first two are images."""
    from napari_petground.phantom import make_phantom
    from napari_petground.phantom.io import save_phantom

    phantom = make_phantom(3, resolution_mm=8.0)
    save_phantom(phantom, tmp_path, format="nifti")
    study = load_study(tmp_path)
    assert study.pet.shape == phantom.study.pet.shape
    assert abs(study.suvmax() - phantom.study.suvmax()) < 1e-3
