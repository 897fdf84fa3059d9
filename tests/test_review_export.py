"""Export of the corrected dataset: same layout, masks as decided, statistics as the paper counts them."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from scipy import ndimage

from napari_petground.cli import main
from napari_petground.dataset import Dataset
from napari_petground.errors import ReviewError
from napari_petground.review import ReviewQueue, export_reviewed
from napari_petground.review.demo import make_demo_dataset


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_demo_dataset(tmp_path_factory.mktemp("demo") / "ds", n_cases=2, shape=(40, 32, 32),
                             spacing=(12.0, 12.0, 12.0))


@pytest.fixture
def reviewed(template, tmp_path):
    """The demo dataset with one decision of every kind; returns (root, masks the decisions should export)."""
    root = shutil.copytree(template, tmp_path / "ds")
    with ReviewQueue(root) as q:
        q.import_dataset()
        q.accept(q.claim_item("demo001:0", "anna"))
        weak2 = q.weak_mask(q.item("demo001:2"))
        q.fix(q.claim_item("demo001:2", "anna"), ndimage.binary_dilation(weak2))
        elsewhere = np.zeros_like(weak2)
        elsewhere[8:10, 20:22, 10:12] = True
        q.fix(q.claim_item("demo001:4", "ben"), elsewhere)
        q.reject(q.claim_item("demo001:5", "ben"), "not_a_finding", note="blood pool")
        q.choose(q.claim_item("demo002:3", "ben"), 0)
        q.skip(q.claim_item("demo002:0", "anna"))
        cmap = q.candidate_map(q.item("demo002:3"))
        expected = {"demo001:0": q.weak_mask(q.item("demo001:0")), "demo001:2": ndimage.binary_dilation(weak2),
                    "demo001:4": elsewhere, "demo002:3": cmap == 1}
    return root, expected


def test_export_writes_the_decided_masks_in_the_same_layout(reviewed, tmp_path):
    root, expected = reviewed
    with ReviewQueue(root) as q:
        result = export_reviewed(q, tmp_path / "out")
    assert result.cases == ["demo001", "demo002"] and result.left_out == []
    out = Dataset(tmp_path / "out")
    rows = {i.item_id: i for i in out.items()}
    # reviewed items, and the unmatched sentences that were never queued; pending ones are left out
    assert sorted(rows) == ["demo001:0", "demo001:2", "demo001:4", "demo001:5", "demo001:6", "demo002:3",
                            "demo002:6"]
    for item_id, mask in expected.items():
        assert rows[item_id].status == "matched"
        assert np.array_equal(out.item_mask(rows[item_id]), mask), item_id
    assert rows["demo001:0"].flags == ["review:unchanged"]
    assert rows["demo001:2"].flags == ["overlap_trimmed", "review:boundary"]
    assert rows["demo001:4"].flags == ["review:moved"]
    assert rows["demo002:3"].flags == ["review:candidate"] and rows["demo002:3"].candidates == []
    assert rows["demo001:5"].status == "rejected" and rows["demo001:5"].label is None
    assert rows["demo001:5"].reason == "review: not_a_finding (blood pool)"
    assert rows["demo001:6"].status == "no_match"
    assert not any(out.candidates_path("demo002", 3).parent.glob("*.nii.gz"))
    ct0, pet0 = Dataset(root).load_images("demo001")
    ct1, pet1 = out.load_images("demo001")
    assert np.array_equal(pet0.data, pet1.data) and np.array_equal(ct0.data, ct1.data)
    assert pet1.spacing == pet0.spacing and pet1.origin == pet0.origin
    log = [json.loads(line) for line in (tmp_path / "out" / "review.jsonl").read_text().splitlines()]
    assert {r["item_id"]: (r["annotator"], r["outcome"]) for r in log} == {
        "demo001:0": ("anna", "unchanged"), "demo001:2": ("anna", "boundary"), "demo001:4": ("ben", "moved"),
        "demo001:5": ("ben", "rejected"), "demo002:3": ("ben", "candidate")}
    assert out.description["petground"]["review"]["reviewed"] == 5


def test_statistics_are_comparable_to_the_published_review(reviewed, tmp_path):
    root, _ = reviewed
    with ReviewQueue(root) as q:
        stats = export_reviewed(q, tmp_path / "out").stats
    assert stats["with_weak_mask"] == {"unchanged": 1, "boundary": 1, "moved": 1, "rejected": 1}
    assert stats["without_weak_mask"] == {"candidate": 1, "drawn": 0, "rejected": 0}
    assert stats["rates"]["right_place"] == 0.5 and stats["rates"]["boundary_edit"] == 0.25
    assert stats["by_tracer"]["FDG"]["reviewed"] == 4 and stats["by_tracer"]["PSMA"]["reviewed"] == 1
    assert stats["by_flag"]["overlap_trimmed"]["with_weak_mask"]["boundary"] == 1
    assert stats["by_flag"]["(none)"]["reviewed"] == 4
    assert stats["by_annotator"] == {"anna": 2, "ben": 3}
    assert stats["reject_reasons"] == {"not_a_finding": 1}
    assert stats["states"]["skipped"] == 1 and stats["pending"] == 7
    assert json.loads((tmp_path / "out" / "review_stats.json").read_text()) == stats


def test_include_unreviewed_keeps_weak_labels_and_candidates(template, tmp_path):
    root = shutil.copytree(template, tmp_path / "ds")
    with ReviewQueue(root) as q:
        q.import_dataset()
        export_reviewed(q, tmp_path / "out", include_unreviewed=True)
        weak = q.weak_mask(q.item("demo001:1"))
    out = Dataset(tmp_path / "out")
    rows = {i.item_id: i for i in out.items()}
    assert len(rows) == 14 and rows["demo001:1"].flags == ["review:pending"]
    assert np.array_equal(out.item_mask(rows["demo001:1"]), weak)
    assert rows["demo002:3"].status == "ambiguous" and out.candidates_path("demo002", 3).is_file()


def test_a_lost_fix_mask_is_left_out_and_reopened_not_a_crash(reviewed, tmp_path):
    root, _ = reviewed
    with ReviewQueue(root) as q:
        (root / q.latest("demo001:2").mask_path).unlink()
        result = export_reviewed(q, tmp_path / "out")
        assert [what for what, _ in result.left_out] == ["demo001:2"]
        assert q.item("demo001:2").state == "pending" and "mask_missing" in q.item("demo001:2").review_flags
    assert "demo001:2" not in {i.item_id for i in Dataset(tmp_path / "out").items()}


def test_export_refuses_to_write_into_the_dataset(reviewed):
    root, _ = reviewed
    with ReviewQueue(root) as q, pytest.raises(ReviewError, match="outside the dataset"):
        export_reviewed(q, root / "corrected")


def test_cli_export(reviewed, tmp_path, capsys):
    root, _ = reviewed
    assert main(["review", "export", str(root), "--out", str(tmp_path / "out")]) == 0
    text = capsys.readouterr().out
    assert "wrote 5 items of 2 cases" in text and "right place" in text
    assert Dataset(tmp_path / "out").cases() == ["demo001", "demo002"]
