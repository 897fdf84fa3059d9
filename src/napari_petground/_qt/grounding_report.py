"""The findings of a pasted report as a list: one row per finding, its numbers highlighted, a status column.

Highlighting uses ``Finding.spans`` (character ranges in the sentence): the current SUVmax and the image
number in bold colour, a prior value struck through in grey, side and site underlined, so the reader sees at a
glance which numbers the grounding will be checked against.
"""

from __future__ import annotations

import html

from qtpy.QtCore import Qt, Signal
from qtpy.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from ..report.finding import Finding

# span name -> (opening, closing) HTML
SPAN_STYLE: dict[str, tuple[str, str]] = {
    "suvmax": ('<b style="color:#ff9f1c">', "</b>"),
    "slice": ('<b style="color:#2ec4b6">', "</b>"),
    "series": ('<span style="color:#8ecae6">', "</span>"),
    "prior_suvmax": ('<s style="color:#888888">', "</s>"),
    "laterality": ("<u>", "</u>"),
    "site": ("<u>", "</u>"),
}
STATUS_COLUMN, TEXT_COLUMN = 0, 1


def highlight_html(finding: Finding) -> str:
    """The sentence as HTML with the finding's spans styled (overlapping spans: the first one wins)."""
    text = finding.sentence
    spans = sorted(
        ((span.start, span.end, name) for name, span in finding.spans.items()
         if name in SPAN_STYLE and 0 <= span.start < span.end <= len(text)),
        key=lambda item: (item[0], -item[1]),
    )
    out, position = [], 0
    for start, end, name in spans:
        if start < position:
            continue
        opening, closing = SPAN_STYLE[name]
        out.append(html.escape(text[position:start]))
        out.append(f"{opening}{html.escape(text[start:end])}{closing}")
        position = end
    out.append(html.escape(text[position:]))
    return "".join(out)


def finding_summary(finding: Finding) -> str:
    """Tooltip: the values read from the sentence."""
    parts = []
    if finding.suvmax is not None:
        parts.append(f"SUVmax {finding.suvmax:g}")
    if finding.slice is not None:
        parts.append(f"image {finding.slice}")
    if finding.series is not None:
        parts.append(f"series {finding.series}")
    if finding.laterality:
        parts.append(finding.laterality)
    if finding.site:
        parts.append(finding.site.replace("_", " "))
    if finding.prior_suvmax is not None:
        parts.append(f"previously {finding.prior_suvmax:g}")
    return ", ".join(parts) or "no numbers: grounded by the text alone"


class FindingsList(QTableWidget):
    """Rows of findings; ``activated_row`` on double click or Enter."""

    activated_row = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 2, parent)
        self._findings: list[Finding] = []
        self.setHorizontalHeaderLabels(["", "Finding"])
        header = self.horizontalHeader()
        header.setSectionResizeMode(STATUS_COLUMN, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(TEXT_COLUMN, QHeaderView.ResizeMode.Stretch)
        self.verticalHeader().setVisible(False)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setWordWrap(True)
        self.setMinimumHeight(120)  # two or three findings stay readable in a crowded dock area
        self.cellDoubleClicked.connect(lambda row, _col: self.activated_row.emit(row))

    @property
    def findings(self) -> list[Finding]:
        return list(self._findings)

    def set_findings(self, findings: list[Finding]) -> None:
        self._findings = list(findings)
        for row in range(self.rowCount()):  # hidden at once: the replaced labels are deleted only when the
            old = self.cellWidget(row, TEXT_COLUMN)  # event loop comes round, and would show through until then
            if old is not None:
                old.hide()
        self.setRowCount(len(self._findings))
        for row, finding in enumerate(self._findings):
            self.setItem(row, STATUS_COLUMN, QTableWidgetItem(""))
            label = QLabel(highlight_html(finding))
            label.setTextFormat(Qt.TextFormat.RichText)
            label.setWordWrap(True)
            label.setToolTip(finding_summary(finding))
            label.setContentsMargins(4, 2, 4, 2)
            label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
            item = QTableWidgetItem()  # no display text: the rich-text label draws the sentence
            item.setData(Qt.ItemDataRole.UserRole, finding.sentence)
            self.setItem(row, TEXT_COLUMN, item)
            self.setCellWidget(row, TEXT_COLUMN, label)
        self.resizeRowsToContents()

    def row_html(self, row: int) -> str:
        widget = self.cellWidget(row, TEXT_COLUMN)
        return widget.text() if isinstance(widget, QLabel) else ""

    def set_status(self, row: int, symbol: str, tooltip: str = "") -> None:
        if 0 <= row < self.rowCount():
            item = self.item(row, STATUS_COLUMN)
            item.setText(symbol)
            item.setToolTip(tooltip)

    def status(self, row: int) -> str:
        item = self.item(row, STATUS_COLUMN)
        return item.text() if item is not None else ""

    def selected_rows(self) -> list[int]:
        return sorted({index.row() for index in self.selectionModel().selectedRows()})

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt override)
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentRow() >= 0:
            self.activated_row.emit(self.currentRow())
            return
        super().keyPressEvent(event)


class SentenceEdit(QPlainTextEdit):
    """Multi-line text box for a sentence or a pasted report; Ctrl+Enter emits ``submitted``."""

    submitted = Signal()

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt override)
        if (event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
                and event.modifiers() & Qt.KeyboardModifier.ControlModifier):
            self.submitted.emit()
            return
        super().keyPressEvent(event)
