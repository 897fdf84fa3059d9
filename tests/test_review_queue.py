"""The review queue without a display: import, decisions and history, leases, lost masks, CLI."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

from napari_petground.cli import main
from napari_petground.dataset import Dataset
from napari_petground.errors import ReviewError
from napari_petground.review import ItemFilter, ReviewQueue
from napari_petground.review.demo import make_demo_dataset

SMALL = {"shape": (40, 32, 32), "spacing": (12.0, 12.0, 12.0)}


class Clock:
    """A clock the test moves by hand, so lease expiry needs no sleeping."""

    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_demo_dataset(tmp_path_factory.mktemp("demo") / "ds", n_cases=2, **SMALL)


@pytest.fixture
def dataset(template, tmp_path):
    import shutil

    return shutil.copytree(template, tmp_path / "ds")


@pytest.fixture
def queue(dataset):
    clock = Clock()
    q = ReviewQueue(dataset, lease_seconds=60, clock=clock)
    q.import_dataset()
    q.test_clock = clock
    yield q
    q.close()


def test_import_is_idempotent_and_keeps_decisions(dataset):
    with ReviewQueue(dataset) as q:
        first = q.import_dataset()
        # 7 sentences per case; the unmatched one of each case has nothing to review
        assert (first.added, first.updated, first.unchanged, first.not_reviewable) == (12, 0, 0, 2)
        lease = q.claim("anna")
        q.accept(lease)
        again = q.import_dataset()
        assert (again.added, again.updated, again.unchanged) == (0, 0, 12)
        assert q.counts()["total"] == 12 and q.counts()["accepted"] == 1
        item = q.item("demo002:3")
        assert item.weak_status == "ambiguous" and item.n_candidates == 2 and item.label is None
        assert item.finding["suvmax"] == pytest.approx(4.1) and "suvmax" in item.finding["spans"]
    with ReviewQueue(dataset) as q:
        everything = q.import_dataset(include_unmatched=True)
        assert (everything.added, everything.unchanged) == (2, 12)
        assert q.latest(lease.item_id).action == "accept"


def test_reimport_of_a_changed_weak_label_updates_and_flags_reviewed_items(queue, dataset):
    lease = queue.claim("anna")
    queue.accept(lease)
    path = Dataset(dataset).items_path("demo001")
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    rows[0]["label"] = 2
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = queue.import_dataset()
    assert (result.updated, result.flagged) == (1, ["demo001:0"])
    item = queue.item("demo001:0")
    assert item.label == 2 and "weak_label_changed" in item.review_flags
    assert item.decision.action == "accept"  # the decision stays; the flag says to look again


def test_decisions_are_recorded_with_annotator_and_time_and_history_is_append_only(queue):
    clock = queue.test_clock
    lease = queue.claim("anna")
    assert lease.item_id == "demo001:0"
    queue.skip(lease, note="later")
    clock.t += 5
    lease = queue.claim_item("demo001:0", "anna")
    queue.reject(lease, "not_a_lesion", note="brown fat")
    clock.t += 5
    lease = queue.claim_item("demo001:0", "anna")
    decision = queue.accept(lease)
    history = queue.history("demo001:0")
    assert [d.action for d in history] == ["skip", "reject", "accept"]
    assert [d.at for d in history] == [1_000_000.0, 1_000_005.0, 1_000_010.0]
    assert {d.annotator for d in history} == {"anna"}
    assert history[1].reason == "not_a_lesion" and history[1].note == "brown fat"
    assert queue.item("demo001:0").state == "accepted" and queue.latest("demo001:0") == decision
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        queue.conn.execute("UPDATE decisions SET action = 'reject'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        queue.conn.execute("DELETE FROM decisions")
    assert len(queue.history("demo001:0")) == 3
    assert_current_cache_matches_history(queue)


def assert_current_cache_matches_history(queue) -> None:
    """The items' cached current decision is the latest row of the append-only table, for every item."""
    stale = queue.conn.execute(
        "SELECT COUNT(*) FROM items i WHERE i.cur_id IS NOT (SELECT MAX(d.id) FROM decisions d "
        "WHERE d.item_id = i.item_id) OR i.cur_action IS NOT (SELECT d.action FROM decisions d "
        "WHERE d.id = i.cur_id)").fetchone()[0]
    assert stale == 0


