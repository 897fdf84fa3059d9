"""Painting items' masks into a case's label map (labelsTr): the one rule the cohort and the review export use.

Each item gets a label value: an earlier item's when both masks are the same lesion (IoU >= SAME_LESION_IOU,
flagged ``same_lesion:<first item>``), else a new one painted only where no earlier item is (flagged
``overlap_trimmed`` when it overlapped one); an item whose whole mask lies inside an earlier lesion shares
that lesion's value. An empty mask, one off the PET grid, or more lesions than the map's type holds make the
item an error with the reason, never a silent wrong label.
"""

from __future__ import annotations

import numpy as np

from .layout import DatasetItem

SAME_LESION_IOU = 0.5


def _flag(item: DatasetItem, flag: str) -> None:
    if not any(f == flag or f.startswith(flag + ":") for f in item.flags):
        item.flags.append(flag)


def _error(item: DatasetItem, reason: str) -> None:
    item.status = "error"
    item.reason = f"{item.reason}; {reason}" if item.reason else reason


def paint_item(labels: np.ndarray, mask: np.ndarray, item: DatasetItem, earlier: list[DatasetItem]) -> None:
    """Give ``item`` its label value in ``labels`` (changed in place) for its lesion ``mask`` (PET grid)."""
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != labels.shape or not mask.any():
        _error(item, "matched with an empty mask or off the PET grid")
        return
    taken = labels[mask]
    values, hits = np.unique(taken[taken > 0], return_counts=True)
    if values.size:
        value = int(values[np.argmax(hits)])
        other = labels == value
        iou = np.count_nonzero(mask & other) / max(1, np.count_nonzero(mask | other))
        if iou >= SAME_LESION_IOU:
            item.label = value
            first = next((e.item_id for e in earlier if e.label == value), "")
            _flag(item, f"same_lesion:{first}" if first else "same_lesion")
            return
        _flag(item, "overlap_trimmed")
        if not np.any(mask & (labels == 0)):  # nothing left of its own: it shares the lesion it lies in
            item.label = value
            return
    value = int(labels.max()) + 1
    if np.issubdtype(labels.dtype, np.integer) and value > np.iinfo(labels.dtype).max:
        _error(item, f"too many lesions in one exam for a {labels.dtype} label map")
        return
    labels[mask & (labels == 0)] = value
    item.label = value
