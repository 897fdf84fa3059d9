"""The corrected dataset: the reviewed items in the same layout, written with DatasetWriter.

Per reviewed item: accept keeps the weak mask, choose takes the candidate, fix takes the saved mask (verified
against its hash), reject keeps the sentence with status "rejected" and no mask. Each exported item carries
the flag ``review:{outcome}``; ``review.jsonl`` beside it holds who decided what and when, and
``review_stats.json`` the statistics. Items nobody reviewed yet are left out unless ``include_unreviewed``
(then they keep their weak labels, flagged ``review:pending``). Items never queued (no mask, no candidates)
pass through unchanged. A fix whose mask file is gone is reported and left out, never a crash.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..dataset.layout import DatasetItem, DatasetWriter, atomic_write_bytes
from ..errors import PetGroundError, ReviewError
from .masks import MaskProblem
from .records import ReviewItem
from .stats import review_stats

if TYPE_CHECKING:
    from .queue import ReviewQueue

SAME_LESION_IOU = 0.5


@dataclass
class ExportResult:
    out: Path
    cases: list[str] = field(default_factory=list)
    items: int = 0
    left_out: list[tuple[str, str]] = field(default_factory=list)  # (item_id, why)
    stats: dict = field(default_factory=dict)


def export_reviewed(queue: ReviewQueue, out: str | Path, include_unreviewed: bool = False) -> ExportResult:
    """Write the corrected dataset to ``out`` (a folder other than the dataset itself)."""
    out = Path(out)
    if out.resolve() == queue.root.resolve() or queue.root.resolve() in out.resolve().parents:
        raise ReviewError(f"export to a folder outside the dataset, not {out}")
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
    writer.finalize(extra={"review": {"source": str(queue.root), "exported_at": _iso(time.time()),
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
            _paint(labels, mask, new, items)
        items.append(new)
        result.items += 1
    writer.write_case(case, ct, pet, labels, items, candidate_masks=candidates)
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


def _paint(labels: np.ndarray, mask: np.ndarray, item: DatasetItem, earlier: list[DatasetItem]) -> None:
    """Give ``item`` a label value: an earlier item's when both are the same lesion, else a new one."""
    taken = labels[mask]
    values, hits = np.unique(taken[taken > 0], return_counts=True)
    if values.size:
        value = int(values[np.argmax(hits)])
        other = labels == value
        iou = np.count_nonzero(mask & other) / max(1, np.count_nonzero(mask | other))
        if iou >= SAME_LESION_IOU:
            item.label = value
            if not any(f.startswith("same_lesion") for f in item.flags):
                first = next((e.item_id for e in earlier if e.label == value), "")
                item.flags.append(f"same_lesion:{first}" if first else "same_lesion")
            return
        if "overlap_trimmed" not in item.flags:
            item.flags.append("overlap_trimmed")
        if not np.any(mask & (labels == 0)):  # nothing left of its own: it shares the lesion it lies in
            item.label = value
            return
    value = int(labels.max()) + 1
    labels[mask & (labels == 0)] = value
    item.label = value


def _log_row(review: ReviewItem) -> dict:
    d = review.decision
    return {"item_id": review.item_id, "action": d.action, "outcome": d.outcome, "annotator": d.annotator,
            "at": _iso(d.at), "candidate": d.candidate, "mask": d.mask_path, "dice": d.dice, "reason": d.reason,
            "note": d.note, "tracer": review.tracer, "weak_status": review.weak_status,
            "flags": review.all_flags}


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
