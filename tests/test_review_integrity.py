"""A damaged, emptied, foreign or read-only review database is refused with advice that keeps decisions."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3

import pytest

from napari_petground.cli import main
from napari_petground.errors import ReviewError
from napari_petground.review import ReviewQueue, export_reviewed
from napari_petground.review.store import SUM_FUNCTION, row_sum, transaction
from review_fixtures import decide_some, plain, snapshot, tiny_dataset


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    root = tiny_dataset(tmp_path_factory.mktemp("tiny") / "ds")
    decide_some(root)
    return root


@pytest.fixture
def root(template, tmp_path):
    return shutil.copytree(template, tmp_path / "ds")


def _keeps_decisions(message: str) -> None:
    """The advice never tells to move the file away and start again while it may hold decisions."""
    assert "move it away" not in message
    assert "Keep the file" in message or "Nothing is lost" in message or "if nobody" in message


def test_an_empty_database_file_is_refused_not_taken_for_a_new_queue(root):
    (root / "review.sqlite").write_bytes(b"")
    with pytest.raises(ReviewError, match=r"empty \(0 bytes\)") as err:
        ReviewQueue(root)
    _keeps_decisions(str(err.value))
    assert (root / "review.sqlite").stat().st_size == 0  # left as it was, not made into a new queue


def test_a_new_queue_is_never_seen_half_made(tmp_path):
    root = tiny_dataset(tmp_path / "ds", n_cases=1, n_items=1)
    assert sorted(p.name for p in root.iterdir() if p.name.startswith(".")) == []  # the temporary is gone
    with ReviewQueue(root) as q:
        assert q.counts()["total"] == 1


def test_a_schema_version_that_is_not_a_number_is_refused(root):
    with plain(root / "review.sqlite") as conn:
        conn.execute("UPDATE meta SET value = 'two' WHERE key = 'schema_version'")
    with pytest.raises(ReviewError, match="schema version 'two'") as err:
        ReviewQueue(root)
    _keeps_decisions(str(err.value))


def test_a_newer_schema_is_refused_and_left_alone(root):
    with plain(root / "review.sqlite") as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(ReviewError, match="newer napari-petground"):
        ReviewQueue(root)


def test_a_file_that_is_not_sqlite_is_refused_and_kept(root):
    (root / "review.sqlite").write_bytes(b"decisions? " * 500)
    with pytest.raises(ReviewError, match="not an SQLite database") as err:
        ReviewQueue(root)
    _keeps_decisions(str(err.value))
    assert (root / "review.sqlite").read_bytes() == b"decisions? " * 500


def test_another_programs_sqlite_file_is_not_turned_into_a_queue(root):
    (root / "review.sqlite").unlink()
    with plain(root / "review.sqlite") as conn:
        conn.execute("CREATE TABLE notes (x)")
    with pytest.raises(ReviewError, match="not a review queue"):
        ReviewQueue(root)
    with plain(root / "review.sqlite") as conn:
        assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["notes"]


def test_a_damaged_index_page_is_refused_when_the_queue_opens(root):
    path = root / "review.sqlite"
    with plain(path) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        page = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'sqlite_autoindex_items_1'").fetchone()[0]
    data = bytearray(path.read_bytes())
    data[(page - 1) * page_size + 8:page * page_size] = bytes(page_size - 8)  # cells gone, header kept
    path.write_bytes(bytes(data))
    with pytest.raises(ReviewError, match="is damaged") as err:
        ReviewQueue(root)
    _keeps_decisions(str(err.value))
    assert "sqlite3 copy.sqlite .recover" in str(err.value)


def test_changed_bytes_of_a_decision_are_refused_not_read_as_someone_elses(root):
    path = root / "review.sqlite"
    data = path.read_bytes()
    assert b"zelda" in data
    path.write_bytes(data.replace(b"zelda", b"zeldb"))  # every copy, the decision rows' included
    with pytest.raises(ReviewError, match="is damaged"):
        ReviewQueue(root)


def test_changed_table_definitions_are_refused_even_when_they_still_parse(root):
    path = root / "review.sqlite"
    data = path.read_bytes()
    assert data.count(b"'choose'") == 1
    path.write_bytes(data.replace(b"'choose'", b"'chooze'"))  # a decision kind the table would now refuse
    with pytest.raises(ReviewError, match="table definitions changed"):
        ReviewQueue(root)


def test_a_stale_current_decision_cache_is_rebuilt_so_totals_and_export_agree(root, tmp_path, capsys):
    with ReviewQueue(root) as q:
        before = snapshot(q)
    with plain(root / "review.sqlite") as conn:  # the cache points nowhere: the items looked undecided
        conn.execute("UPDATE items SET cur_id = cur_id + 1000 WHERE cur_id IS NOT NULL")
    with ReviewQueue(root) as q:
        assert snapshot(q) == before
        result = export_reviewed(q, tmp_path / "out")
    assert result.items == before["counts"]["done"] == 3
    assert main(["review", "status", str(root), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["reviewed"] == stats["states"]["done"] == 3


def test_a_read_only_database_is_refused_with_advice_that_keeps_the_decisions(root, monkeypatch):
    from napari_petground.review import integrity

    path = root / "review.sqlite"
    real = os.access
    monkeypatch.setattr(integrity.os, "access", lambda p, mode: False if mode & os.W_OK and
                        str(p) == str(path) else real(p, mode))
    with pytest.raises(ReviewError, match="cannot be written") as err:
        ReviewQueue(root)
    text = str(err.value)
    assert "Nothing is lost" in text and "Do not delete or replace" in text and "copy the whole dataset" in text


@pytest.mark.skipif(os.geteuid() == 0, reason="file permissions do not bind root")
def test_a_read_only_file_really_is_refused(root):
    path = root / "review.sqlite"
    os.chmod(path, 0o444)
    try:
        with pytest.raises(ReviewError, match="cannot be written"):
            ReviewQueue(root)
    finally:
        os.chmod(path, 0o644)


def test_a_write_the_database_refuses_is_one_clear_error_and_records_nothing(root):
    q = ReviewQueue(root)
    try:
        q.conn.close()
        uri = f"{(root / 'review.sqlite').resolve().as_uri()}?mode=ro"
        q.conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        q.conn.row_factory = sqlite3.Row
        q.conn.create_function(SUM_FUNCTION, -1, row_sum, deterministic=True)
        with pytest.raises(ReviewError, match="nothing of this action was recorded.*cannot be written"):
            q.accept(q.claim_item("c0:2", "zelda"))
        with pytest.raises(ReviewError, match="nothing of this action was recorded"), transaction(q.conn):
            q.conn.execute("INSERT INTO meta VALUES ('x', 'y')")
    finally:
        q.close()
    with ReviewQueue(root) as q:
        assert q.item("c0:2").state == "pending"


def test_a_queue_from_before_row_checksums_opens_with_its_decisions(root):
    with ReviewQueue(root) as q:
        before = snapshot(q)
    with plain(root / "review.sqlite") as conn:
        conn.execute("ALTER TABLE decisions DROP COLUMN row_sum")
        conn.execute("ALTER TABLE items DROP COLUMN row_sum")
        conn.execute("DELETE FROM meta WHERE key = 'schema_sum'")
    with ReviewQueue(root) as q:
        assert snapshot(q) == before
        q.accept(q.claim_item("c0:2", "zelda"))
    with ReviewQueue(root) as q:  # the sums written while bringing it up to date hold on the next opening
        assert q.item("c0:2").state == "accepted"
