"""The last answer for a sentence without numbers: when the network has no region at all, the hottest uptake
where its location prior points is grown into a lesion, flagged as low confidence. Numbers, or text that is
no lesion finding, never reach it."""

from __future__ import annotations

import numpy as np
import pytest

from napari_petground.model.pointed import pointed_candidates, pointed_uptake


def _sphere(shape, centre, radius):
    zz, yy, xx = np.indices(shape)
    return (zz - centre[0]) ** 2 + (yy - centre[1]) ** 2 + (xx - centre[2]) ** 2 <= radius ** 2


def _two_lesions():
    shape = (40, 40, 40)
    pet = np.full(shape, 0.8, np.float32)  # background below the candidate floor
    hot, warm = _sphere(shape, (10, 10, 10), 3), _sphere(shape, (28, 28, 28), 3)
    pet[hot], pet[warm] = 10.0, 5.0
    return pet, hot, warm


def _prior_at(shape, centre, width=6.0):
    zz, yy, xx = np.indices(shape)
    d2 = (zz - centre[0]) ** 2 + (yy - centre[1]) ** 2 + (xx - centre[2]) ** 2
    return np.exp(-d2 / (2 * width ** 2)).astype(np.float32)


def test_the_prior_decides_between_hot_spots_and_the_lesion_is_grown_whole():
    pet, hot, warm = _two_lesions()
    near_warm = _prior_at(pet.shape, (28, 28, 28))
    seed = pointed_candidates(pet, near_warm)[0]
    assert warm[seed]  # the warmer spot where the sentence points beats the hotter one
    mask = pointed_uptake(pet, (4.0, 4.0, 4.0), near_warm)
    assert mask is not None and mask[warm].all() and not mask[hot].any()
    # a flat prior leaves the choice to the uptake
    assert hot[pointed_candidates(pet, np.ones_like(pet))[0]]


def test_a_ripple_of_a_bright_organ_is_passed_over_for_a_lesion_that_stands_out():
    shape = (40, 40, 40)
    pet = 2.0 + np.random.default_rng(0).normal(0.0, 0.08, shape).clip(-0.3, 0.3).astype(np.float32)  # body
    pet[5:35, 5:20, 5:35] += 1.0  # a bright organ, where the prior points most
    pet[15, 12, 15] = 3.6  # a ripple of it: the best candidate by SUV x prior, but no lesion
    lesion = _sphere(shape, (20, 30, 20), 2)
    pet[lesion] = 6.0  # outside the organ, where the prior is weaker
    prior = _prior_at(shape, (15, 12, 15), width=12.0)
    assert pointed_candidates(pet, prior)[0] == (15, 12, 15)
    mask = pointed_uptake(pet, (4.0, 4.0, 4.0), prior)
    assert mask is not None and mask[lesion].all() and not mask[15, 12, 15]


def test_a_spike_on_an_organ_edge_that_grows_without_contrast_is_not_offered():
    """A one-voxel spike at a bright organ's edge passes the quick test (twice the median around it) but its
    growth ends without contrast to its own ring: no lesion to offer, as for the network's regions."""
    from napari_petground.model.pointed import standing_out
    from napari_petground.weaklabel.grow import grow_lesion

    shape = (40, 40, 40)
    pet = np.full(shape, 1.0, np.float32)
    pet[:, :, 20:] = 3.0  # a bright organ filling half the image (growing into it runs away)
    spike = (20, 20, 19)
    pet[spike] = 4.0
    prior = _prior_at(shape, spike)
    assert pointed_candidates(pet, prior)[0] == spike and standing_out(pet, spike) is not None
    assert "low_contrast" in grow_lesion(pet, spike, (4.0, 4.0, 4.0)).flags
    assert pointed_uptake(pet, (4.0, 4.0, 4.0), prior) is None


def test_no_candidate_gives_none_and_a_prior_on_another_grid_is_an_error():
    pet, _hot, _warm = _two_lesions()
    assert pointed_candidates(np.full(pet.shape, 0.5, np.float32), np.ones_like(pet)) == []  # no uptake
    assert pointed_uptake(pet, (4.0, 4.0, 4.0), np.zeros_like(pet)) is None  # the prior points nowhere
    with pytest.raises(ValueError, match="not on the PET grid"):
        pointed_candidates(pet, np.ones((10, 10, 10), np.float32))


