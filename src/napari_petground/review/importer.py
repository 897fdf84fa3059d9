"""Filling the queue from a dataset folder, and putting back in the pool the fixes whose mask was lost.

Import is idempotent: an item is keyed by ``{case}:{index}``; a row whose content did not change is left
alone, a changed one is updated in place (its decisions stay; a changed weak label is flagged
``weak_label_changed`` when the item was already reviewed). Only items with something to review (a weak mask
or candidates) enter the queue unless ``include_unmatched`` (then an annotator may draw a mask or reject).
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from ..errors import PetGroundError, ReviewError
from .masks import MaskProblem, check_mask
from .records import ImportResult
from .store import rebuild_current, record_decision, refresh_item_sum, transaction

if TYPE_CHECKING:
    from .queue import ReviewQueue

FILE_FLAGS = ("weak_mask_missing", "candidates_missing")


def _row_hash(row: dict) -> str:
    return hashlib.sha256(json.dumps(row, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def import_items(queue: ReviewQueue, include_unmatched: bool = False) -> ImportResult:
    """Fill the queue in one transaction: a bad row of the dataset refuses the whole import, naming it."""
    try:
        return _import_items(queue, include_unmatched)
    except PetGroundError as exc:
        if isinstance(exc, ReviewError):
            raise
        raise ReviewError(f"{exc} (nothing was imported)") from exc


def _import_items(queue: ReviewQueue, include_unmatched: bool) -> ImportResult:
    ds = queue.dataset
    if not (ds.root / "items").is_dir():
        raise ReviewError(f"{ds.root} has no items/ folder: give a dataset folder made by `petground weak-label` "
                          "or `petground phantom`")
    conn = queue.conn
    result = ImportResult()
    now = queue.clock()
    labels_present: dict[str, bool] = {}
    with transaction(conn):
        existing = {r["item_id"]: r for r in conn.execute(
            "SELECT item_id, source_hash, label, weak_status, review_flags, "
            "EXISTS (SELECT 1 FROM decisions d WHERE d.item_id = items.item_id) AS decided FROM items")}
        position = (conn.execute("SELECT MAX(position) FROM items").fetchone()[0] or 0) + 1
        for item in ds.iter_items():
            has_candidates_file = bool(item.candidates or item.status == "ambiguous") and \
                ds.candidates_path(item.case, item.index).is_file()
            n_candidates = len(item.candidates) if has_candidates_file else 0
            if item.label is None and not item.candidates and not include_unmatched:
                result.not_reviewable += 1
                continue
            file_flags = []
            if item.label is not None:
                if item.case not in labels_present:
                    labels_present[item.case] = ds.label_path(item.case).is_file()
                if not labels_present[item.case]:
                    file_flags.append("weak_mask_missing")
            if item.candidates and not has_candidates_file:
                file_flags.append("candidates_missing")
            row = item.to_dict()
            digest = _row_hash(row)
            old = existing.get(item.item_id)
            if old is not None and old["source_hash"] == digest:
                kept = [f for f in json.loads(old["review_flags"]) if f not in FILE_FLAGS]
                if sorted(kept + file_flags) != sorted(json.loads(old["review_flags"])):
                    conn.execute("UPDATE items SET review_flags = ? WHERE item_id = ?",
                                 (json.dumps(kept + file_flags), item.item_id))
                    refresh_item_sum(conn, item.item_id)
                result.unchanged += 1
                continue
            review_flags = list(file_flags)
            if old is not None:
                review_flags = [f for f in json.loads(old["review_flags"]) if f not in FILE_FLAGS] + file_flags
                changed = old["label"] != item.label or old["weak_status"] != item.status
                if changed and old["decided"] and "weak_label_changed" not in review_flags:
                    review_flags.append("weak_label_changed")
            values = {
                "item_id": item.item_id, "case_id": item.case, "idx": int(item.index), "sentence": item.sentence,
                "finding": json.dumps(item.finding, ensure_ascii=False), "weak_status": item.status,
                "label": item.label, "tracer": item.tracer or str(item.finding.get("tracer") or ""),
                "candidates": json.dumps(item.candidates, ensure_ascii=False), "n_candidates": n_candidates,
                "flags": json.dumps([str(f) for f in item.flags]), "review_flags": json.dumps(review_flags),
                "reason": item.reason, "source_hash": digest, "imported_at": now,
            }
            if old is None:
                values["position"] = position
                position += 1
                conn.execute(f"INSERT INTO items ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
                             list(values.values()))
                result.added += 1
            else:
                sets = ", ".join(f"{k} = ?" for k in values if k != "item_id")
                conn.execute(f"UPDATE items SET {sets} WHERE item_id = ?",
                             [v for k, v in values.items() if k != "item_id"] + [item.item_id])
                result.updated += 1
            refresh_item_sum(conn, item.item_id)
            if file_flags or "weak_label_changed" in review_flags:
                result.flagged.append(item.item_id)
        rebuild_current(conn)
    result.flagged.extend(item_id for item_id, _problem in reopen_broken_fixes(queue))
    return result


def reopen_broken_fixes(queue: ReviewQueue) -> list[tuple[str, str]]:
    """Items whose current decision is a fix with a missing or damaged mask go back to the pool, flagged."""
    conn = queue.conn
    rows = conn.execute(
        "SELECT d.id, d.item_id, d.mask_path, d.mask_sha256 FROM items i JOIN decisions d ON d.id = i.cur_id "
        "WHERE i.cur_action = 'fix'").fetchall()
    broken = []
    for row in rows:
        try:
            check_mask(queue.root, row["mask_path"] or "", row["mask_sha256"])
        except MaskProblem as problem:
            broken.append((row, problem))
    out = []
    for row, problem in broken:
        with transaction(conn):
            latest = conn.execute("SELECT MAX(id) FROM decisions WHERE item_id = ?", (row["item_id"],)).fetchone()[0]
            if latest != row["id"]:
                continue
            record_decision(conn, row["item_id"], "reopen", "(review queue)", queue.clock(), reason=problem.kind,
                            note=str(problem))
            flags = json.loads(conn.execute("SELECT review_flags FROM items WHERE item_id = ?",
                                            (row["item_id"],)).fetchone()[0])
            if problem.kind not in flags:
                conn.execute("UPDATE items SET review_flags = ? WHERE item_id = ?",
                             (json.dumps([*flags, problem.kind]), row["item_id"]))
                refresh_item_sum(conn, row["item_id"])
        out.append((row["item_id"], problem.kind))
    return out
