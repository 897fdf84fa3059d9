"""Lesion statistics of accepted masks: the numbers the findings table and the sidecar show."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from napari_petground.findings import label_stats, lesion_stats
from napari_petground.study import Convention, ImageNumbering, Study, Volume
from napari_petground.weaklabel.components import body_midline_x_mm

SPACING = (4.0, 3.0, 2.0)  # z, y, x mm
ORIGIN = (-100.0, -50.0, -40.0)


def two_lesion_study() -> Study:
    """A 20x30x40 PET: body SUV 1 in x 5..34 (midline at x index 19.5), a hot cube on each side."""
    pet = np.zeros((20, 30, 40), dtype=np.float32)
    pet[:, 5:25, 5:35] = 1.0
    pet[8:11, 10:13, 8:12] = 6.0  # patient's right (low x): 3*3*4 = 36 voxels
    pet[9, 11, 9] = 9.5  # its SUVmax
    pet[12:14, 15:17, 28:31] = 4.0  # patient's left (high x): 2*2*3 = 12 voxels
    volume = Volume(pet, SPACING, ORIGIN)
    return Study(pet=volume, ct=None, numbering=ImageNumbering.from_convention(20, Convention.HEAD_FIRST))


def test_stats_of_one_lesion():
    study = two_lesion_study()
    mask = study.pet.data > 5
    stats = lesion_stats(study, mask)
    assert stats.n_voxels == 36
    assert stats.suvmax == pytest.approx(9.5)
    assert stats.suvmean == pytest.approx((35 * 6.0 + 9.5) / 36)
    voxel_ml = 4 * 3 * 2 / 1000
    assert stats.volume_ml == pytest.approx(36 * voxel_ml)
    assert stats.tlg == pytest.approx(stats.suvmean * stats.volume_ml)
    assert stats.peak_index == (9, 11, 9)
    assert stats.z_range == (8, 10)
    # head-first numbering: image 1 is z index 19, so z 8..10 are images 12..10
    assert stats.image_range == (10, 12)
    assert stats.centroid_mm == pytest.approx((-100 + 9 * 4, -50 + 11 * 3, -40 + 9.5 * 2))
    assert stats.side == "right"


def test_side_follows_the_body_not_the_image_centre():
    study = two_lesion_study()
    midline = body_midline_x_mm(study)
    assert midline == pytest.approx(ORIGIN[2] + 19.5 * SPACING[2], abs=2.0)  # found on an 8 mm sampling
    left = lesion_stats(study, (study.pet.data > 3) & (study.pet.data < 5))
    assert left.side == "left"
    # a wider image with the body off to the patient's left (the body stays clear of the image's edge: a body
    # cut by it in a PET-only image this narrow is a crop whose sides cannot be judged): the centre is its right
    shifted = np.zeros((20, 30, 60), np.float32)
    shifted[:, :, 16:56] = study.pet.data  # body at x 21..50, midline 35.5
    study = Study(pet=Volume(shifted, SPACING, ORIGIN), ct=None, numbering=study.numbering)
    centre = np.zeros(shifted.shape, dtype=bool)
    centre[10, 15, 30] = True
    assert lesion_stats(study, centre).side == "right"


def test_label_stats_match_single_masks():
    study = two_lesion_study()
    labels = np.zeros(study.pet.shape, dtype=np.int32)
    labels[study.pet.data > 5] = 3
    labels[(study.pet.data > 3) & (study.pet.data < 5)] = 7
    table = label_stats(study, labels)
    assert sorted(table) == [3, 7]
    assert dataclasses.replace(table[3], label=1) == lesion_stats(study, labels == 3)
    assert table[7].n_voxels == 12 and table[7].suvmax == pytest.approx(4.0)


def test_empty_or_off_grid_mask_is_refused():
    study = two_lesion_study()
    with pytest.raises(ValueError, match="empty"):
        lesion_stats(study, np.zeros(study.pet.shape, dtype=bool))
    with pytest.raises(ValueError, match="PET grid"):
        lesion_stats(study, np.ones((2, 2, 2), dtype=bool))
    assert label_stats(study, np.zeros(study.pet.shape, dtype=np.uint8)) == {}


def test_stats_round_trip_through_dict():
    import json

    from napari_petground.findings import stats_from_dict

    stats = lesion_stats(two_lesion_study(), two_lesion_study().pet.data > 5)
    assert stats_from_dict(json.loads(json.dumps(stats.to_dict()))) == stats
