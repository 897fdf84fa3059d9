"""Phantom generator: anatomy where it belongs, truth that matches the volume, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from napari_petground.errors import PhantomError
from napari_petground.phantom import make_phantom
from napari_petground.phantom.labels import LABELS, SITE_TARGETS
from napari_petground.report.lexicon import SITE_BY_KEY
from napari_petground.study.numbering import Convention


@pytest.fixture(scope="module")
def phantom():
    return make_phantom(7, resolution_mm=6.0, n_lesions=5)


def _centroid_mm(ph, key: str) -> np.ndarray:
    idx = np.argwhere(ph.site_map == LABELS[key].value)
    assert idx.size, f"{key} missing from the site map"
    return ph.study.pet.index_to_world(idx.mean(axis=0))  # (z, y, x) mm


def test_organs_sit_on_the_correct_side_and_level(phantom):
    right_lung = _centroid_mm(phantom, "lung_rul")
    left_lung = _centroid_mm(phantom, "lung_lul")
    assert left_lung[2] > 0 > right_lung[2]  # LPS: x grows to the patient's left
    liver, spleen = _centroid_mm(phantom, "liver"), _centroid_mm(phantom, "spleen")
    assert liver[2] < 0 < spleen[2]
    heart, bladder = _centroid_mm(phantom, "myocardium"), _centroid_mm(phantom, "bladder")
    assert liver[0] < right_lung[0] and liver[0] > bladder[0]  # liver below the lung, above the bladder
    assert bladder[0] < _centroid_mm(phantom, "kidney_r")[0] < heart[0]
    assert _centroid_mm(phantom, "kidney_l")[2] > 0 > _centroid_mm(phantom, "kidney_r")[2]
    assert _centroid_mm(phantom, "vertebra")[1] > heart[1]  # spine posterior to the heart


def test_ct_values_are_tissue_like(phantom):
    ct = phantom.study.ct.data
    assert ct.dtype == np.int16
    lung = np.isin(phantom.site_map, [LABELS[k].value for k in ("lung_rul", "lung_lll")])
    assert np.median(ct[lung]) < -700
    assert np.median(ct[phantom.site_map == LABELS["liver"].value]) > 30
    assert np.median(ct[phantom.site_map == LABELS["vertebra"].value]) > 150


def test_study_fields(phantom):
    st = phantom.study
    assert st.source_kind == "phantom" and st.pet_is_suv and st.tracer == "FDG"
    assert st.pet.data.dtype == np.float32 and st.pet.same_grid(st.ct)
    assert st.numbering.convention == Convention.HEAD_FIRST
    assert st.numbering.image_for_index(st.pet.shape[0] - 1) == 1  # image 1 is the most superior slice
    assert st.report == phantom.report and st.patient.weight_kg > 30
    assert st.extras["lesion_labels"] is phantom.lesion_labels
    assert len(st.extras["truth"]["lesions"]) == len(phantom.lesions)


def test_lesion_truth_is_measured_on_the_volume(phantom):
    pet = phantom.study.pet.data
    assert 1 <= len(phantom.lesions) <= 5
    for les in phantom.lesions:
        mask = phantom.lesion_labels == les.id
        assert mask.any()
        assert les.suvmax == pytest.approx(float(pet[mask].max()))
        z = np.argwhere(mask & (pet == pet[mask].max()))[0][0]
        assert les.image_number == phantom.study.numbering.image_for_index(z)
        assert les.volume_ml == pytest.approx(mask.sum() * phantom.study.pet.voxel_volume_ml, rel=1e-3)
        # inside its named structure, on its side
        site = SITE_BY_KEY[les.site]
        assert les.site in SITE_TARGETS
        if site.lateral:
            assert (les.center_mm[2] < 0) == (les.laterality == "right")
    ids = np.unique(phantom.lesion_labels)
    assert set(ids[ids > 0]) == {les.id for les in phantom.lesions}


def test_numbered_sentences_state_the_volume_numbers(phantom):
    pet = phantom.study.pet.data
    numbered = [s for s in phantom.sentences if s.suvmax is not None]
    assert numbered
    for s in numbered:
        mask = phantom.lesion_labels == s.lesion_id
        assert f"{s.suvmax:.1f}" in s.text and str(s.image_number) in s.text
        assert s.suvmax == round(float(pet[mask].max()), 1)
        z = np.argwhere(mask & (pet == pet[mask].max()))[0][0]
        assert s.image_number == phantom.study.numbering.image_for_index(z)
        assert phantom.report[s.start:s.start + len(s.text)] == s.text


def test_same_seed_same_phantom_other_seed_differs():
    a = make_phantom(11, resolution_mm=8.0)
    b = make_phantom(11, resolution_mm=8.0)
    c = make_phantom(12, resolution_mm=8.0)
    assert np.array_equal(a.study.pet.data, b.study.pet.data)
    assert np.array_equal(a.study.ct.data, b.study.ct.data)
    assert a.report == b.report and [x.to_dict() for x in a.lesions] == [x.to_dict() for x in b.lesions]
    assert a.report != c.report or not np.array_equal(a.lesion_labels, c.lesion_labels)


@pytest.mark.parametrize("tracer", ["PSMA", "DOTATATE", "FLUCICLOVINE"])
def test_tracer_physiology(tracer):
    ph = make_phantom(3, tracer=tracer, resolution_mm=8.0, n_lesions=1)
    pet, sites = ph.study.pet.data, ph.site_map

    def mean(key):
        return float(pet[sites == LABELS[key].value].mean())

    if tracer == "PSMA":
        assert mean("parotid") > mean("liver") and mean("kidney_r") > mean("liver")
    elif tracer == "DOTATATE":
        assert mean("spleen") > mean("liver") > mean("muscle")
    else:
        assert mean("liver") > mean("muscle") and mean("bladder") < mean("liver")


def test_fdg_brain_and_bladder_hot():
    ph = make_phantom(5, tracer="FDG", resolution_mm=6.0, extent="whole_body", n_lesions=1)
    pet, sites = ph.study.pet.data, ph.site_map
    assert pet[sites == LABELS["brain"].value].mean() > 3 * pet[sites == LABELS["muscle"].value].mean()
    assert pet[sites == LABELS["bladder"].value].max() > pet[sites == LABELS["liver"].value].mean()


def test_coarser_pet_grid():
    ph = make_phantom(4, resolution_mm=4.0, pet_resolution_mm=8.0, n_lesions=2)
    assert ph.study.pet.spacing == (8.0, 8.0, 8.0) and ph.study.ct.spacing == (4.0, 4.0, 4.0)
    assert ph.lesion_labels.shape == ph.study.pet.shape == ph.site_map.shape


def test_bad_options_raise_phantom_error():
    with pytest.raises(PhantomError, match="tracer"):
        make_phantom(1, tracer="XYZ")
    with pytest.raises(PhantomError, match="extent"):
        make_phantom(1, extent="legs")
