"""Landmarks and the anatomical frame: right on phantoms whose anatomy we know, on a real CT, and the same
answer whatever the field of view."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from napari_petground.anatomy.frame import AnatomicalFrame
from napari_petground.study.volume import Volume

REAL_CT = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-ct-abdomen"
LUNG_LABELS = (6, 7, 8, 9, 10)  # phantom site map: lung lobes
PELVIS_LABEL = 47


def crop(volume: Volume, z0: float, z1: float) -> Volume:
    """The slices between z0 and z1 (mm): a shorter field of view of the same exam."""
    k0 = max(0, int(np.ceil((z0 - volume.origin[0]) / volume.spacing[0])))
    k1 = min(volume.shape[0] - 1, int(np.floor((z1 - volume.origin[0]) / volume.spacing[0])))
    origin = (volume.origin[0] + k0 * volume.spacing[0], volume.origin[1], volume.origin[2])
    return Volume(volume.data[k0:k1 + 1], volume.spacing, origin)


@pytest.fixture(scope="module")
def whole_body():
    from napari_petground.phantom import make_phantom

    return make_phantom(5, extent="whole_body")


def z_extent(phantom, labels) -> tuple[float, float]:
    rows = np.flatnonzero(np.isin(phantom.site_map, labels).any(axis=(1, 2)))
    pet = phantom.study.pet
    return pet.origin[0] + rows.min() * pet.spacing[0], pet.origin[0] + rows.max() * pet.spacing[0]


def test_landmarks_of_a_whole_body_phantom_are_where_its_anatomy_is(whole_body):
    frame = AnatomicalFrame.of(whole_body.study.ct, whole_body.study.pet)
    found = frame.landmarks.found
    lung_bottom, lung_top = z_extent(whole_body, LUNG_LABELS)
    _, pelvis_top = z_extent(whole_body, PELVIS_LABEL)
    assert abs(found["lung_apex"] - lung_top) <= 25
    assert abs(found["lung_base"] - lung_bottom) <= 25
    assert abs(found["iliac_crest"] - pelvis_top) <= 25
    assert set(found) >= {"vertex", "skull_base", "pubic_symphysis", "perineum"}
    assert frame.regions() == ["head", "neck", "chest", "abdomen", "pelvis", "legs"]
    z = np.array(sorted(found.values()))
    assert np.all(np.diff(frame.axial(z)) < 0)  # higher in the body, smaller distance below the vertex


@pytest.mark.parametrize("variant", ["chest", "abdomen_pelvis", "neck_chest"])
def test_a_lesion_keeps_its_place_on_the_body_axis_when_the_field_of_view_changes(whole_body, variant):
    ct, pet = whole_body.study.ct, whole_body.study.pet
    full = AnatomicalFrame.of(ct, pet)
    f = full.landmarks.found
    z0, z1 = {"chest": (f["lung_base"] - 60, f["lung_apex"] + 60),
              "abdomen_pelvis": (f["pubic_symphysis"] - 80, f["lung_base"] + 40),
              "neck_chest": (f["lung_base"] + 30, f["skull_base"] - 20)}[variant]
    part = AnatomicalFrame.of(crop(ct, z0, z1), crop(pet, z0, z1))
    assert part.located
    errors = []
    for lesion in whole_body.lesions:
        z = pet.index_to_world(np.argwhere(whole_body.lesion_labels == lesion.id).mean(axis=0))[0]
        if z0 <= z <= z1:
            errors.append(abs(float(part.axial(z)) - float(full.axial(z))))
    assert errors and max(errors) <= 40.0, errors
    # no landmark is invented in the part of the body the crop does not hold
    assert all(z0 - 5 <= v <= z1 + 5 for v in part.landmarks.found.values())


def test_left_and_right_follow_the_spine(whole_body):
    frame = AnatomicalFrame.of(whole_body.study.ct, whole_body.study.pet)
    for lesion in whole_body.lesions:
        if lesion.laterality not in ("left", "right") or lesion.site.endswith(("vertebra", "spine")):
            continue
        z, _, x = whole_body.study.pet.index_to_world(np.argwhere(whole_body.lesion_labels == lesion.id).mean(axis=0))
        lateral = float(frame.lateral(z, x))
        assert (lateral > 0) == (lesion.laterality == "left"), (lesion.site, lesion.laterality, lateral)


@pytest.mark.skipif(not (REAL_CT / "ct.nii.gz").is_file(), reason="the real CT sample is not here")
def test_real_abdominal_ct_lung_bases_and_iliac_crest():
    """A real contrast CT from the lung bases to the femoral heads: the lung bases where the organ labels put the
    lower lobes, the iliac crest below the second lumbar vertebra, no apex or head invented."""
    from napari_petground.study.nifti import read_nifti

    ct, _ = read_nifti(REAL_CT / "ct.nii.gz")
    organs, _ = read_nifti(REAL_CT / "organs.nii.gz", interpolation="nearest")
    labels = np.asarray(organs.data).astype(int)
    z = ct.origin[0] + np.arange(ct.shape[0]) * ct.spacing[0]
    lower_lobes = z[np.isin(labels, (11, 14)).any(axis=(1, 2))]
    l2 = z[(labels == 30).any(axis=(1, 2))]
    frame = AnatomicalFrame.of(ct, None)
    found = frame.landmarks.found
    assert abs(found["lung_base"] - lower_lobes.min()) <= 15
    assert found["iliac_crest"] < l2.min() - 20
    assert "lung_apex" not in found and "skull_base" not in found
    assert {"abdomen", "pelvis"} <= set(frame.regions())


@pytest.mark.parametrize("patient", ["STS_009", "STS_036"])
def test_a_limb_crop_says_it_has_no_landmark(ibsi_dir, patient):
    """STS_036's thigh crop holds a pocket of air 3 cm tall with both ends in view: too short for a lung (it
    was taken for lung apex and base, and the thigh sarcoma described as a testis lesion)."""
    from napari_petground.model.preprocess import ct_on_pet_grid
    from napari_petground.study import load_study

    study = load_study(ibsi_dir / patient)
    for ct in (study.ct, ct_on_pet_grid(study.pet, study.ct)):  # as read, and as grounding reads it
        frame = AnatomicalFrame.of(ct, study.pet)
        assert not frame.located and np.isnan(frame.axial(0.0)), frame.describe()
    assert "no anatomical landmark" in frame.describe() and "limb" in frame.describe()


def test_network_coordinates_of_a_point_do_not_depend_on_the_field_of_view(whole_body):
    """With coord_frame="anatomy" the network's coordinate channels at a lesion read the same on the whole body
    and on a chest-to-pelvis crop (the box-relative ones shift with the crop)."""
    import dataclasses

    from napari_petground.model.config import ModelConfig
    from napari_petground.model.preprocess import preprocess

    config = ModelConfig()
    anatomy = dataclasses.replace(config.preprocess, coord_frame="anatomy")
    ct, pet = whole_body.study.ct, whole_body.study.pet
    f = AnatomicalFrame.of(ct, pet).landmarks.found
    z0, z1 = f["pubic_symphysis"] - 60, f["lung_apex"] + 40
    lesion = next(les for les in whole_body.lesions if z0 + 50 < pet.index_to_world(les.peak_index)[0] < z1 - 50)
    point = pet.index_to_world(lesion.peak_index)

    def channels_at(pre_config, ct_volume, pet_volume):
        prepared = preprocess(pet_volume, ct_volume, pre_config, config.network.total_stride)
        index = np.round((point - np.asarray(prepared.origin)) / np.asarray(prepared.spacing)).astype(int)
        return prepared.image[2:5, index[0], index[1], index[2]]

    full = channels_at(anatomy, ct, pet)
    part = channels_at(anatomy, crop(ct, z0, z1), crop(pet, z0, z1))
    assert np.abs(full - part).max() <= 0.15, (full, part)
    box_full = channels_at(config.preprocess, ct, pet)
    box_part = channels_at(config.preprocess, crop(ct, z0, z1), crop(pet, z0, z1))
    assert abs(box_full[2] - box_part[2]) > 0.3  # what the anatomical frame fixes


def test_holes_are_filled_slice_by_slice_as_a_per_slice_fill_would():
    """The body's lungs and bowel gas are inside it in every slice, the first and last included."""
    from scipy import ndimage as ndi

    from napari_petground.anatomy.landmarks import fill_holes_per_slice

    rng = np.random.default_rng(0)
    for density in (0.2, 0.35, 0.5):
        mask = ndi.binary_opening(rng.random((12, 30, 40)) > density)
        expected = np.stack([ndi.binary_fill_holes(s) for s in mask])
        assert np.array_equal(fill_holes_per_slice(mask), expected)
