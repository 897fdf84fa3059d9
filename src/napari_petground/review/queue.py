"""The review queue: hand items to annotators under leases and record their decisions, append-only.

Rules that keep several annotators from stepping on each other:

- an item is handed out (``claim``) with a lease in one ``BEGIN IMMEDIATE`` transaction, so two annotators
  never hold the same item; an expired lease simply stops counting and the item is free again;
- every decision checks, in its own transaction, that the caller still holds the lease, and ends it;
- an item decided by one annotator cannot be claimed by another (nobody overwrites another's decision);
  the author may revisit it and decide again, which adds a row: the history is never rewritten.

A fix writes its mask file durably (masks.write_mask) before the decision row that points at it. Opening a
queue checks the database (integrity.py) and clears temporaries that interrupted writes left an hour ago or more.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..dataset.layout import LAYOUT_FOLDERS, TEMPORARY_PATTERNS, Dataset, read_nifti, remove_stale_temporaries
from ..errors import PetGroundError, ReviewError
from .masks import Grid, MaskProblem, compare, grid_of, read_mask, write_mask
from .records import (
    DONE_ACTIONS,
    REJECT_REASONS,
    Decision,
    ImportResult,
    ItemFilter,
    Lease,
    ReviewItem,
)
from .store import DB_NAME, MASK_DIR, connect, db_path, record_decision, transaction

DEFAULT_LEASE_S = 15 * 60.0
_LATEST = "LEFT JOIN decisions d ON d.id = i.cur_id"
_FREE = "NOT EXISTS (SELECT 1 FROM leases l WHERE l.item_id = i.item_id AND l.expires > :now)"
_PENDING = "(i.cur_action IS NULL OR i.cur_action IN ('skip', 'reopen'))"
# the order items are handed out: never-decided and reopened ones in dataset order, then skipped ones,
# longest-skipped first (each an indexed lookup on items(cur_action, position))
_HAND_OUT = (("i.cur_action IS NULL", "i.position"), ("i.cur_action = 'reopen'", "i.position"),
             ("i.cur_action = 'skip'", "i.cur_at, i.position"))


class ReviewQueue:
    """The review state of one dataset folder (``DATASET/review.sqlite``)."""

    def __init__(self, root: str | Path, *, lease_seconds: float = DEFAULT_LEASE_S,
                 clock: Callable[[], float] = time.time) -> None:
        try:
            self.dataset = Dataset(root)
        except PetGroundError as exc:
            raise ReviewError(str(exc)) from exc
        self.root = self.dataset.root
        self.lease_seconds = float(lease_seconds)
        self.clock = clock
        self.conn = connect(db_path(self.root))
        self._grids: dict[str, Grid] = {}
        self.removed_temporaries = remove_stale_temporaries(
            self.root, (*LAYOUT_FOLDERS, MASK_DIR), patterns=(*TEMPORARY_PATTERNS, f".{DB_NAME}.new-*"))

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> ReviewQueue:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- import ---------------------------------------------------------------------------------------------
    def import_dataset(self, include_unmatched: bool = False) -> ImportResult:
        """Load the dataset's items (idempotent: decisions are untouched, changed rows are updated)."""
        from .importer import import_items

        return import_items(self, include_unmatched=include_unmatched)

    # -- reading --------------------------------------------------------------------------------------------
    def item(self, item_id: str) -> ReviewItem:
        row = self.conn.execute("SELECT * FROM items WHERE item_id = ?", (item_id,)).fetchone()
        if row is None:
            raise ReviewError(f"no item {item_id!r} in the review queue; run `petground review import`")
        return ReviewItem.from_row(row, self.latest(item_id))

    def latest(self, item_id: str) -> Decision | None:
        row = self.conn.execute("SELECT * FROM decisions WHERE item_id = ? ORDER BY id DESC LIMIT 1",
                                (item_id,)).fetchone()  # the table itself, not the cache: the truth
        return Decision.from_row(row) if row else None

    def history(self, item_id: str) -> list[Decision]:
        """Every decision on an item, oldest first."""
        rows = self.conn.execute("SELECT * FROM decisions WHERE item_id = ? ORDER BY id", (item_id,))
        return [Decision.from_row(r) for r in rows]

    def items(self, filt: ItemFilter | None = None) -> list[ReviewItem]:
        """Items in queue order with their latest decision, filtered (``filt.state`` included)."""
        filt = filt or ItemFilter()
        where, params = filt.sql()
        rows = self.conn.execute(
            f"SELECT i.*, d.id AS d_id FROM items i {_LATEST} WHERE {where} ORDER BY i.position", params
        ).fetchall()
        decisions = self._decisions_by_id([r["d_id"] for r in rows if r["d_id"] is not None])
        out = [ReviewItem.from_row(r, decisions.get(r["d_id"])) for r in rows]
        if filt.state:
            out = [i for i in out if i.state == filt.state or (filt.state == "done" and i.done)]
        return out

    def _decisions_by_id(self, ids: list[int]) -> dict[int, Decision]:
        out: dict[int, Decision] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.conn.execute(f"SELECT * FROM decisions WHERE id IN ({marks})", chunk):
                out[row["id"]] = Decision.from_row(row)
        return out

    def counts(self, filt: ItemFilter | None = None) -> dict[str, int]:
        """Number of items per review state, plus total, done and leased."""
        filt = filt or ItemFilter()
        where, params = filt.sql()
        params["now"] = self.clock()
        rows = self.conn.execute(
            f"SELECT i.cur_action AS action, COUNT(*) AS n FROM items i WHERE {where} GROUP BY i.cur_action",
            params).fetchall()
        out = dict.fromkeys(("total", "done", "pending", "skipped", "accepted", "fixed", "chosen", "rejected",
                             "leased"), 0)
        names = {None: "pending", "reopen": "pending", "skip": "skipped", "accept": "accepted", "fix": "fixed",
                 "choose": "chosen", "reject": "rejected"}
        for row in rows:
            out[names[row["action"]]] += row["n"]
            out["total"] += row["n"]
        out["leased"] = self.conn.execute(
            f"SELECT COUNT(*) FROM leases l JOIN items i ON i.item_id = l.item_id WHERE l.expires > :now AND {where}",
            params).fetchone()[0]
        out["done"] = out["accepted"] + out["fixed"] + out["chosen"] + out["rejected"]
        return out

    def filter_values(self) -> dict[str, list[str]]:
        """Distinct weak-label statuses, flags (without details) and tracers, for filter menus."""
        statuses = [r[0] for r in self.conn.execute("SELECT DISTINCT weak_status FROM items ORDER BY 1")]
        tracers = [r[0] for r in self.conn.execute("SELECT DISTINCT tracer FROM items WHERE tracer != '' ORDER BY 1")]
        flags = sorted({str(v).split(":", 1)[0] for (v,) in self.conn.execute(
            "SELECT j.value FROM items, json_each(items.flags) j UNION SELECT j.value FROM items, "
            "json_each(items.review_flags) j")})
        return {"status": statuses, "flag": flags, "tracer": tracers}

    def annotator_trail(self, annotator: str) -> list[str]:
        """Items ``annotator`` decided, in the order of their latest decision on each (oldest first)."""
        rows = self.conn.execute(
            "SELECT item_id, MAX(id) AS last FROM decisions WHERE annotator = ? AND action != 'reopen' "
            "GROUP BY item_id ORDER BY last", (annotator,))
        return [r["item_id"] for r in rows]

    def decided_by(self, annotator: str) -> int:
        """How many items currently stand as ``annotator`` decided them."""
        marks = ",".join("?" * len(DONE_ACTIONS))
        return self.conn.execute(
            f"SELECT COUNT(*) FROM items i JOIN decisions d ON d.id = i.cur_id WHERE d.annotator = ? "
            f"AND d.action IN ({marks})", (annotator, *DONE_ACTIONS)).fetchone()[0]

    def held(self, annotator: str) -> Lease | None:
        """The unexpired lease ``annotator`` holds (their item in progress), if any."""
        row = self.conn.execute(
            "SELECT * FROM leases WHERE annotator = ? AND expires > ? ORDER BY claimed_at DESC LIMIT 1",
            (annotator, self.clock())).fetchone()
        return Lease(row["item_id"], row["annotator"], row["token"], row["expires"]) if row else None

    def peek(self, filt: ItemFilter | None = None, exclude: tuple[str, ...] = ()) -> str | None:
        """The item a claim would hand out next (without claiming), skipping ``exclude``."""
        where, params = (filt or ItemFilter()).sql()
        params["now"] = self.clock()
        marks = ",".join(f":x{k}" for k in range(len(exclude)))
        params.update({f"x{k}": v for k, v in enumerate(exclude)})
        return self._next_free(f"{where} AND i.item_id NOT IN ({marks})" if exclude else where, params)

    def _next_free(self, where: str, params: dict) -> str | None:
        """The first free pending item in hand-out order (never decided or reopened, then skipped)."""
        found = []
        for state, order in _HAND_OUT:
            row = self.conn.execute(
                f"SELECT i.item_id, i.position FROM items i WHERE {state} AND {_FREE} AND {where} ORDER BY {order} "
                "LIMIT 1", params).fetchone()
            if row is not None:
                found.append((row[1], row[0]))
            if state != "i.cur_action IS NULL" and found:  # never-decided and reopened ones mix by position
                break
        return min(found)[1] if found else None

    # -- leases ---------------------------------------------------------------------------------------------
    def claim(self, annotator: str, filt: ItemFilter | None = None) -> Lease | None:
        """The annotator's item in progress when it fits ``filt``, else the next free pending item; None = done."""
        annotator = _check_annotator(annotator)
        filt = filt or ItemFilter()
        where, params = filt.sql()
        now = params["now"] = self.clock()
        with transaction(self.conn):
            self.conn.execute("DELETE FROM leases WHERE expires <= ?", (now,))
            params["me"] = annotator
            row = self.conn.execute(
                f"SELECT i.item_id FROM leases l JOIN items i ON i.item_id = l.item_id "
                f"WHERE l.annotator = :me AND {_PENDING} AND {where} ORDER BY l.claimed_at DESC LIMIT 1",
                params).fetchone()
            item_id = row[0] if row is not None else self._next_free(where, params)
            if item_id is None:
                return None
            return self._grant(item_id, annotator, now)

    def claim_item(self, item_id: str, annotator: str) -> Lease:
        """Claim one named item (to revisit an own decision or open an item from a list)."""
        annotator = _check_annotator(annotator)
        now = self.clock()
        with transaction(self.conn):
            self.conn.execute("DELETE FROM leases WHERE expires <= ?", (now,))
            if self.conn.execute("SELECT 1 FROM items WHERE item_id = ?", (item_id,)).fetchone() is None:
                raise ReviewError(f"no item {item_id!r} in the review queue")
            lease = self.conn.execute("SELECT annotator, expires FROM leases WHERE item_id = ?",
                                      (item_id,)).fetchone()
            if lease is not None and lease["annotator"] != annotator:
                minutes = max(1, round((lease["expires"] - now) / 60))
                raise ReviewError(f"{item_id} is being reviewed by {lease['annotator']} (lease ends in about "
                                  f"{minutes} min); pick another item")
            self._check_not_others(item_id, annotator)
            return self._grant(item_id, annotator, now)

    def _grant(self, item_id: str, annotator: str, now: float) -> Lease:
        """Inside a transaction: give ``item_id`` to ``annotator`` (one lease per annotator)."""
        self.conn.execute("DELETE FROM leases WHERE annotator = ? AND item_id != ?", (annotator, item_id))
        mine = self.conn.execute("SELECT token FROM leases WHERE item_id = ? AND annotator = ? AND expires > ?",
                                 (item_id, annotator, now)).fetchone()
        token = mine["token"] if mine else secrets.token_hex(8)  # resuming keeps the lease already handed out
        expires = now + self.lease_seconds
        self.conn.execute(
            "INSERT INTO leases (item_id, annotator, token, claimed_at, expires) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(item_id) DO UPDATE SET token = excluded.token, claimed_at = excluded.claimed_at, "
            "expires = excluded.expires WHERE leases.annotator = excluded.annotator",
            (item_id, annotator, token, now, expires))
        return Lease(item_id, annotator, token, expires)

    def renew(self, lease: Lease) -> Lease:
        """Extend a lease still held; ReviewError when it was lost."""
        now = self.clock()
        expires = now + self.lease_seconds
        with transaction(self.conn):
            cur = self.conn.execute("UPDATE leases SET expires = ? WHERE item_id = ? AND token = ? AND expires > ?",
                                    (expires, lease.item_id, lease.token, now))
            if cur.rowcount != 1:
                raise self._lost(lease, now)
        return Lease(lease.item_id, lease.annotator, lease.token, expires)

    def release(self, lease: Lease) -> None:
        """Give an item back without deciding (closing the dock, moving to another item)."""
        with transaction(self.conn):
            self.conn.execute("DELETE FROM leases WHERE item_id = ? AND token = ?", (lease.item_id, lease.token))

    def holds(self, lease: Lease) -> bool:
        row = self.conn.execute("SELECT 1 FROM leases WHERE item_id = ? AND token = ? AND expires > ?",
                                (lease.item_id, lease.token, self.clock())).fetchone()
        return row is not None

    def _lost(self, lease: Lease, now: float) -> ReviewError:
        row = self.conn.execute("SELECT annotator, token, expires FROM leases WHERE item_id = ?",
                                (lease.item_id,)).fetchone()
        if row is not None and row["token"] != lease.token and row["expires"] > now:
            return ReviewError(f"{lease.item_id} is now held by {row['annotator']}; your lease expired. "
                               "Move on to another item")
        return ReviewError(f"your lease on {lease.item_id} expired or was released; claim the item again "
                           "to record a decision")

    def _check_not_others(self, item_id: str, annotator: str) -> None:
        latest = self.latest(item_id)
        if latest is not None and latest.action in DONE_ACTIONS and latest.annotator != annotator:
            raise ReviewError(f"{item_id} was decided by {latest.annotator} ({latest.action}); only they can "
                              "change that decision")

    # -- decisions ------------------------------------------------------------------------------------------
    def accept(self, lease: Lease, note: str = "") -> Decision:
        """The weak mask is right as it is."""
        item = self.item(lease.item_id)
        if item.label is None:
            raise ReviewError(f"{item.item_id} has no weak mask to accept; choose a candidate, draw a fix or reject")
        return self._decide(lease, "accept", outcome="unchanged", note=note)

    def choose(self, lease: Lease, candidate: int, note: str = "") -> Decision:
        """An ambiguous item's candidate ``candidate`` (0-based) is the lesion."""
        item = self.item(lease.item_id)
        if not 0 <= int(candidate) < item.n_candidates:
            raise ReviewError(f"{item.item_id} has {item.n_candidates} candidate(s); candidate {candidate + 1} "
                              "does not exist")
        return self._decide(lease, "choose", outcome="candidate", candidate=int(candidate), note=note)

    def fix(self, lease: Lease, mask: np.ndarray, note: str = "", weak_mask: np.ndarray | None = None) -> Decision:
        """Save an edited mask (file first, durably), then the decision pointing at it."""
        item = self.item(lease.item_id)
        mask = np.asarray(mask) > 0
        if not mask.any():
            raise ReviewError(f"the fixed mask of {item.item_id} is empty; reject the item instead")
        now = self.clock()
        if not self.holds(lease):
            raise self._lost(lease, now)
        if weak_mask is None and item.label is not None:
            weak_mask = self.weak_mask(item)
        outcome, dice = compare(mask, weak_mask)
        saved = write_mask(self.root, item.case, item.index, mask, self.grid(item.case))
        try:
            return self._decide(lease, "fix", outcome=outcome, mask_path=saved.relpath, mask_sha256=saved.sha256,
                                mask_voxels=saved.voxels, dice=dice, note=note)
        except ReviewError as exc:  # the mask stays on disk (unreferenced) so the work is not lost
            raise ReviewError(f"{exc} (your mask is kept in {saved.relpath})") from exc

    def reject(self, lease: Lease, reason: str, note: str = "") -> Decision:
        """The item is unusable, for one of REJECT_REASONS (``other`` needs a note)."""
        if reason not in REJECT_REASONS:
            raise ReviewError(f"unknown reject reason {reason!r}; use one of {', '.join(REJECT_REASONS)}")
        if reason == "other" and not note.strip():
            raise ReviewError("say why in the note when rejecting for 'other'")
        return self._decide(lease, "reject", outcome="rejected", reason=reason, note=note)

    def skip(self, lease: Lease, note: str = "") -> Decision:
        """Leave the item for later (it goes to the back of the queue)."""
        return self._decide(lease, "skip", note=note)

    def _decide(self, lease: Lease, action: str, **fields) -> Decision:
        now = self.clock()
        with transaction(self.conn):
            row = self.conn.execute("SELECT token, expires FROM leases WHERE item_id = ?",
                                    (lease.item_id,)).fetchone()
            if row is None or row["token"] != lease.token or row["expires"] <= now:
                raise self._lost(lease, now)
            self._check_not_others(lease.item_id, lease.annotator)
            decision = self._insert(lease.item_id, action, lease.annotator, now, **fields)
            self.conn.execute("DELETE FROM leases WHERE item_id = ?", (lease.item_id,))
        return decision

    def _insert(self, item_id: str, action: str, annotator: str, at: float, **fields) -> Decision:
        row_id = record_decision(self.conn, item_id, action, annotator, at, **fields)
        return Decision.from_row(self.conn.execute("SELECT * FROM decisions WHERE id = ?", (row_id,)).fetchone())

    # -- masks ----------------------------------------------------------------------------------------------
    def grid(self, case: str) -> Grid:
        """The PET grid of a case (from the PET file's header)."""
        if case not in self._grids:
            self._grids[case] = grid_of(self.dataset.pet_path(case))
        return self._grids[case]

    def labels(self, case: str) -> np.ndarray:
        try:
            return read_nifti(self.dataset.label_path(case)).data
        except PetGroundError as exc:
            raise ReviewError(str(exc)) from exc

    def weak_mask(self, item: ReviewItem, labels: np.ndarray | None = None) -> np.ndarray | None:
        """The item's weak mask (None when it has none)."""
        if item.label is None:
            return None
        labels = self.labels(item.case) if labels is None else labels
        return labels == item.label

    def candidate_map(self, item: ReviewItem) -> np.ndarray | None:
        """The item's candidates as one map (value j+1 = candidate j), None when it has none."""
        if not item.n_candidates:
            return None
        try:
            return read_nifti(self.dataset.candidates_path(item.case, item.index)).data
        except PetGroundError as exc:
            raise ReviewError(str(exc)) from exc

    def fixed_mask(self, decision: Decision) -> np.ndarray:
        """The verified mask of a fix decision; MaskProblem when the file is missing or damaged."""
        if decision.action != "fix" or not decision.mask_path:
            raise ReviewError(f"decision {decision.id} on {decision.item_id} has no mask")
        case = self.item(decision.item_id).case
        return read_mask(self.root, decision.mask_path, decision.mask_sha256, self.grid(case).shape)

    def current_mask(self, item: ReviewItem, labels: np.ndarray | None = None) -> np.ndarray | None:
        """The mask the item has after review so far: fix > chosen candidate > weak mask; None if none."""
        decision = item.decision
        if decision is not None and decision.action == "fix":
            return self.fixed_mask(decision)
        if decision is not None and decision.action == "choose":
            cmap = self.candidate_map(item)
            return None if cmap is None else cmap == decision.candidate + 1
        return self.weak_mask(item, labels)

    def check_masks(self) -> list[tuple[str, str]]:
        """Reopen (and flag) every item whose current fix lost its mask file; returns (item_id, problem)."""
        from .importer import reopen_broken_fixes

        return reopen_broken_fixes(self)


def _check_annotator(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ReviewError("give an annotator name (who is reviewing)")
    if name.startswith("("):
        raise ReviewError("annotator names cannot start with '('")
    return name


__all__ = ["MaskProblem", "ReviewQueue"]
