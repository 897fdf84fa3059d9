"""Tiny review datasets for the integrity and property tests: 4x4x4 voxels, a few single-voxel weak masks."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from napari_petground.dataset import DatasetItem, DatasetWriter
from napari_petground.review import ReviewQueue
from napari_petground.study.volume import Volume

SHAPE = (4, 4, 4)


def tiny_dataset(root: Path, n_cases: int = 2, n_items: int = 4) -> Path:
    """Cases whose item k has a one-voxel weak mask of label k + 1; the queue imported."""
    writer = DatasetWriter(root, name="tiny")
    for c in range(n_cases):
        pet = Volume(np.ones(SHAPE, np.float32), (4.0, 4.0, 4.0), (0.0, 0.0, 0.0))
        labels = np.zeros(SHAPE, np.uint16)
        items = []
        for k in range(n_items):
            labels.flat[k * 5] = k + 1
            items.append(DatasetItem(f"c{c}", k, f"Lesion {k}, SUVmax 5.0.", status="matched", label=k + 1,
                                     tracer="FDG"))
        writer.write_case(f"c{c}", None, pet, labels, items)
    writer.finalize()
    with ReviewQueue(root) as q:
        q.import_dataset()
    return root


def decide_some(root: Path, annotator: str = "zelda") -> dict[str, list]:
    """One decision of each kind; returns every item's history as recorded."""
    with ReviewQueue(root) as q:
        q.accept(q.claim_item("c0:0", annotator), note="fine")
        q.reject(q.claim_item("c0:1", annotator), "not_a_lesion")
        q.skip(q.claim_item("c1:0", annotator))
        mask = np.zeros(SHAPE, bool)
        mask[1:3, 1:3, 1:3] = True
        q.fix(q.claim_item("c1:1", annotator), mask)
        return snapshot(q)


def snapshot(q: ReviewQueue) -> dict[str, list]:
    """Everything the queue reads back: items with their history, and the totals."""
    items = {i.item_id: [i, q.history(i.item_id)] for i in q.items()}
    return {"items": items, "counts": q.counts()}


def plain(path: Path) -> sqlite3.Connection:
    """A connection that goes around the package, to damage or age a database on purpose."""
    return sqlite3.connect(str(path), isolation_level=None)
