"""The result of one grounding: lesion statistics beside what the sentence states, with ✓ / ⚠ and why.

The statistics are those of the prediction as it is now (recomputed after the user paints or erases); the
marks come from the number-aware agreement check (SUVmax, image number, side) of the model's result, or of
the edited mask when the check can be rerun.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..errors import PetGroundError
from ..report.finding import Finding
from .grounding_runner import GroundingRequest

OK, WARN = "✓", "⚠"
COLUMNS = ("", "Lesion", "Sentence", "")


@dataclass(frozen=True)
class ResultRow:
    quantity: str
    measured: str
    stated: str = ""
    mark: str = ""  # OK, WARN or "" (nothing to check)


def _mark(flag: Any) -> str:
    if flag is None:
        return ""
    return OK if bool(flag) else WARN


def result_rows(stats: Any, finding: Finding | None, agreement: Any = None) -> list[ResultRow]:
    """Rows of the result table from lesion statistics, the sentence's numbers and the agreement check."""
    finding = finding or Finding("")
    low, high = (int(v) for v in stats.image_range)
    images = f"{low}" if low == high else f"{low}–{high}"
    get = (lambda name: getattr(agreement, name, None)) if agreement is not None else (lambda name: None)
    return [
        ResultRow("SUVmax", f"{stats.suvmax:.1f}", f"{finding.suvmax:g}" if finding.suvmax is not None else "",
                  _mark(get("suv_ok"))),
        ResultRow("SUVmean", f"{stats.suvmean:.1f}"),
        ResultRow("Volume (ml)", f"{stats.volume_ml:.1f}"),
        ResultRow("TLG", f"{stats.tlg:.1f}"),
        ResultRow("Images", images, str(finding.slice) if finding.slice is not None else "", _mark(get("slice_ok"))),
        ResultRow("Side", str(getattr(stats, "side", "") or ""), finding.laterality, _mark(get("side_ok"))),
    ]


def agreement_messages(agreement: Any) -> list[str]:
    if agreement is None:
        return []
    return [str(m) for m in (getattr(agreement, "messages", None) or [])]


# row status symbols of the findings list
QUEUED, RUNNING, READY, ACCEPTED, REJECTED, FAILED, NOTHING = "…", "▶", "●", "✓", "✗", "!", "∅"


def finding_key(finding: Finding) -> tuple:
    """What makes two findings the same job (a re-parse of the same text gives equal keys)."""
    return (finding.sentence, finding.suvmax, finding.slice, finding.laterality, finding.site)


@dataclass(eq=False)
class ResultEntry:
    """A grounding kept for review: the chosen lesion mask (bool, PET grid) and what was measured."""

    request: GroundingRequest
    finding: Finding | None
    mask: np.ndarray | None
    stats: Any
    agreement: Any
    model: dict = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)  # the model's notes ("PET is not in SUV", ...)
    status: str = READY


def row_status(key: tuple, entry: ResultEntry | None, accepted: set, running: set,
               waiting: set) -> tuple[str, str]:
    """(symbol, tooltip) of a findings-list row."""
    if key in accepted:
        return ACCEPTED, "accepted"
    if entry is not None:
        return entry.status, {READY: "grounded: double-click to review", REJECTED: "rejected",
                              NOTHING: "no lesion found"}.get(entry.status, "")
    if key in running:
        return RUNNING, "grounding…"
    if key in waiting:
        return QUEUED, "waiting for the model"
    return "", "not grounded yet"


def agreement_dict(agreement: Any) -> dict:
    if agreement is None:
        return {}
    keys = ("suv_ok", "slice_ok", "side_ok")
    out = {k: (None if getattr(agreement, k, None) is None else bool(getattr(agreement, k))) for k in keys}
    out["messages"] = agreement_messages(agreement)
    return out


class ResultPanel(QWidget):
    """Title (the sentence), the statistics table and the agreement messages."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("")
        self.title.setWordWrap(True)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.messages = QLabel("")
        self.messages.setWordWrap(True)
        self.messages.setTextFormat(Qt.TextFormat.PlainText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.table)
        layout.addWidget(self.messages)
        self.clear()

    def clear(self, text: str = "") -> None:
        self.title.setText(html.escape(text))
        self.table.setRowCount(0)
        self.messages.setText("")
        self.table.setVisible(False)

    def show_result(self, title: str, rows: list[ResultRow], messages: list[str], note: str = "") -> None:
        self.title.setText(title)
        self.table.setRowCount(len(rows))
        for index, row in enumerate(rows):
            for column, value in enumerate((row.quantity, row.measured, row.stated, row.mark)):
                item = QTableWidgetItem(value)
                if column == 3 and value:
                    item.setForeground(Qt.GlobalColor.green if value == OK else Qt.GlobalColor.yellow)
                    item.setToolTip("\n".join(messages) or ("agrees with the sentence" if value == OK else ""))
                self.table.setItem(index, column, item)
        self.table.setVisible(True)
        self.table.resizeRowsToContents()
        header = max(self.table.horizontalHeader().height(), self.table.horizontalHeader().sizeHint().height())
        height = header + self.table.verticalHeader().length() + 2 * self.table.frameWidth() + 2
        self.table.setFixedHeight(height)
        lines = [f"• {m}" for m in messages]
        if note:
            lines.append(note)
        self.messages.setText("\n".join(lines))

    def marks(self) -> dict[str, str]:
        """Quantity -> mark as shown (for tests and the guide)."""
        return {self.table.item(r, 0).text(): self.table.item(r, 3).text() for r in range(self.table.rowCount())}

    def values(self) -> dict[str, str]:
        return {self.table.item(r, 0).text(): self.table.item(r, 1).text() for r in range(self.table.rowCount())}


def describe_failure(exc: BaseException, device: str) -> str:
    """The notification for a failed run: what happened and what to do."""
    text = str(exc)
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError" or "out of memory" in text.lower():
        return (f"Out of memory while grounding on device '{device}'. Choose the CPU device, close other "
                "programs, or crop the study; the viewer keeps working.")
    if isinstance(exc, PetGroundError):
        return text
    if isinstance(exc, ImportError):
        return f"The grounding model cannot be loaded ({text}); reinstall napari-petground."
    return f"Grounding failed ({type(exc).__name__}: {text}); the viewer keeps working."
