"""The corrected dataset: the reviewed items in the same layout, written with DatasetWriter.

Per reviewed item: accept keeps the weak mask, choose takes the candidate, fix takes the saved mask (verified
against its hash), reject keeps the sentence with status "rejected" and no mask. Each exported item carries
the flag ``review:{outcome}``; ``review.jsonl`` beside it holds who decided what and when, and
``review_stats.json`` the statistics. Items nobody reviewed yet are left out unless ``include_unreviewed``
(then they keep their weak labels, flagged ``review:pending``). Items never queued (no mask, no candidates)
pass through unchanged. A fix whose mask file is gone is reported and left out, never a crash.

The export is written into a dot-named folder beside ``out`` and renamed into place when complete, so ``out``
never holds half an export. It never merges into an existing folder: ``out`` must be new, empty, or an earlier
export of this same dataset (then it is replaced as a whole, ``ExportResult.replaced``).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..atomic import atomic_write_bytes, fsync_folder
from ..dataset.labels import paint_item
from ..dataset.layout import DatasetItem, DatasetWriter, remove_stale_temporaries
from ..errors import PetGroundError, ReviewError
from .masks import MaskProblem
from .records import ReviewItem
from .stats import review_stats

if TYPE_CHECKING:
    from .queue import ReviewQueue



@dataclass
class ExportResult:
    out: Path
    cases: list[str] = field(default_factory=list)
    items: int = 0
    left_out: list[tuple[str, str]] = field(default_factory=list)  # (item_id, why)
    stats: dict = field(default_factory=dict)
    replaced: bool = False  # ``out`` held an earlier export of this dataset, now replaced as a whole


def export_reviewed(queue: ReviewQueue, out: str | Path, include_unreviewed: bool = False) -> ExportResult:
    """Write the corrected dataset to ``out``: a new or empty folder, or an earlier export of this dataset."""
    out = Path(out)
    replacing = _check_target(queue, out)
    staging = out.parent / f".{out.name}.export-{secrets.token_hex(4)}"
    try:
        result = _export(queue, staging, include_unreviewed)
        _put_in_place(staging, out)
    except OSError as exc:
        raise ReviewError(f"cannot write the export to {out}: {exc.strerror or exc}; nothing was written there, "
                          "the review database is unchanged") from exc
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    result.out, result.replaced = out, replacing
    return result


def _check_target(queue: ReviewQueue, out: Path) -> bool:
    """Refuse a target that is not ours to write; True when it is an earlier export of this dataset."""
    root = queue.root.resolve()
    target = out.resolve()
    if target == root or root in target.parents:
        raise ReviewError(f"export to a folder outside the dataset, not {out}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(out.parent, ("",), patterns=(f".{out.name}.export-*", f".{out.name}.old-*"))
        if not out.exists():
            return False
        if not out.is_dir():
            raise ReviewError(f"{out} is a file; give --out a folder name that is new")
        if not any(out.iterdir()):
            return False
    except OSError as exc:
        raise ReviewError(f"cannot write the export to {out}: {exc.strerror or exc}") from exc
    if _exported_from(out) in (str(queue.root), str(root)):
        return True
    what = "a dataset" if (out / "dataset.json").is_file() else "files"
    raise ReviewError(f"{out} already holds {what}; an export never merges into another folder. Give --out a new "
                      f"folder, or remove {out} first if it is an old export you no longer need")


def _exported_from(out: Path) -> str | None:
    """The dataset an earlier export in ``out`` was made from, if ``out`` is one."""
    try:
        description = json.loads((out / "dataset.json").read_text(encoding="utf-8"))
        return str(description["petground"]["review"]["source"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _put_in_place(staging: Path, out: Path) -> None:
    """Rename the finished export to ``out``; an earlier export there is moved aside first, then removed."""
    old = out.parent / f".{out.name}.old-{secrets.token_hex(4)}"
    if out.exists():
        os.replace(out, old)
    os.replace(staging, out)
    fsync_folder(out.parent)
    shutil.rmtree(old, ignore_errors=True)


def _export(queue: ReviewQueue, out: Path, include_unreviewed: bool) -> ExportResult:
    result = ExportResult(out)
    for item_id, problem in queue.check_masks():
        result.left_out.append((item_id, f"{problem}: reopened for review"))
    by_case: dict[str, dict[int, ReviewItem]] = {}
    for item in queue.items():
        by_case.setdefault(item.case, {})[item.index] = item
    writer = DatasetWriter(out, name=f"{queue.dataset.description.get('name', 'petground')}-reviewed",
                           description="weak labels corrected in the review queue")
    log_rows: list[dict] = []
    for case in queue.dataset.cases():
        reviewed = by_case.get(case, {})
        if not any(i.done for i in reviewed.values()) and not (include_unreviewed and reviewed):
            continue
        try:
            rows = _export_case(queue, writer, case, reviewed, include_unreviewed, result)
        except PetGroundError as exc:  # unreadable images of one case: report, go on
            result.left_out.append((case, f"case not exported: {exc}"))
            continue
        result.cases.append(case)
        log_rows.extend(rows)
    stats = review_stats(queue)
    writer.finalize(extra={"review": {"source": str(queue.root.resolve()), "exported_at": _iso(time.time()),
                                      "reviewed": stats["reviewed"], "items": stats["items"]}})
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in log_rows)
    atomic_write_bytes(out / "review.jsonl", text.encode("utf-8"))
    atomic_write_bytes(out / "review_stats.json", json.dumps(stats, indent=2).encode("utf-8"))
    result.stats = stats
    return result


def _export_case(queue: ReviewQueue, writer: DatasetWriter, case: str, reviewed: dict[int, ReviewItem],
                 include_unreviewed: bool, result: ExportResult) -> list[dict]:
    ds = queue.dataset
    ct, pet = ds.load_images(case)
    weak_labels = ds.load_labels(case) if ds.label_path(case).is_file() else None
    labels = np.zeros(pet.shape, np.uint16)
    items: list[DatasetItem] = []
    candidates: dict[int, list[np.ndarray]] = {}
    log: list[dict] = []
    for row in ds.iter_items(case):
        review = reviewed.get(row.index)
        if review is None:  # never queued: nothing to review, kept as the pipeline left it
            items.append(replace(row, label=None) if row.label is not None else row)
            continue
        if not review.done and not include_unreviewed:
            continue
        new = replace(row, flags=list(row.flags), candidates=list(row.candidates), label=None)
        try:
            mask = _final_mask(queue, review, weak_labels)
        except MaskProblem as problem:
            result.left_out.append((review.item_id, str(problem)))
            continue
        if review.done:
            decision = review.decision
            new.flags.append(f"review:{decision.outcome or decision.action}")
            if decision.action == "reject":
                new.status, new.reason = "rejected", f"review: {decision.reason}" + (
                    f" ({decision.note})" if decision.note else "")
            else:
                new.status = "matched"
                new.candidates = []
            log.append(_log_row(review))
        else:
            new.flags.append("review:pending")
            if review.n_candidates:
                cmap = queue.candidate_map(review)
                candidates[new.index] = [cmap == j + 1 for j in range(review.n_candidates)]
        if mask is not None and new.status != "rejected":
            paint_item(labels, mask, new, items)
        items.append(new)
        result.items += 1
    writer.write_case(case, ct, pet, labels, items, candidate_masks=candidates,
                      numbering=ds.numbering(case, pet.shape[0]))
    return log


def _final_mask(queue: ReviewQueue, review: ReviewItem, weak_labels: np.ndarray | None) -> np.ndarray | None:
    """The mask the item leaves the review with (None for rejected and undecided ambiguous items)."""
    action = review.decision.action if review.decision is not None else ""
    if action == "reject":
        return None
    if action in ("fix", "choose"):
        return queue.current_mask(review)
    if review.label is None:
        return None
    if weak_labels is None:
        raise MaskProblem("weak_mask_missing", f"{review.item_id}: the weak label file of {review.case} is missing")
    return weak_labels == review.label


def _log_row(review: ReviewItem) -> dict:
    d = review.decision
    return {"item_id": review.item_id, "action": d.action, "outcome": d.outcome, "annotator": d.annotator,
            "at": _iso(d.at), "candidate": d.candidate, "mask": d.mask_path, "dice": d.dice, "reason": d.reason,
            "note": d.note, "tracer": review.tracer, "weak_status": review.weak_status,
            "flags": review.all_flags}


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
