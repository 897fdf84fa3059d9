"""The on-disk dataset layout: round trip, completeness marker, atomic rows."""

from __future__ import annotations

import numpy as np

from napari_petground.dataset import Dataset, DatasetItem, DatasetWriter
from napari_petground.study.volume import Volume


def _volumes() -> tuple[Volume, Volume]:
    pet = np.zeros((6, 8, 10), np.float32)
    pet[2:4, 3:5, 4:6] = 7.5
    ct = np.full((6, 8, 10), 40, np.int16)
    return (Volume(ct, (3.0, 2.0, 2.0), (-10.0, 5.0, -20.0)), Volume(pet, (3.0, 2.0, 2.0), (-10.0, 5.0, -20.0)))


def test_case_round_trip_keeps_geometry_masks_and_rows(tmp_path):
    ct, pet = _volumes()
    labels = np.zeros(pet.shape, np.uint16)
    labels[pet.data > 5] = 1
    items = [
        DatasetItem("exam1", 0, "Right hilar node SUVmax 7.5, image 3.", status="matched", label=1, tracer="FDG"),
        DatasetItem("exam1", 1, "Blood pool SUVmax 1.8.", status="no_match"),
    ]
    writer = DatasetWriter(tmp_path / "ds")
    writer.write_case("exam1", ct, pet, labels, items, candidate_masks={1: [labels > 0]})
    writer.finalize()

    ds = Dataset(tmp_path / "ds")
    assert ds.cases() == ["exam1"]
    rows = ds.items()
    assert [r.item_id for r in rows] == ["exam1:0", "exam1:1"]
    mask = ds.item_mask(rows[0])
    assert mask is not None and mask.sum() == 8 and mask[2, 3, 4]
    assert ds.item_mask(rows[1]) is None
    ct2, pet2 = ds.load_images("exam1")
    assert pet2.spacing == pet.spacing and pet2.origin == pet.origin
    assert np.allclose(pet2.data, pet.data) and ct2.data.dtype == np.int16
    assert (tmp_path / "ds" / "sentences.jsonl").read_text().count("\n") == 2
    assert ds.description["channel_names"] == {"0": "CT", "1": "PET"}


def test_case_without_items_file_is_not_complete(tmp_path):
    ct, pet = _volumes()
    writer = DatasetWriter(tmp_path / "ds")
    assert not writer.is_done("exam1")
    writer.write_failure("exam1", "PET has no SUV")
    assert Dataset(tmp_path / "ds").cases() == []
    writer.write_case("exam1", ct, pet, np.zeros(pet.shape, np.uint16), [])
    assert writer.is_done("exam1")
    assert not (tmp_path / "ds" / "failures" / "exam1.json").exists()
