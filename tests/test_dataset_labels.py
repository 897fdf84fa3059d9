"""One rule paints items' masks into a case's label map, for the cohort and for the review export alike."""

from __future__ import annotations

import numpy as np

from napari_petground.dataset.labels import paint_item
from napari_petground.dataset.layout import DatasetItem


def _item(index: int) -> DatasetItem:
    return DatasetItem("c0", index, f"sentence {index}")


def _box(z0: int, z1: int) -> np.ndarray:
    mask = np.zeros((10, 4, 4), bool)
    mask[z0:z1] = True
    return mask


def test_new_lesions_get_new_values_and_the_same_lesion_its_first_items():
    labels = np.zeros((10, 4, 4), np.uint16)
    first, second, again = _item(0), _item(1), _item(2)
    paint_item(labels, _box(0, 3), first, [])
    paint_item(labels, _box(5, 8), second, [first])
    paint_item(labels, _box(0, 3), again, [first, second])
    again_twice = _item(3)
    paint_item(labels, _box(0, 3), again_twice, [first, second, again])
    assert (first.label, second.label, again.label) == (1, 2, 1)
    assert again.flags == ["same_lesion:c0:0"] and again_twice.flags == ["same_lesion:c0:0"]
    assert set(np.unique(labels)) == {0, 1, 2}


def test_an_overlapping_lesion_keeps_only_its_own_voxels_and_one_inside_another_shares_it():
    labels = np.zeros((10, 4, 4), np.uint16)
    big, overlapping, inside = _item(0), _item(1), _item(2)
    inside.flags.append("overlap_trimmed")  # carried over from an earlier run: not doubled
    paint_item(labels, _box(0, 6), big, [])
    paint_item(labels, _box(4, 9), overlapping, [big])
    paint_item(labels, _box(1, 2), inside, [big, overlapping])
    assert (big.label, overlapping.label, inside.label) == (1, 2, 1)
    assert np.all(labels[4:6] == 1) and np.all(labels[6:9] == 2)
    assert overlapping.flags == ["overlap_trimmed"] and inside.flags == ["overlap_trimmed"]


def test_an_empty_or_misplaced_mask_or_too_many_lesions_is_an_error_not_a_wrong_label():
    labels = np.zeros((10, 4, 4), np.uint8)
    empty, misplaced, full = _item(0), _item(1), _item(2)
    paint_item(labels, np.zeros((10, 4, 4), bool), empty, [])
    paint_item(labels, np.ones((3, 3, 3), bool), misplaced, [])
    labels[0, 0, 0] = 255
    paint_item(labels, _box(5, 6), full, [])
    for item in (empty, misplaced, full):
        assert item.status == "error" and item.label is None and item.reason
    assert "too many lesions" in full.reason and not np.any(labels[5])
