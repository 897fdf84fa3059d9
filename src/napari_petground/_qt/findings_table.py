"""The accepted findings as a table (id, sentence, SUVmax, SUVmean, volume, TLG, images).

Rows are always rebuilt from the "findings" Labels layer (FindingsStore.rows), never kept on the side, so an
undo, a redo or a brush stroke in the layer shows up here as it is.
"""

from __future__ import annotations

from qtpy.QtCore import Qt, Signal
from qtpy.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from ..findings import FindingRow

COLUMNS = ("Id", "Sentence", "SUVmax", "SUVmean", "Vol (ml)", "TLG", "Images")


def row_values(row: FindingRow) -> tuple[str, ...]:
    low, high = row.stats.image_range
    images = f"{low}" if low == high else f"{low}–{high}"
    return (
        str(row.label),
        row.sentence or "(painted by hand)",
        f"{row.stats.suvmax:.1f}",
        f"{row.stats.suvmean:.1f}",
        f"{row.stats.volume_ml:.1f}",
        f"{row.stats.tlg:.1f}",
        images,
    )


class FindingsTable(QTableWidget):
    """Read-only table; ``label_activated`` (label id) on double click."""

    label_activated = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(list(COLUMNS))
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self._labels: list[int] = []
        self.cellDoubleClicked.connect(lambda row, _col: self.label_activated.emit(self._labels[row]))

    def set_rows(self, rows: list[FindingRow]) -> None:
        self._labels = [r.label for r in rows]
        self.setRowCount(len(rows))
        for index, row in enumerate(rows):
            for column, value in enumerate(row_values(row)):
                item = QTableWidgetItem(value)
                if column == 1:
                    item.setToolTip(row.sentence)
                elif column != 1:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.setItem(index, column, item)

    def labels(self) -> list[int]:
        return list(self._labels)

    def sentences(self) -> dict[int, str]:
        return {label: self.item(i, 1).text() for i, label in enumerate(self._labels)}
