"""Lesion-level scoring as the paper counts it, and the evaluation table built from it."""

from __future__ import annotations

import numpy as np
import pytest

from napari_petground.model.metrics import Counts, components, dice, lesion_counts, most_confident_component


def _cube(shape, lo, hi):
    m = np.zeros(shape, bool)
    m[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] = True
    return m


def test_f1_is_tp_over_tp_plus_half_the_errors():
    assert Counts(8, 1, 3).f1 == pytest.approx(8 / (8 + 2))
    assert np.isnan(Counts().f1)


def test_components_are_26_connected_and_the_most_confident_one_is_kept():
    prob = np.zeros((8, 8, 8), np.float32)
    prob[1, 1, 1] = prob[2, 2, 2] = 0.9  # touch only at a corner: one component under 26-connectivity
    prob[6, 6, 6] = 0.95
    prob[5, 6, 6] = 0.55
    labels, count = components(prob)
    assert count == 2
    kept = most_confident_component(prob)
    assert kept[1, 1, 1] and kept[2, 2, 2] and not kept[6, 6, 6]  # mean 0.9 beats mean 0.75
    assert not most_confident_component(np.full((4, 4, 4), 0.4, np.float32)).any()


def test_the_three_variants_count_overlap_dice_and_suvmax():
    shape = (10, 10, 10)
    truth = _cube(shape, (2, 2, 2), (6, 6, 6))
    pet = np.ones(shape, np.float32)
    pet[truth] = 5.0
    pet[4, 4, 4] = 9.0
    # a large component touching the lesion and a hotter neighbour: overlap yes, Dice no, SUVmax no
    big = _cube(shape, (2, 2, 2), (10, 10, 10))
    pet[9, 9, 9] = 12.0
    out = lesion_counts(big, truth, pet)
    assert (out["overlap"].tp, out["dice"].tp, out["suvmax"].tp) == (1, 0, 0)
    assert (out["dice"].fp, out["dice"].fn) == (1, 1)
    # the lesion itself: all three
    out = lesion_counts(truth, truth, pet)
    assert all(c.tp == 1 for c in out.values())
    # elsewhere: a false positive and a false negative; nothing: only a false negative
    out = lesion_counts(_cube(shape, (7, 7, 7), (9, 9, 9)), truth, pet)
    assert (out["overlap"].tp, out["overlap"].fp, out["overlap"].fn) == (0, 1, 1)
    out = lesion_counts(np.zeros(shape, bool), truth, pet)
    assert (out["overlap"].fp, out["overlap"].fn) == (0, 1)
    assert dice(truth, truth) == 1.0 and dice(big, truth) < 0.5


def test_summary_groups_methods_side_by_side():
    from napari_petground.model.evaluate import Record, format_table, summarise

    records = [
        Record("a", "s1", {}, ["all", "tracer FDG"], {"model": {"overlap": [1, 0, 0], "dice_value": 0.8},
                                                      "blind": {"overlap": [0, 1, 1], "dice_value": 0.0}}),
        Record("a", "s2", {}, ["all", "tracer PSMA"], {"model": {"overlap": [1, 0, 0], "dice_value": 0.6},
                                                       "blind": {"overlap": [1, 0, 0], "dice_value": 0.7}}),
    ]
    table = summarise(records)
    assert list(table) == ["all", "tracer FDG", "tracer PSMA"]
    assert table["all"]["model"]["overlap_f1"] == 1.0 and table["all"]["model"]["n"] == 2
    assert table["all"]["blind"]["overlap_f1"] == pytest.approx(1 / 2)
    assert table["all"]["model"]["dice"] == pytest.approx(0.7)
    text = format_table({"groups": table})
    assert "| all | model | 2 | 1.000 |" in text
