"""Depth from a probability map: the level a sentence points at, before any mask is made."""

from __future__ import annotations

import numpy as np
import pytest

from napari_petground.model.depth import (
    DepthProfile,
    depth_from_logits,
    depth_from_prepared,
    depth_of_answer,
    depth_profile,
    pet_slice_of,
)


def _blob(shape, centre, radius, value):
    zz, yy, xx = np.indices(shape)
    d2 = (zz - centre[0]) ** 2 + (yy - centre[1]) ** 2 + (xx - centre[2]) ** 2
    return np.where(d2 <= radius ** 2, value, 0.0).astype(np.float32)


def test_one_confident_lesion_gives_its_level():
    z_mm = -400.0 + 8.0 * np.arange(60)
    prob = _blob((60, 20, 20), (37, 10, 10), 2, 0.9) + 0.01
    for method in ("peak", "mass"):
        profile = depth_profile(prob, z_mm, method=method)
        assert profile.estimate_mm() == pytest.approx(z_mm[37], abs=4.0)
        assert profile.probability.sum() == pytest.approx(1.0)
        lo, hi = profile.interval(0.8)
        assert lo <= z_mm[37] <= hi


def test_small_confident_node_beats_large_faint_region_with_peak_collapse():
    z_mm = 8.0 * np.arange(60)
    prob = _blob((60, 30, 30), (45, 15, 15), 1, 0.95) + _blob((60, 30, 30), (15, 15, 15), 8, 0.3)
    assert abs(depth_profile(prob, z_mm, method="peak").estimate_mm() - z_mm[45]) < 8.0
    assert abs(depth_profile(prob, z_mm, method="mass").estimate_mm() - z_mm[15]) < 16.0


def test_two_candidate_levels_show_as_a_split_profile():
    z_mm = 8.0 * np.arange(80)
    one = depth_profile(_blob((80, 20, 20), (20, 10, 10), 2, 0.9), z_mm)
    two = depth_profile(_blob((80, 20, 20), (20, 10, 10), 2, 0.9) + _blob((80, 20, 20), (60, 10, 10), 2, 0.9), z_mm)
    assert one.peak_share() > 0.95
    assert two.peak_share() < 0.6


def test_an_empty_map_is_flat_and_says_so():
    profile = depth_profile(np.zeros((10, 4, 4)), np.arange(10.0))
    assert not profile.informative
    assert np.allclose(profile.probability, 0.1)


def test_descending_positions_and_resampling_to_pet_slices():
    z_mm = 100.0 - 8.0 * np.arange(30)  # stored head first
    profile = depth_profile(_blob((30, 10, 10), (5, 5, 5), 1, 0.9), z_mm)
    assert np.all(np.diff(profile.z_mm) > 0)
    assert profile.estimate_mm() == pytest.approx(60.0, abs=3.0)
    pet_z = -140.0 + 4.0 * np.arange(61)
    on_pet = profile.on_slices(pet_z)
    assert on_pet.sum() == pytest.approx(1.0)
    assert abs(pet_z[int(np.argmax(on_pet))] - 60.0) <= 8.0
    assert pet_slice_of(profile, -140.0, 4.0, 61) == 50
    again = DepthProfile.from_dict(profile.to_dict())
    assert np.allclose(again.probability, profile.probability)


def test_model_grid_padding_is_ignored_and_logits_work():
    class Prepared:
        origin = (-100.0, 0.0, 0.0)
        spacing = (8.0, 8.0, 8.0)
        valid_shape = (20, 8, 8)
        shape = (32, 16, 16)

    prob = np.zeros((1, 1, 32, 16, 16), np.float32)
    prob[0, 0, 25, 3, 3] = 1.0  # in the padding: must not count
    prob[0, 0, 12, 3, 3] = 0.8
    profile = depth_from_prepared(prob, Prepared())
    assert profile.z_mm.size == 20
    assert profile.mode_mm == pytest.approx(-4.0)
    logits = np.full((1, 1, 32, 16, 16), -8.0, np.float32)
    logits[0, 0, 7, 2, 2] = 6.0
    assert depth_from_logits(logits, Prepared()).mode_mm == pytest.approx(-44.0)
    with pytest.raises(ValueError):
        depth_profile(np.zeros((5, 2, 2)), np.arange(4.0))
    with pytest.raises(ValueError):
        depth_profile(np.zeros((5, 2, 2)), np.arange(5.0), method="median")


def test_the_final_depth_is_the_level_of_the_lesion_shown():
    """The site check can show another lesion than the network pointed at: the strip and ``depth_mm`` must
    then give that lesion's level, not the network's; an answer at the network's level keeps its profile."""
    z_mm = -400.0 + 4.0 * np.arange(80)
    pointed = depth_profile(_blob((80, 20, 20), (20, 10, 10), 2, 0.9), z_mm)
    elsewhere = _blob((80, 20, 20), (60, 10, 10), 3, 1.0) > 0
    moved = depth_of_answer(pointed, elsewhere, z_mm)
    assert moved is not pointed
    assert moved.estimate_mm() == pytest.approx(z_mm[60], abs=2.0)
    lo, hi = moved.interval(0.8)
    assert z_mm[57] <= lo <= hi <= z_mm[63]
    same_level = _blob((80, 20, 20), (22, 4, 4), 2, 1.0) > 0
    assert depth_of_answer(pointed, same_level, z_mm) is pointed
    assert depth_of_answer(pointed, np.zeros((80, 20, 20), bool), z_mm) is pointed  # nothing shown: as pointed
    assert depth_of_answer(None, elsewhere, z_mm).estimate_mm() == pytest.approx(z_mm[60], abs=2.0)