def test_fix_choose_and_reject_record_what_the_paper_counts(queue):
    # boundary: the weak mask of demo001:2 was grown too small; the fix adds a ring around it
    item = queue.item("demo001:2")
    lease = queue.claim_item(item.item_id, "anna")
    weak = queue.weak_mask(item)
    from scipy import ndimage

    fixed = queue.fix(lease, ndimage.binary_dilation(weak))
    assert fixed.outcome == "boundary" and 0 < fixed.dice < 1
    assert np.array_equal(queue.fixed_mask(fixed), ndimage.binary_dilation(weak))
    assert (queue.root / fixed.mask_path).is_file()
    # moved: demo001:4 landed on an undescribed hot spot; the fix is elsewhere
    item = queue.item("demo001:4")
    lease = queue.claim_item(item.item_id, "anna")
    elsewhere = np.zeros_like(weak)
    elsewhere[5:7, 10:12, 10:12] = True
    assert queue.fix(lease, elsewhere).outcome == "moved"
    # an ambiguous item: pick candidate 2
    lease = queue.claim_item("demo002:3", "ben")
    with pytest.raises(ReviewError, match="2 candidate"):
        queue.choose(lease, 5)
    chosen = queue.choose(lease, 1)
    cmap = queue.candidate_map(queue.item("demo002:3"))
    assert np.array_equal(queue.current_mask(queue.item("demo002:3")), cmap == 2)
    assert chosen.outcome == "candidate"
    # rejects need a known reason; "other" needs words
    lease = queue.claim_item("demo002:0", "ben")
    with pytest.raises(ReviewError, match="unknown reject reason"):
        queue.reject(lease, "meh")
    with pytest.raises(ReviewError, match="note"):
        queue.reject(lease, "other")
    assert queue.reject(lease, "other", note="motion").outcome == "rejected"
    # accepting needs a weak mask; an empty fix is refused
    lease = queue.claim_item("demo001:5", "ben")
    with pytest.raises(ReviewError, match="empty"):
        queue.fix(lease, np.zeros_like(weak))
    counts = queue.counts()
    assert (counts["fixed"], counts["chosen"], counts["rejected"], counts["pending"]) == (2, 1, 1, 8)


def test_two_annotators_never_get_the_same_item_and_cannot_overwrite_each_other(queue):
    anna = queue.claim("anna")
    ben = queue.claim("ben")
    assert anna.item_id != ben.item_id
    assert queue.claim("anna") == anna  # resuming hands back the same lease
    with pytest.raises(ReviewError, match="being reviewed by anna"):
        queue.claim_item(anna.item_id, "ben")
    forged = type(anna)(anna.item_id, "ben", "0" * 16, anna.expires)
    with pytest.raises(ReviewError):
        queue.accept(forged)
    queue.accept(anna)
    with pytest.raises(ReviewError, match="decided by anna"):
        queue.claim_item(anna.item_id, "ben")
    with pytest.raises(ReviewError, match="claim the item again"):
        queue.reject(anna, "not_a_lesion")  # the decision ended the lease
    assert [d.action for d in queue.history(anna.item_id)] == ["accept"]


def test_an_expired_lease_returns_the_item_to_the_pool(queue):
    clock = queue.test_clock
    anna = queue.claim("anna")
    clock.t += 30
    anna = queue.renew(anna)
    clock.t += 59
    assert queue.claim("ben").item_id != anna.item_id
    clock.t += 2  # anna's lease is over
    assert not queue.holds(anna)
    with pytest.raises(ReviewError, match="expired"):
        queue.renew(anna)
    carl = queue.claim_item(anna.item_id, "carl")
    with pytest.raises(ReviewError, match="now held by carl"):
        queue.accept(anna)
    queue.accept(carl)
    assert queue.latest(anna.item_id).annotator == "carl"


