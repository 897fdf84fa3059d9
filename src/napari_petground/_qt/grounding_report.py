"""The findings of a pasted report as a list: one row per finding, its numbers highlighted, a status column.

Highlighting uses ``Finding.spans`` (character ranges in the sentence): the current SUVmax and the image
number in bold colour, a prior value struck through in grey, side and site underlined, so the reader sees at a
glance which numbers the grounding will be checked against. The status column says in words where each
finding is (queued, running with its percentage, done, accepted, …), so a batch can be followed row by row;
rows grow to the height of their wrapped sentence at any dock width.

The text box (:class:`SentenceEdit`) keeps every plain key typed into it: none reaches napari's key bindings
(``a`` accept, ``r`` reject, layer and contrast keys) while the user is typing.
"""

from __future__ import annotations

import html

from qtpy.QtCore import QEvent, Qt, Signal
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
from ..session import ACCEPTED, FAILED, NOTHING, QUEUED, READY, REJECTED, RUNNING

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
# a row's status symbol -> the word shown beside it
STATUS_WORDS: dict[str, str] = {QUEUED: "queued", RUNNING: "running", READY: "done", ACCEPTED: "accepted",
                                REJECTED: "rejected", FAILED: "failed", NOTHING: "none found"}
WIDEST_STATUS = f"{RUNNING} running 100%"  # the status column is as wide as this, so it never jumps
CELL_MARGIN = 6  # px of padding the style puts around a cell's text (both sides together, at least)


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


def status_text(symbol: str, detail: str = "") -> str:
    """What the status column shows: the symbol, its word, and a detail (the running one's percentage)."""
    word = STATUS_WORDS.get(symbol, "")
    return " ".join(part for part in (symbol, word, detail) if part)


class FindingsList(QTableWidget):
    """Rows of findings; ``activated_row`` on double click or Enter."""

    activated_row = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 2, parent)
        self._findings: list[Finding] = []
        self.setHorizontalHeaderLabels(["Status", "Finding"])
        header = self.horizontalHeader()
        header.setSectionResizeMode(STATUS_COLUMN, QHeaderView.ResizeMode.Fixed)
        header.setSectionResizeMode(TEXT_COLUMN, QHeaderView.ResizeMode.Stretch)
        header.sectionResized.connect(lambda *_: self.fit_rows())
        self.verticalHeader().setVisible(False)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWordWrap(True)
        self.setMinimumHeight(90)  # the header and a finding or two, however small the dock
        self.cellDoubleClicked.connect(lambda row, _col: self.activated_row.emit(row))
        self._size_status_column()

    def _size_status_column(self) -> None:
        header = self.horizontalHeader()
        needed = max(self.fontMetrics().horizontalAdvance(WIDEST_STATUS),
                     header.fontMetrics().horizontalAdvance("Status"))
        self.setColumnWidth(STATUS_COLUMN, needed + 2 * CELL_MARGIN + 4)

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
            status = QTableWidgetItem("")
            status.setData(Qt.ItemDataRole.UserRole, "")
            status.setTextAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
            self.setItem(row, STATUS_COLUMN, status)
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
        self.fit_rows()

    def fit_rows(self) -> None:
        """Each row as tall as its sentence wrapped at the column's width now (rows never overlap)."""
        width = self.columnWidth(TEXT_COLUMN)
        if width <= 0:
            return
        least = self.fontMetrics().height() + CELL_MARGIN
        for row in range(self.rowCount()):
            label = self.cellWidget(row, TEXT_COLUMN)
            height = label.heightForWidth(width) if isinstance(label, QLabel) else -1
            height = max(height, least) + 2
            if self.rowHeight(row) != height:
                self.setRowHeight(row, height)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self.fit_rows()

    def row_html(self, row: int) -> str:
        widget = self.cellWidget(row, TEXT_COLUMN)
        return widget.text() if isinstance(widget, QLabel) else ""

    def set_status(self, row: int, symbol: str, tooltip: str = "", detail: str = "") -> None:
        """Show ``symbol`` (a status of session.py) in words, with ``detail`` (e.g. "40%") after it."""
        if 0 <= row < self.rowCount():
            item = self.item(row, STATUS_COLUMN)
            item.setData(Qt.ItemDataRole.UserRole, symbol)
            item.setText(status_text(symbol, detail))
            item.setToolTip(tooltip)

    def show_row(self, row: int) -> None:
        """Scroll just enough for ``row`` to be seen (the one that starts running)."""
        item = self.item(row, STATUS_COLUMN)
        if item is not None:
            self.scrollToItem(item, QAbstractItemView.ScrollHint.EnsureVisible)

    def status(self, row: int) -> str:
        """The row's status symbol ("" when it was never grounded)."""
        item = self.item(row, STATUS_COLUMN)
        return str(item.data(Qt.ItemDataRole.UserRole) or "") if item is not None else ""

    def status_label(self, row: int) -> str:
        """The row's status as shown."""
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
    """Multi-line text box for a sentence or a pasted report; Ctrl+Enter emits ``submitted``.

    A key without Ctrl, Alt or Meta typed here stays here: it is taken before any shortcut (so a single-key
    shortcut of napari or a plugin does not fire) and never passed on to the window, whose key handler would
    give it to the viewer's key bindings."""

    submitted = Signal()

    def event(self, event) -> bool:  # noqa: D102 (Qt override)
        if event.type() == QEvent.Type.ShortcutOverride and _plain_key(event):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt override)
        if (event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
                and event.modifiers() & Qt.KeyboardModifier.ControlModifier):
            self.submitted.emit()
            return
        super().keyPressEvent(event)
        if _plain_key(event):
            event.accept()

    def keyReleaseEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().keyReleaseEvent(event)
        if _plain_key(event):
            event.accept()


_COMMAND_MODIFIERS = (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
                      | Qt.KeyboardModifier.MetaModifier)


def _plain_key(event) -> bool:
    """A key typed as text or to move in it: no Ctrl, Alt or Meta held (Escape stays with the window)."""
    return not (event.modifiers() & _COMMAND_MODIFIERS) and event.key() != Qt.Key.Key_Escape
