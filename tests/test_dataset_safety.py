"""Paths made from a dataset's data files stay inside it; bad rows are refused by file and line; temporaries go."""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest

from napari_petground.dataset import Dataset, DatasetItem, DatasetWriter
from napari_petground.dataset.layout import check_case, remove_stale_temporaries
from napari_petground.errors import PetGroundError
from napari_petground.study.volume import Volume

UNSAFE = ["../../other/imagesTr/x", "..", "a/b", "a\\b", ".hidden", "c:x", "", "x\x00y", None, 7]


def _row(case: object, index: object = 0, **extra) -> str:
    return json.dumps({"case": case, "index": index, "sentence": "Lesion.", **extra})


def _items_file(tmp_path, name: str, *lines: str):
    (tmp_path / "items").mkdir(parents=True, exist_ok=True)
    (tmp_path / "items" / f"{name}.jsonl").write_text("\n".join(lines) + "\n")
    return Dataset(tmp_path)


@pytest.mark.parametrize("case", UNSAFE)
def test_unsafe_case_names_are_refused_before_any_path_is_made(tmp_path, case):
    ds = Dataset(tmp_path)
    with pytest.raises(PetGroundError, match="not a plain file name"):
        check_case(case)
    for make in (ds.items_path, ds.ct_path, ds.pet_path, ds.label_path):
        with pytest.raises(PetGroundError, match="not a plain file name"):
            make(case)
    with pytest.raises(PetGroundError, match="not a plain file name"):
        ds.candidates_path(case, 0)


def test_a_row_whose_case_climbs_out_of_the_dataset_is_refused_naming_file_and_line(tmp_path):
    ds = _items_file(tmp_path, "c0", _row("c0"), _row("../../other/imagesTr/x", 1))
    with pytest.raises(PetGroundError, match=r"c0\.jsonl:2: case '\.\./\.\./other/imagesTr/x' is not a plain"):
        ds.items()


def test_a_row_of_another_case_is_refused(tmp_path):
    ds = _items_file(tmp_path, "c0", _row("c1"))
    with pytest.raises(PetGroundError, match="is of case 'c1' but lies in c0.jsonl"):
        ds.items()


@pytest.mark.parametrize(("line", "message"), [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "JSON object is expected"),
    (_row("c0", "3"), "item index '3'"),
    (_row("c0", -1), "item index -1"),
    (_row("c0", 0, label=-1), "label -1"),
    (_row("c0", 0, label=2.5), "label 2.5"),
    (json.dumps({"case": "c0", "index": 0}), "sentence"),
])
def test_malformed_rows_are_refused_with_file_and_line(tmp_path, line, message):
    ds = _items_file(tmp_path, "c0", _row("c0"), line)
    with pytest.raises(PetGroundError, match=message) as err:
        ds.items()
    assert "c0.jsonl:2" in str(err.value)


def test_a_damaged_dataset_json_is_one_clear_error(tmp_path):
    (tmp_path / "dataset.json").write_text("{ half")
    with pytest.raises(PetGroundError, match="dataset.json is not readable JSON"):
        _ = Dataset(tmp_path).description
    (tmp_path / "dataset.json").write_text("[]")
    with pytest.raises(PetGroundError, match="JSON object is expected"):
        _ = Dataset(tmp_path).description


def test_the_writer_refuses_unsafe_cases_and_items_of_another_case(tmp_path):
    writer = DatasetWriter(tmp_path / "ds")
    pet = Volume(np.ones((2, 2, 2), np.float32), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0))
    labels = np.zeros(pet.shape, np.uint16)
    with pytest.raises(PetGroundError, match="not a plain file name"):
        writer.write_case("../escape", None, pet, labels, [])
    with pytest.raises(PetGroundError, match="is not of case c0"):
        writer.write_case("c0", None, pet, labels, [DatasetItem("c1", 0, "Lesion.")])
    with pytest.raises(PetGroundError, match="not a plain file name"):
        writer.write_failure("../escape", "why")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]
    assert not any(any((tmp_path / "ds" / sub).iterdir()) for sub in ("imagesTr", "labelsTr", "items", "failures"))


def _aged(path, hours: float = 2.0):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"half")
    then = time.time() - hours * 3600
    os.utime(path, (then, then))
    return path


def test_stale_temporaries_are_removed_fresh_ones_and_other_files_kept(tmp_path):
    root = tmp_path / "ds"
    stale = [_aged(root / "imagesTr" / ".c0.k3j4.nii.gz"), _aged(root / "items" / ".c0.jsonl.ab12.tmp"),
             _aged(root / ".dataset.json.x1.tmp")]
    fresh = _aged(root / "labelsTr" / ".c0.zz.nii.gz", hours=0.1)
    foreign = [_aged(root / "imagesTr" / ".DS_Store"), _aged(root / "imagesTr" / "c0_0000.nii.gz")]
    DatasetWriter(root)  # a writer starting on a folder clears what killed writers left there
    assert not any(p.exists() for p in stale)
    assert fresh.exists() and all(p.exists() for p in foreign)
    assert remove_stale_temporaries(root, older_than_s=0) == [fresh]