def test_claim_order_filters_and_skips(queue):
    assert queue.claim("anna", ItemFilter(status="ambiguous")).item_id == "demo002:3"
    lease = queue.claim("ben", ItemFilter(tracer="PSMA"))
    assert lease.item_id == "demo002:0"
    assert queue.claim("carl", ItemFilter(flag="overlap_trimmed")).item_id == "demo001:2"
    queue.skip(lease)  # a skipped item goes to the back of the queue
    order = []
    while (lease := queue.claim("dora", ItemFilter(tracer="PSMA"))) is not None:
        order.append(lease.item_id)
        queue.accept(lease) if queue.item(lease.item_id).label is not None else queue.reject(lease, "other", "x")
    assert order == ["demo002:1", "demo002:2", "demo002:4", "demo002:5", "demo002:0"]  # :3 is anna's
    assert queue.claim("dora", ItemFilter(tracer="nonexistent")) is None
    assert queue.filter_values() == {"status": ["ambiguous", "matched"], "flag": ["overlap_trimmed"],
                                     "tracer": ["FDG", "PSMA"]}


def test_a_missing_or_damaged_fix_mask_flags_the_item_and_returns_it_to_the_pool(queue):
    fixes = {}
    for item_id in ("demo001:0", "demo001:1"):
        item = queue.item(item_id)
        lease = queue.claim_item(item_id, "anna")
        fixes[item_id] = queue.fix(lease, queue.weak_mask(item) | np.roll(queue.weak_mask(item), 1, axis=2))
    (queue.root / fixes["demo001:0"].mask_path).unlink()
    with open(queue.root / fixes["demo001:1"].mask_path, "r+b") as handle:
        handle.seek(40)
        handle.write(b"\x00garbage\x00")
    assert sorted(queue.check_masks()) == [("demo001:0", "mask_missing"), ("demo001:1", "mask_corrupt")]
    assert queue.check_masks() == []  # recorded once
    for item_id, flag in (("demo001:0", "mask_missing"), ("demo001:1", "mask_corrupt")):
        item = queue.item(item_id)
        assert item.state == "pending" and flag in item.review_flags
        assert [d.action for d in queue.history(item_id)] == ["fix", "reopen"]
    assert [i.item_id for i in queue.items(ItemFilter(flag="mask_missing"))] == ["demo001:0"]
    assert queue.claim("ben").item_id == "demo001:0"
    assert_current_cache_matches_history(queue)


def test_cli_import_status_json(dataset, capsys):
    assert main(["review", "import", str(dataset)]) == 0
    assert "12 added" in capsys.readouterr().out
    assert main(["review", "import", str(dataset)]) == 0
    assert "0 added, 0 updated, 12 unchanged" in capsys.readouterr().out
    with ReviewQueue(dataset) as q:
        q.accept(q.claim("anna"))
    assert main(["review", "status", str(dataset), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["states"]["accepted"] == 1 and stats["reviewed"] == 1 and stats["items"] == 12
    assert main(["review", "status", str(dataset)]) == 0
    assert "tracer FDG" in capsys.readouterr().out
    assert main(["review", "status", str(dataset / "nope")]) == 2
    assert "dataset folder not found" in capsys.readouterr().err


def test_a_folder_that_is_not_a_dataset_is_refused_with_advice(tmp_path):
    with ReviewQueue(tmp_path) as q, pytest.raises(ReviewError, match="no items/ folder"):
        q.import_dataset()


def test_store_is_in_wal_mode_in_the_dataset_folder(dataset):
    with ReviewQueue(dataset) as q:
        assert q.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert (dataset / "review.sqlite").is_file()
