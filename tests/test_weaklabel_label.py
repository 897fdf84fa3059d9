"""Weak labels on synthetic PET/CT: the right lesion, its side, ambiguity, no match, rejection."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_petground.report import extract_findings
from napari_petground.report.finding import Finding
from napari_petground.study import Convention, ImageNumbering, Study, Volume
from napari_petground.weaklabel import (
    WeakLabelConfig,
    check_agreement,
    component_stats,
    grow_lesion,
    rank_components,
    weak_label,
)
from napari_petground.weaklabel.components import body_midline_x_mm

SPACING = (4.0, 4.0, 4.0)
SHAPE = (60, 64, 64)
ORIGIN = (-120.0, -128.0, -128.0)  # x = 0 mm is the body's midline


def make_study(lesions, *, noise=0.05, seed=0, body_shift_mm=0.0):
    """PET (SUV, 6 mm FWHM blur, noise) and CT with an elliptic body; lesions = [(centre zyx mm, diam mm, suv)]."""
    rng = np.random.default_rng(seed)
    z, y, x = (np.arange(n) * s + o for n, s, o in zip(SHAPE, SPACING, ORIGIN, strict=True))
    zz, yy, xx = np.meshgrid(z, y, x, indexing="ij")
    body = ((xx - body_shift_mm) / 110.0) ** 2 + (yy / 80.0) ** 2 <= 1.0
    pet = np.where(body, 1.0, 0.02).astype(np.float32)
    truths = []
    for centre, diam, suv in lesions:
        d2 = (zz - centre[0]) ** 2 + (yy - centre[1]) ** 2 + (xx - centre[2]) ** 2
        inside = d2 <= (diam / 2) ** 2
        pet[inside] = suv
        truths.append(inside)
    pet = ndi.gaussian_filter(pet, 6.0 / 2.3548 / SPACING[0])
    pet = np.clip(pet + rng.normal(0, noise, pet.shape), 0, None).astype(np.float32)
    # keep the stated SUVmax exactly representable: report the rounded max of each lesion
    ct = np.where(body, 40.0, -1000.0).astype(np.float32)
    numbering = ImageNumbering.from_convention(SHAPE[0], Convention.HEAD_FIRST)
    study = Study(pet=Volume(pet, SPACING, ORIGIN), ct=Volume(ct, SPACING, ORIGIN), numbering=numbering)
    return study, truths


def lesion_numbers(study, truth):
    """(SUVmax rounded to 0.1, image number of its hottest voxel) as a report would state them."""
    pet = study.pet.data
    peak = np.unravel_index(int(np.argmax(np.where(truth, pet, -1))), pet.shape)
    return round(float(pet[peak]), 1), study.numbering.image_for_index(peak[0])


def finding(text):
    (f,) = extract_findings(text)
    return f


def dice(a, b):
    return 2 * (a & b).sum() / (a.sum() + b.sum())


def test_midline_and_sides_follow_lps():
    study, truths = make_study([((0, 0, -60), 16, 8.0), ((0, 0, 60), 16, 6.0)], body_shift_mm=10.0)
    assert abs(body_midline_x_mm(study) - 10.0) < 4.0
    labels, _ = ndi.label(study.pet.data > 3.0)
    stats = component_stats(labels, study.pet, study.numbering, body_midline_x_mm(study))
    by_side = {s.side: s for s in stats}
    assert by_side["right"].suvmax > by_side["left"].suvmax  # x < midline is the patient's right
    assert by_side["right"].centroid_mm[2] < 0
    right = by_side["right"]
    assert right.image_range[0] <= study.numbering.image_for_index(right.peak_index[0]) <= right.image_range[1]
    assert right.tlg == pytest.approx(right.suvmean * right.volume_ml)


def test_without_a_ct_a_trunk_keeps_its_midline_and_a_narrow_crop_through_it_has_none():
    """PET only, no landmark can be seen: a trunk cut at its flanks by a field of view still as wide as a trunk
    keeps the centroid as its midline; a crop narrower than any trunk that the body fills to its border says
    "side not judged" (NaN) rather than taking the crop's middle for the body's."""
    import dataclasses

    from napari_petground.phantom.sample import demo_study
    from napari_petground.study.volume import Volume
    from napari_petground.weaklabel.components import TRUNK_MIN_WIDTH_MM

    study = demo_study()
    pet = np.asarray(study.pet.data)
    xs = np.flatnonzero((pet > 0.2).any(axis=(0, 1)))
    assert (xs[-1] - xs[0] + 1) * study.pet.spacing[2] > 400  # the demo body: 43 cm wide

    def pet_only(width_mm: float):
        n = int(round(width_mm / study.pet.spacing[2]))
        lo = (xs[0] + xs[-1]) // 2 - n // 2
        origin = (*study.pet.origin[:2], study.pet.origin[2] + lo * study.pet.spacing[2])
        return dataclasses.replace(study, ct=None, extras={},
                                   pet=Volume(pet[:, :, lo: lo + n], study.pet.spacing, origin))

    assert abs(body_midline_x_mm(dataclasses.replace(study, ct=None, extras={}))) < 4.0  # whole, PET only
    assert abs(body_midline_x_mm(pet_only(TRUNK_MIN_WIDTH_MM + 8))) < 8.0  # cut at the flanks, trunk-wide
    assert np.isnan(body_midline_x_mm(pet_only(TRUNK_MIN_WIDTH_MM - 20)))


def test_matched_lesion_gets_a_good_mask():
    study, truths = make_study([((0, 10, -50), 24, 8.0), ((40, -10, 50), 14, 5.0)])
    suv, image = lesion_numbers(study, truths[0])
    label = weak_label(study, finding(f"Right hilar node SUVmax {suv}, image {image}."))
    assert label.status == "matched", label.reason
    assert dice(label.mask, truths[0]) >= 0.8
    assert "SUVmax in mask" in label.reason
    json.dumps(label.to_dict())  # JSON-safe, no arrays


def test_laterality_decides_between_equal_lesions():
    study, truths = make_study([((0, 0, -60), 20, 7.0), ((0, 0, 60), 20, 7.0)], noise=0.0)
    suv, image = lesion_numbers(study, truths[1])
    assert lesion_numbers(study, truths[0])[0] == suv  # same SUV on both sides, same image
    left = weak_label(study, finding(f"Left axillary node SUVmax {suv}, image {image}."))
    assert left.status == "matched"
    assert (left.mask & truths[1]).sum() > 0 and not (left.mask & truths[0]).any()
    assert "laterality_used" in left.flags
    right = weak_label(study, finding(f"Right axillary node SUVmax {suv}, image {image}."))
    assert (right.mask & truths[0]).sum() > 0 and not (right.mask & truths[1]).any()


def test_ambiguous_keeps_every_candidate():
    study, truths = make_study([((0, 0, -60), 20, 7.0), ((0, 0, 60), 20, 7.0)], noise=0.0)
    suv, image = lesion_numbers(study, truths[0])
    label = weak_label(study, finding(f"Node with SUVmax {suv}, image {image}."))
    assert label.status == "ambiguous"
    assert len(label.candidates) == 2
    assert not label.mask.any()
    masks = [c.mask for c in label.candidates]
    assert all(m is not None and m.any() for m in masks)
    assert {bool((m & truths[0]).any()) for m in masks} == {True, False}


def test_no_match_when_suv_disagrees_and_reason_names_the_closest():
    study, truths = make_study([((0, 10, -50), 24, 8.0)])
    suv, image = lesion_numbers(study, truths[0])
    label = weak_label(study, finding(f"Right hilar node SUVmax {suv + 1.5:.1f}, image {image}."))
    assert label.status == "no_match"
    assert "closest" in label.reason and "SUVmax in mask" in label.reason
    wrong_side = weak_label(study, finding(f"Left hilar node SUVmax {suv}, image {image}."))
    assert wrong_side.status == "no_match" and "laterality_mismatch" in wrong_side.flags


def test_slice_tolerance():
    study, truths = make_study([((0, 10, -50), 12, 8.0)])
    suv, image = lesion_numbers(study, truths[0])
    far = weak_label(study, finding(f"Right node SUVmax {suv}, image {image + 6}."))
    assert far.status == "no_match"
    config = WeakLabelConfig()
    config.search.slice_tolerance = 6
    near = weak_label(study, finding(f"Right node SUVmax {suv}, image {image + 6}."), config)
    assert near.status == "matched" and "slice_tolerance_used" in near.flags


def test_rejection_has_a_reason():
    study, truths = make_study([((0, 10, -50), 24, 8.0)])
    suv, image = lesion_numbers(study, truths[0])
    config = WeakLabelConfig(method="jentzen", grow_options={"max_volume_ml": 1.0})
    label = weak_label(study, finding(f"Right node SUVmax {suv}, image {image}."), config)
    assert label.status == "rejected"
    assert "runaway" in label.reason and not label.mask.any()


def test_agreement_uses_the_rounding_of_the_text():
    study, truths = make_study([((0, 10, -50), 24, 8.0)])
    labels, _ = ndi.label(study.pet.data > 3.0)
    (stats,) = component_stats(labels, study.pet, study.numbering, 0.0)
    image = study.numbering.image_for_index(stats.peak_index[0])
    stated = Finding(sentence=f"SUV {round(stats.suvmax)}", suvmax=float(round(stats.suvmax)), slice=image)
    assert check_agreement(stats, stated).suv_ok  # "SUV 8" covers 7.5–8.5
    precise = Finding(sentence="x", suvmax=round(stats.suvmax, 2) + 0.2, slice=image, laterality="right")
    a = check_agreement(stats, precise)
    assert a.suv_ok is False and a.slice_ok and a.side_ok is None or a.side_ok
    ranked = rank_components([stats], precise)
    assert ranked[0][1] is not None and isinstance(ranked[0][2], float)


def test_jentzen_threshold_formula():
    pet = np.full((30, 30, 30), 1.0, np.float32)
    pet[12:18, 12:18, 12:18] = 10.0
    r = grow_lesion(pet, (15, 15, 15), (4.0, 4.0, 4.0), "jentzen")
    volume = r.mask.sum() * 0.064
    shell = ndi.binary_dilation(r.mask, np.ones((3, 3, 3), bool), iterations=3) & ~r.mask
    b = pet[shell].mean()
    expected = 10.0 * (0.078 / volume + 0.316) + 0.617 * b
    assert r.threshold == pytest.approx(expected, rel=0.02)
    assert r.mask.sum() == 216 and r.ok


def test_jentzen_rejects_low_contrast():
    pet = np.full((30, 30, 30), 1.0, np.float32)
    pet[15, 15, 15] = 1.05
    r = grow_lesion(pet, (15, 15, 15), (4.0, 4.0, 4.0), "jentzen")
    assert not r.ok and "90 %" in r.reason


def test_default_method_on_small_blurred_spheres():
    rng = np.random.default_rng(3)
    scores = []
    for diam in (10.0, 14.0, 18.0, 24.0, 30.0):
        size, spacing = 32, 4.0
        centres = (np.indices((size,) * 3) + 0.5) * spacing
        ctr = np.array([64.0, 64.0, 64.0]) + rng.uniform(-2, 2, 3)
        truth = ((centres - ctr[:, None, None, None]) ** 2).sum(axis=0) <= (diam / 2) ** 2
        fine = (np.indices((size * 2,) * 3) + 0.5) * spacing / 2
        inside = ((fine - ctr[:, None, None, None]) ** 2).sum(axis=0) <= (diam / 2) ** 2
        frac = inside.reshape(size, 2, size, 2, size, 2).mean(axis=(1, 3, 5))
        img = ndi.gaussian_filter(1.0 + 7.0 * frac, 6.0 / 2.3548 / spacing)
        img = (img + rng.normal(0, 0.08, img.shape)).astype(np.float32)
        seed = np.unravel_index(int(np.argmax(np.where(truth, img, -1))), img.shape)
        scores.append(dice(grow_lesion(img, seed, (spacing,) * 3).mask, truth))
    assert np.median(scores) >= 0.8, scores


@pytest.fixture(scope="module")
def fdg_phantom():
    from napari_petground.phantom import make_phantom

    return make_phantom(2, tracer="FDG", resolution_mm=10.0, extent="whole_body")


def _organ_hot_spot(phantom, organ: str) -> Finding:
    """A finding stating the SUVmax and image of the hottest voxel of one phantom organ."""
    from napari_petground.phantom.labels import L

    pet = phantom.study.pet.data
    peak = np.unravel_index(int(np.argmax(np.where(phantom.site_map == L[organ], pet, -1))), pet.shape)
    image = phantom.study.numbering.image_for_index(peak[0])
    return Finding(sentence=f"Focus SUVmax {pet[peak]:.1f}, image {image}.", suvmax=round(float(pet[peak]), 1),
                   slice=image)


@pytest.mark.parametrize("organ", ["bladder", "renal_pelvis", "brain", "myocardium"])
def test_phantom_organ_hot_spots_are_flagged_reference_organ(fdg_phantom, organ):
    assert isinstance(fdg_phantom.study.extras["site_map"], np.ndarray)  # the phantom's own format
    label = weak_label(fdg_phantom.study, _organ_hot_spot(fdg_phantom, organ))
    assert label.status in ("matched", "rejected", "ambiguous"), label.reason
    assert "reference_organ" in label.flags
    assert all("reference_organ" in c.flags for c in label.candidates)


def test_phantom_lesions_are_not_reference_organs(fdg_phantom):
    assert fdg_phantom.lesions
    for les in fdg_phantom.lesions:
        stated = Finding(sentence="x", suvmax=round(les.suvmax, 1), slice=les.image_number,
                         laterality=les.laterality, site=les.site)
        label = weak_label(fdg_phantom.study, stated)
        assert label.status == "matched", (les.site, label.reason)
        assert "reference_organ" not in label.flags, les.site


def test_renal_lesion_sentence_is_not_flagged_for_its_own_kidney(fdg_phantom):
    hot = _organ_hot_spot(fdg_phantom, "renal_pelvis")
    assert "reference_organ" in weak_label(fdg_phantom.study, hot).flags
    hot.site = "kidney"  # "renal mass, SUVmax ...": the text puts the lesion in the kidney
    assert "reference_organ" not in weak_label(fdg_phantom.study, hot).flags


def test_site_map_given_as_labels_and_names():
    study, truths = make_study([((0, 10, -50), 24, 8.0)])
    suv, image = lesion_numbers(study, truths[0])
    stated = finding(f"Right hilar node SUVmax {suv}, image {image}.")
    study.extras["site_map"] = {"labels": truths[0].astype(np.uint8) * 7, "names": {7: "urinary bladder"}}
    assert "reference_organ" in weak_label(study, stated).flags
    study.extras["site_map"] = {"labels": truths[0].astype(np.uint8) * 7, "names": {7: "lymph node"}}
    assert "reference_organ" not in weak_label(study, stated).flags



def test_lesion_merged_with_a_neighbour_at_the_lowest_level_is_measured_where_it_stands_apart():
    """A phantom's left retroperitoneal node at L3 (DOTATATE, SUVmax 23.3): at half the stated SUVmax it is one
    region with hot tissue right of the midline, whose centre is on the right; at three quarters the node
    stands alone, on the left. The same hottest voxel is one candidate, measured at the level where it agrees
    with the sentence (it was "no region agrees: left stated, region on the right")."""
    from napari_petground.phantom.fields import phantom_in_field

    phantom = phantom_in_field(90015, "neck_to_thighs", tracer="DOTATATE", resolution_mm=4.0, version=1)
    node = next(lesion for lesion in phantom.lesions if lesion.laterality == "left" and "L3" in " ".join(
        s.text for s in phantom.sentences if s.lesion_id == lesion.id))
    sentence = next(s.text for s in phantom.sentences if s.lesion_id == node.id and s.kind == "numbers")
    label = weak_label(phantom.study, extract_findings(sentence, tracer="DOTATATE")[0])
    assert label.status == "matched", label.reason
    assert dice(label.mask > 0, phantom.lesion_labels == node.id) >= 0.8
