"""Accepted findings of one study: which label id stands for which report sentence, and where it came from.

The labels array (a napari Labels layer, a NIfTI file, a DICOM SEG) is the truth about voxels; the store is
the truth about sentences. Label ids are never reused within a store, so undoing an accept in the viewer and
redoing it finds the same record again, and the table shown is always "records whose label is in the array",
recomputed from the array (see :meth:`FindingsStore.rows`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from psygnal import Signal

from ..report.finding import Finding
from ..study.study import Study
from .stats import LesionStats, label_stats, stats_from_dict


def now_iso() -> str:
    """Current time in UTC, ISO 8601 with seconds (what the sidecar stores)."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


@dataclass
class FindingRecord:
    """One accepted finding: its label id in the labels array and the sentence it grounds."""

    label: int
    sentence: str
    finding: Finding | None = None
    stats: LesionStats | None = None  # as accepted; rows() recomputes from the current labels
    edited: bool = False  # the user painted or erased the prediction before accepting
    agreement: dict = field(default_factory=dict)  # suv_ok / slice_ok / side_ok / messages at accept time
    model: dict = field(default_factory=dict)  # checkpoint, device, ... of the run that proposed it
    accepted_at: str = field(default_factory=now_iso)

    def to_dict(self) -> dict:
        return {
            "label": int(self.label),
            "sentence": self.sentence,
            "finding": self.finding.to_dict() if self.finding is not None else None,
            "stats": self.stats.to_dict() if self.stats is not None else None,
            "edited": bool(self.edited),
            "agreement": _jsonable(self.agreement),
            "model": _jsonable(self.model),
            "accepted_at": self.accepted_at,
        }

    @classmethod
    def from_dict(cls, data: dict) -> FindingRecord:
        finding = data.get("finding")
        stats = data.get("stats")
        return cls(
            label=int(data["label"]),
            sentence=str(data.get("sentence", "")),
            finding=Finding.from_dict(finding) if finding else None,
            stats=stats_from_dict(stats) if stats else None,
            edited=bool(data.get("edited", False)),
            agreement=dict(data.get("agreement") or {}),
            model=dict(data.get("model") or {}),
            accepted_at=str(data.get("accepted_at", "")),
        )


@dataclass(frozen=True)
class FindingRow:
    """One line of the findings table: a label present in the labels array, with its current statistics."""

    label: int
    sentence: str  # "" for a label painted by hand without a sentence
    stats: LesionStats
    record: FindingRecord | None


class FindingsStore:
    """Records by label id for one study; ids only ever grow. ``changed`` (psygnal) after every addition."""

    changed = Signal()

    def __init__(self, records: list[FindingRecord] | None = None) -> None:
        self._records: dict[int, FindingRecord] = {}
        self._highest = 0
        for record in records or []:
            self.add(record)

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, label: object) -> bool:
        return label in self._records

    def get(self, label: int) -> FindingRecord | None:
        return self._records.get(int(label))

    @property
    def records(self) -> list[FindingRecord]:
        return [self._records[k] for k in sorted(self._records)]

    def next_label(self, labels: np.ndarray | None = None) -> int:
        """A label id used neither by a record (even an undone one) nor in ``labels``."""
        top = self._highest
        if labels is not None and np.size(labels):
            top = max(top, int(np.max(labels)))
        return top + 1

    def add(self, record: FindingRecord) -> None:
        if record.label <= 0:
            raise ValueError(f"label ids start at 1, got {record.label}")
        if record.label in self._records:
            raise ValueError(f"label {record.label} already has a finding: {self._records[record.label].sentence!r}")
        self._records[record.label] = record
        self._highest = max(self._highest, record.label)
        self.changed.emit()

    def present(self, labels: np.ndarray) -> list[FindingRecord]:
        """Records whose label has voxels in ``labels`` (what is really accepted right now)."""
        ids = present_labels(labels)
        return [self._records[k] for k in sorted(self._records) if k in ids]

    def rows(self, study: Study, labels: np.ndarray) -> list[FindingRow]:
        """Table rows recomputed from ``labels``: every label present, with or without a record."""
        stats = label_stats(study, labels)
        rows = []
        for label in sorted(stats):
            record = self._records.get(label)
            rows.append(FindingRow(label, record.sentence if record else "", stats[label], record))
        return rows

    def absorb(self, labels: np.ndarray, records: list[FindingRecord]) -> tuple[np.ndarray, list[FindingRecord]]:
        """Take in findings loaded from disk: ids already used here are moved to fresh ids.

        Returns the relabelled array and the records as added, so an undo of the load in the viewer can
        never attach a loaded sentence to a voxel accepted in this session (ids are never shared).
        """
        labels = np.asarray(labels)
        by_label = {r.label: r for r in records}
        loaded = present_labels(labels) | set(by_label)
        mapping: dict[int, int] = {}
        next_id = max([self._highest, *loaded]) + 1
        for label in sorted(loaded):
            if label <= self._highest:  # used (or undone) in this store: give it a fresh id
                mapping[label] = next_id
                next_id += 1
            else:
                mapping[label] = label
        out = labels
        if any(k != v for k, v in mapping.items()):
            top = max(mapping.values())
            lut = np.arange(max(int(labels.max()) if labels.size else 0, max(mapping)) + 1, dtype=np.int64)
            for old, new in mapping.items():
                lut[old] = new
            dtype = labels.dtype if top <= np.iinfo(labels.dtype).max else np.int32
            out = lut[labels].astype(dtype)
        added = []
        for label in sorted(mapping):
            old = by_label.get(label)
            new_id = mapping[label]
            if old is None:
                continue  # a label without a sentence stays a bare label (a row with an empty sentence)
            record = FindingRecord(**{**old.__dict__, "label": new_id})
            self.add(record)
            added.append(record)
        return out, added


def present_labels(labels: np.ndarray) -> set[int]:
    """Label ids above 0 with at least one voxel."""
    labels = np.asarray(labels)
    if not labels.size:
        return set()
    flat = labels.ravel().astype(np.int64, copy=False)
    if int(flat.max()) > 65535 or int(flat.min()) < 0:  # large ids: counting up to the largest would not fit
        return {int(v) for v in np.unique(flat) if v > 0}
    counts = np.bincount(flat)
    return {int(v) for v in np.flatnonzero(counts) if v != 0}


def _jsonable(value):
    """Plain JSON types from numpy scalars, tuples and nested containers."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value
