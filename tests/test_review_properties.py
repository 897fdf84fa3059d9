"""Properties of the review store: decisions survive kills at any statement; damaged bytes are refused or
read back exactly as they were written."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import napari_petground.review.masks as masks
from napari_petground.errors import ReviewError
from napari_petground.review import ReviewQueue, integrity
from review_fixtures import SHAPE, decide_some, snapshot, tiny_dataset

PROPERTY = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
ITEMS = [f"c{c}:{k}" for c in range(2) for k in range(3)]
ACTIONS = ("accept", "reject", "skip", "fix")


class Killed(BaseException):
    """Stands for the process dying at this point."""


class DyingConnection:
    """The queue's connection, dying at its ``left``-th statement (nothing after it runs, not even ROLLBACK)."""

    def __init__(self, conn, left: int) -> None:
        self.conn, self.left = conn, left

    def execute(self, *args, **kwargs):
        if self.left <= 0:
            raise Killed
        self.left -= 1
        return self.conn.execute(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.conn, name)


_TEMPLATES: dict[str, Path] = {}


def _template(kind: str) -> Path:
    """Built once per run: a tiny imported dataset (``fresh``) and one with decisions (``decided``)."""
    if kind not in _TEMPLATES:
        root = Path(tempfile.mkdtemp(prefix=f"review-{kind}-")) / "ds"
        tiny_dataset(root, n_cases=2, n_items=3)
        if kind == "decided":
            decide_some(root)
        _TEMPLATES[kind] = root
    return _TEMPLATES[kind]


def _act(q: ReviewQueue, item_id: str, annotator: str, action: str, k: int):
    lease = q.claim_item(item_id, annotator)
    if action == "accept":
        return q.accept(lease, note=f"step {k}")
    if action == "reject":
        return q.reject(lease, "not_a_lesion", note=f"step {k}")
    if action == "skip":
        return q.skip(lease)
    mask = np.zeros(SHAPE, bool)
    mask.flat[k % mask.size] = True
    return q.fix(lease, mask, note=f"step {k}")


step = st.tuples(st.sampled_from(ITEMS), st.sampled_from(("anna", "ben")), st.sampled_from(ACTIONS),
                 st.one_of(st.none(), st.integers(0, 12)), st.booleans())


@settings(PROPERTY, max_examples=25)
@given(steps=st.lists(step, min_size=1, max_size=10))
def test_kills_at_any_statement_never_lose_or_change_a_recorded_decision(steps):
    with tempfile.TemporaryDirectory() as folder:
        root = shutil.copytree(_template("fresh"), Path(folder) / "ds")
        recorded: dict[str, list] = {item: [] for item in ITEMS}
        q = ReviewQueue(root)
        try:
            for k, (item_id, annotator, action, kill_at, kill_in_mask) in enumerate(steps):
                real_conn = q.conn
                real_replace = masks.os.replace
                if kill_at is not None:
                    q.conn = DyingConnection(real_conn, kill_at)
                if kill_at is not None and kill_in_mask and action == "fix":
                    def replace(src, dst, real_replace=real_replace):
                        raise Killed
                    masks.os.replace = replace
                try:
                    decision = _act(q, item_id, annotator, action, k)
                except Killed:  # the process died: whatever was not committed is gone, the rest must hold
                    event("killed")
                    masks.os.replace = real_replace
                    real_conn.close()
                    q = ReviewQueue(root)
                    continue
                except ReviewError:  # refused (another annotator's item): nothing recorded
                    continue
                finally:
                    masks.os.replace = real_replace
                    if isinstance(q.conn, DyingConnection):
                        q.conn = q.conn.conn
                event("recorded")
                recorded[item_id].append(decision)
            q.close()
            with ReviewQueue(root) as again:
                for item_id, decisions in recorded.items():
                    assert again.history(item_id) == decisions
                    assert again.item(item_id).decision == (decisions[-1] if decisions else None)
                assert again.check_masks() == []  # every recorded fix still has its whole mask
                assert integrity.stale_cache(again.conn) == 0
        finally:
            q.close()


corruption = st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=4)
zeroed = st.tuples(st.integers(0, 10**6), st.integers(1, 4096))


@pytest.fixture(scope="module")
def damaged_copy(tmp_path_factory):
    """A copy of the decided dataset whose database each example overwrites, with what it should read."""
    root = shutil.copytree(_template("decided"), tmp_path_factory.mktemp("damaged") / "ds")
    with ReviewQueue(root) as q:
        expected = snapshot(q)
    return root, (root / "review.sqlite").read_bytes(), expected


def _open_damaged(root: Path, data: bytes, expected: dict) -> None:
    for suffix in ("-wal", "-shm"):
        Path(f"{root / 'review.sqlite'}{suffix}").unlink(missing_ok=True)
    (root / "review.sqlite").write_bytes(data)
    try:
        q = ReviewQueue(root)
    except ReviewError as exc:  # refused: clearly, naming the file
        event("refused")
        assert "review.sqlite" in str(exc) and "move it away" not in str(exc)
        return
    event("read intact")
    with q:
        assert snapshot(q) == expected


@settings(PROPERTY, max_examples=150)
@given(changes=corruption)
def test_changed_bytes_are_refused_or_read_back_intact(damaged_copy, changes):
    root, good, expected = damaged_copy
    data = bytearray(good)
    for offset, value in changes:
        data[offset % len(data)] = value
    _open_damaged(root, bytes(data), expected)


@settings(PROPERTY, max_examples=60)
@given(span=zeroed, fill=st.sampled_from((0, 255)))
def test_a_damaged_run_of_bytes_is_refused_or_read_back_intact(damaged_copy, span, fill):
    root, good, expected = damaged_copy
    start, length = span[0] % len(good), span[1]
    data = bytearray(good)
    data[start:start + length] = bytes([fill]) * len(data[start:start + length])
    _open_damaged(root, bytes(data), expected)


@settings(PROPERTY, max_examples=30)
@given(size=st.integers(0, 20000))
def test_a_cut_short_database_is_refused_or_read_back_intact(damaged_copy, size):
    root, good, expected = damaged_copy
    _open_damaged(root, good[:size], expected)
