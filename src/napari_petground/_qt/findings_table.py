"""The accepted findings as a table: per finding a row of numbers (id, SUVmax, SUVmean, volume, TLG, images)
and, under it, its sentence across the whole width, wrapped.

A sentence in a column of its own beside five numbers had a few dozen pixels in a dock on a laptop screen and
was cut to "Metastasis in the rig…"; under the numbers it is read whole at any width. Rows are always rebuilt
from the "findings" Labels layer (FindingsStore.rows), never kept on the side, so an undo, a redo or a brush
stroke in the layer shows up here as it is.
"""

from __future__ import annotations

from qtpy.QtCore import Qt, Signal
from qtpy.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from ..findings import FindingRow

COLUMNS = ("Id", "SUVmax", "SUVmean", "Vol (ml)", "TLG", "Images")
LINES = 2  # table rows per finding: the numbers, then the sentence


def row_values(row: FindingRow) -> tuple[str, ...]:
    """The numbers of a finding as shown, in the order of COLUMNS."""
    low, high = row.stats.image_range
    images = f"{low}" if low == high else f"{low}–{high}"
    return (
        str(row.label),
        f"{row.stats.suvmax:.1f}",
        f"{row.stats.suvmean:.1f}",
        f"{row.stats.volume_ml:.1f}",
        f"{row.stats.tlg:.1f}",
        images,
    )


def row_sentence(row: FindingRow) -> str:
    return row.sentence or "(painted by hand)"


class FindingsTable(QTableWidget):
    """Read-only table; ``label_activated`` (label id) on double click on either line of a finding."""

    label_activated = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(list(COLUMNS))
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWordWrap(True)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Fixed)  # not to contents: the sentence spans it
        header.sectionResized.connect(lambda *_: self.fit_rows())
        self._labels: list[int] = []
        self._sentences: list[str] = []
        self.cellDoubleClicked.connect(lambda row, _col: self.label_activated.emit(self._labels[row // LINES]))

    def set_rows(self, rows: list[FindingRow]) -> None:
        self.clearSpans()
        self._labels = [r.label for r in rows]
        self._sentences = [row_sentence(r) for r in rows]
        self.setRowCount(LINES * len(rows))
        widest = max([self.fontMetrics().horizontalAdvance(str(r.label)) for r in rows]
                     + [self.horizontalHeader().fontMetrics().horizontalAdvance(COLUMNS[0])])
        self.setColumnWidth(0, widest + 16)
        for index, row in enumerate(rows):
            line = LINES * index
            for column, value in enumerate(row_values(row)):
                item = QTableWidgetItem(value)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.setItem(line, column, item)
            sentence = QTableWidgetItem(row_sentence(row))
            sentence.setToolTip(row.sentence)
            self.setItem(line + 1, 0, sentence)
            self.setSpan(line + 1, 0, 1, len(COLUMNS))
        self.fit_rows()

    def fit_rows(self) -> None:
        """Number lines one text line high, sentence lines as high as their sentence wrapped to the width."""
        width = self.viewport().width()
        metrics = self.fontMetrics()
        flags = int(Qt.TextFlag.TextWordWrap)
        for index, sentence in enumerate(self._sentences):
            self.setRowHeight(LINES * index, metrics.height() + 8)
            needed = metrics.boundingRect(0, 0, max(width - 12, 40), 10_000, flags, sentence).height()
            self.setRowHeight(LINES * index + 1, needed + 8)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self.fit_rows()

    def labels(self) -> list[int]:
        return list(self._labels)

    def sentences(self) -> dict[int, str]:
        return {label: self.item(LINES * i + 1, 0).text() for i, label in enumerate(self._labels)}
