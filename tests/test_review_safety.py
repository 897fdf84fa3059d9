"""The review never writes outside its dataset, never merges an export into another folder, and clears what
interrupted writes left behind."""

from __future__ import annotations

import json
import os
import shutil
import time

import numpy as np
import pytest

from napari_petground.dataset import Dataset
from napari_petground.errors import ReviewError
from napari_petground.review import ReviewQueue, export_reviewed
from napari_petground.review import export as export_module
from napari_petground.review.masks import Grid, MaskProblem, check_mask, write_mask
from review_fixtures import SHAPE, decide_some, tiny_dataset


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    root = tiny_dataset(tmp_path_factory.mktemp("tiny") / "ds")
    decide_some(root)
    return root


@pytest.fixture
def root(template, tmp_path):
    return shutil.copytree(template, tmp_path / "ds")


def _tree(folder) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_case_that_climbs_into_another_dataset_cannot_make_a_fix_write_there(root, tmp_path):
    other = shutil.copytree(root, tmp_path / "other")
    shutil.copy(other / "imagesTr" / "c0_0001.nii.gz", other / "imagesTr" / "x_0001.nii.gz")
    before = _tree(other)
    row = {"case": "../../other/imagesTr/x", "index": 0, "sentence": "Lesion.", "status": "matched", "label": 1}
    with open(root / "items" / "c0.jsonl", "a") as handle:
        handle.write(json.dumps(row) + "\n")
    with ReviewQueue(root) as q:
        with pytest.raises(ReviewError, match=r"c0\.jsonl:5: case '\.\./\.\./other/imagesTr/x' is not a plain"):
            q.import_dataset()
        assert q.counts()["total"] == 8  # nothing of the refused import went in
    with pytest.raises(ReviewError, match="not a plain file name"):  # and the mask writer checks on its own
        write_mask(root, "../../other/imagesTr/x", 0, np.ones(SHAPE, bool), Grid(SHAPE, (4.0,) * 3, (0.0,) * 3))
    assert _tree(other) == before


def test_a_mask_path_outside_review_masks_is_a_damaged_mask_never_opened(root):
    for relpath in ("../other/review_masks/x.nii.gz", "imagesTr/c0_0001.nii.gz", "/etc/hostname", ""):
        with pytest.raises(MaskProblem, match="not in review_masks/") as err:
            check_mask(root, relpath, None)
        assert err.value.kind == "mask_corrupt"


def test_export_into_another_dataset_is_refused_and_leaves_it_untouched(root, tmp_path):
    other = tiny_dataset(tmp_path / "other", n_cases=1)
    before = _tree(other)
    with ReviewQueue(root) as q, pytest.raises(ReviewError, match="already holds a dataset.*never merges"):
        export_reviewed(q, other)
    assert _tree(other) == before


def test_export_into_a_folder_with_other_files_is_refused(root, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    with ReviewQueue(root) as q, pytest.raises(ReviewError, match="already holds files"):
        export_reviewed(q, tmp_path / "out")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["notes.txt"]


def test_exporting_again_replaces_the_earlier_export_as_a_whole(root, tmp_path):
    out = tmp_path / "out"
    out.mkdir()  # an empty folder is fine
    with ReviewQueue(root) as q:
        first = export_reviewed(q, out, include_unreviewed=True)
        second = export_reviewed(q, out)
    assert (first.replaced, second.replaced) == (False, True)
    assert first.cases == ["c0", "c1"] and second.items == 3
    assert {i.item_id for i in Dataset(out).items()} == {"c0:0", "c0:1", "c1:1"}  # none of the first's pending
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "out"]  # no staging folder left beside it


def test_the_command_says_when_an_export_replaced_an_earlier_one(root, tmp_path, capsys):
    from napari_petground.cli import main

    assert main(["review", "export", str(root), "--out", str(tmp_path / "out")]) == 0
    assert "replaced" not in capsys.readouterr().out
    assert main(["review", "export", str(root), "--out", str(tmp_path / "out")]) == 0
    assert "it replaced the earlier export of this dataset there" in capsys.readouterr().out


def test_a_failed_export_leaves_no_half_written_folder(root, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export_module, "_export_case", broken)
    with ReviewQueue(root) as q, pytest.raises(ReviewError, match="No space left.*nothing was written there"):
        export_reviewed(q, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def _aged(path, hours: float = 2.0):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"half")
    then = time.time() - hours * 3600
    os.utime(path, (then, then))
    return path


def test_opening_a_queue_clears_temporaries_interrupted_writes_left(root):
    stale = [_aged(root / "review_masks" / ".c0_000_20250101T000000_1_2.x1y2.tmp.nii.gz"),
             _aged(root / ".review.sqlite.new-ab12cd34"), _aged(root / ".review.sqlite.new-ab12cd34-wal"),
             _aged(root / "labelsTr" / ".c0.q9.nii.gz"), _aged(root / "items" / ".c1.jsonl.z8.tmp")]
    fresh = _aged(root / "review_masks" / ".c0_001_20250101T000000_1_3.k.tmp.nii.gz", hours=0.1)
    kept = sorted(p.name for p in (root / "review_masks").iterdir() if not p.name.startswith("."))
    with ReviewQueue(root) as q:
        assert sorted(q.removed_temporaries) == sorted(stale)
        assert q.check_masks() == []
    assert not any(p.exists() for p in stale) and fresh.exists()
    assert sorted(p.name for p in (root / "review_masks").iterdir() if not p.name.startswith(".")) == kept