@pytest.fixture(scope="module")
def phantom():
    from napari_petground.phantom import make_phantom

    return make_phantom(3, resolution_mm=8.0)


def test_selection_without_any_network_region_uses_the_prior_flagged(phantom):
    from napari_petground.model.select import select_lesion
    from napari_petground.report import extract_findings

    study = phantom.study
    hottest = max(phantom.lesions, key=lambda les: les.suvmax)
    described = min(phantom.lesions, key=lambda les: les.suvmax)
    assert described.id != hottest.id
    centre = np.argwhere(phantom.lesion_labels == described.id).mean(axis=0)
    calls = []

    def prior():
        calls.append(1)
        return _prior_at(study.pet.shape, centre, width=2.0)

    nothing = np.zeros(study.pet.shape, np.float32)
    finding = extract_findings("Hypermetabolic right external iliac lymph node.")[0]  # no numbers
    chosen = select_lesion(nothing, study, finding, pointed=prior)
    assert chosen.method == "location prior + uptake"
    assert chosen.mask[phantom.lesion_labels == described.id].any()
    assert not chosen.mask[phantom.lesion_labels == hottest.id].any()
    assert any("low confidence" in f and "where the sentence points" in f for f in chosen.flags)
    assert chosen.components[chosen.chosen].suvmax == pytest.approx(float(study.pet.data[chosen.mask].max()))
    # without a prior, with the fallbacks off, or for text that is no lesion finding: nothing is invented
    assert select_lesion(nothing, study, finding).method == "none"
    assert select_lesion(nothing, study, finding, pointed=prior, fallback=False).method == "none"
    assert select_lesion(nothing, study, None, pointed=prior).method == "none"
    # a faint network region still comes first, and numbers that fit one region never ask the prior
    calls.clear()
    faint = nothing.copy()
    faint[phantom.lesion_labels == hottest.id] = 0.3
    assert select_lesion(faint, study, finding, pointed=prior).method == "network (faint region)"
    numbered = extract_findings(f"Lesion with SUVmax {hottest.suvmax:.1f}, image {hottest.image_number}.")[0]
    select_lesion(nothing, study, numbered, pointed=prior)
    assert not calls


def test_numbers_that_fit_two_regions_are_settled_by_where_the_words_point():
    """Two lesions of the same SUVmax on the same images: the numbers cannot choose (an ambiguous weak label),
    the location prior can; a prior that does not single one out leaves the choice to a reviewer."""
    from napari_petground.model.select import select_lesion
    from napari_petground.report import extract_findings
    from napari_petground.study.numbering import Convention, ImageNumbering
    from napari_petground.study.study import Study
    from napari_petground.study.volume import Volume

    shape = (40, 40, 40)
    pet = np.full(shape, 1.0, np.float32)
    first, second = _sphere(shape, (20, 12, 12), 2), _sphere(shape, (20, 26, 28), 2)
    pet[first] = pet[second] = 6.0
    study = Study(pet=Volume(pet, (4.0, 4.0, 4.0), (0.0, 0.0, 0.0)), ct=None,
                  numbering=ImageNumbering.from_convention(shape[0], Convention.HEAD_FIRST))
    image = study.numbering.image_for_index(20)
    finding = extract_findings(f"Hypermetabolic lymph node, SUVmax 6.0 (image {image}).")[0]
    nothing = np.zeros(shape, np.float32)
    chosen = select_lesion(nothing, study, finding, pointed=lambda: _prior_at(shape, (20, 26, 28)))
    assert chosen.method == "weak label + words"
    assert chosen.mask[second].all() and not chosen.mask[first].any()
    assert any("2 regions agree with the stated numbers" in f for f in chosen.flags)
    undecided = select_lesion(nothing, study, finding, pointed=lambda: np.ones(shape, np.float32))
    assert not undecided.mask.any()
    assert any("ambiguous" in f for f in undecided.flags)
