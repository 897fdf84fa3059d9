"""The findings store: label ids never reused, table rows recomputed from the labels, loaded ids kept apart."""

from __future__ import annotations

import numpy as np
import pytest

from napari_petground.findings import FindingRecord, FindingsStore, present_labels
from napari_petground.report import Finding
from napari_petground.study import ImageNumbering, Study, Volume


def study_with_cubes() -> Study:
    pet = np.ones((10, 12, 14), dtype=np.float32)
    pet[2:4, 2:4, 2:4] = 5.0
    pet[6:8, 7:9, 9:12] = 8.0
    return Study(pet=Volume(pet, (3.0, 3.0, 3.0), (0.0, 0.0, 0.0)), ct=None,
                 numbering=ImageNumbering.from_convention(10))


def test_rows_follow_the_labels_not_the_records():
    study = study_with_cubes()
    store = FindingsStore()
    labels = np.zeros(study.pet.shape, dtype=np.int32)
    assert store.next_label(labels) == 1
    labels[study.pet.data == 5] = 1
    store.add(FindingRecord(1, "Right node SUVmax 5.0", Finding("Right node SUVmax 5.0", suvmax=5.0)))
    labels[study.pet.data == 8] = 2
    store.add(FindingRecord(2, "Liver lesion SUVmax 8"))
    rows = store.rows(study, labels)
    assert [(r.label, r.sentence) for r in rows] == [(1, "Right node SUVmax 5.0"), (2, "Liver lesion SUVmax 8")]
    assert rows[1].stats.suvmax == pytest.approx(8.0)

    labels[labels == 2] = 0  # an undo of the second accept
    assert [r.label for r in store.rows(study, labels)] == [1]
    assert [r.label for r in store.present(labels)] == [1]
    # the id of the undone finding is not handed out again, so a redo finds its sentence
    assert store.next_label(labels) == 3
    labels[study.pet.data == 8] = 2
    assert store.rows(study, labels)[1].sentence == "Liver lesion SUVmax 8"


def test_hand_painted_label_without_sentence_is_a_row():
    study = study_with_cubes()
    labels = np.zeros(study.pet.shape, dtype=np.uint8)
    labels[0, 0, 0] = 9
    rows = FindingsStore().rows(study, labels)
    assert [(r.label, r.sentence, r.record) for r in rows] == [(9, "", None)]


def test_duplicate_or_zero_label_is_refused():
    store = FindingsStore([FindingRecord(1, "a")])
    with pytest.raises(ValueError, match="already"):
        store.add(FindingRecord(1, "b"))
    with pytest.raises(ValueError, match="start at 1"):
        store.add(FindingRecord(0, "c"))


def test_absorb_moves_colliding_ids_to_fresh_ones():
    store = FindingsStore([FindingRecord(1, "session finding"), FindingRecord(2, "undone finding")])
    loaded = np.zeros((4, 4, 4), dtype=np.uint8)
    loaded[0, 0, 0] = 1
    loaded[1, 1, 1] = 3
    loaded[2, 2, 2] = 5  # a bare label without a record
    relabelled, added = store.absorb(loaded, [FindingRecord(1, "loaded one"), FindingRecord(3, "loaded three")])
    # 1 is used in this session -> fresh id above everything loaded; 3 and 5 are free and stay
    assert relabelled[0, 0, 0] == 6 and relabelled[1, 1, 1] == 3 and relabelled[2, 2, 2] == 5
    assert {r.label: r.sentence for r in added} == {6: "loaded one", 3: "loaded three"}
    assert store.get(1).sentence == "session finding"
    assert store.get(6).sentence == "loaded one"
    assert present_labels(relabelled) == {3, 5, 6}


def test_record_round_trip_keeps_the_finding_and_numbers():
    finding = Finding("Left hilar node, SUVmax 12.3, image 145", suvmax=12.3, slice=145, laterality="left")
    record = FindingRecord(4, finding.sentence, finding, edited=True,
                           agreement={"suv_ok": True, "slice_ok": np.bool_(False), "messages": ("off by 3",)},
                           model={"checkpoint": "demo", "threshold": np.float32(0.5)})
    back = FindingRecord.from_dict(record.to_dict())
    assert back.finding == finding
    assert back.agreement == {"suv_ok": True, "slice_ok": False, "messages": ["off by 3"]}
    assert back.model["threshold"] == pytest.approx(0.5)
    assert back.edited and back.label == 4 and back.accepted_at == record.accepted_at
