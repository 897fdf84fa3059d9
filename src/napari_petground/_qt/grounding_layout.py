"""The grounding dock's three parts in a vertical splitter: the text, the findings, the result.

Each part keeps what it needs (the text box its few lines and buttons; the findings and the result scroll
rather than squeeze), and the user drags the handles for more of one. When the dock is first shown its
height is shared so that a laptop screen (1366 × 768) shows two or three findings and a result's table: a
fifth for the text, and of the rest 2/5 for the findings, or all the findings need when the result still
keeps RESULT_ROOM px (a desktop screen shows every finding of a report at once).
"""

from __future__ import annotations

from qtpy.QtCore import Qt, QTimer
from qtpy.QtWidgets import QLabel, QSplitter, QWidget

from .grounding_report import FindingsList

RESULT_ROOM = 400  # px the result part needs for a result's table and notes without scrolling


class DockSplitter(QSplitter):
    """Text, findings (``hint`` over ``findings``) and result, one under the other."""

    def __init__(self, text: QWidget, listing: QWidget, result: QWidget, findings: FindingsList, hint: QLabel,
                 parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Vertical, parent)
        self._text, self._findings, self._hint = text, findings, hint
        self.setChildrenCollapsible(False)
        for index, (part, stretch) in enumerate(((text, 0), (listing, 1), (result, 2))):
            self.addWidget(part)
            self.setStretchFactor(index, stretch)
        self._shared = False

    def showEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        if not self._shared:  # once, when the dock first has its height
            self._shared = True
            QTimer.singleShot(0, self.share_height)

    def share_height(self) -> None:
        """Share the height between the parts as the module says."""
        total = sum(self.sizes())
        top = max(self._text.minimumSizeHint().height(), total // 5)
        if total <= top:
            return
        rest = total - top
        listed = self._findings
        needed = (self._hint.sizeHint().height() + listed.horizontalHeader().height() + 2 * listed.frameWidth()
                  + sum(listed.rowHeight(row) for row in range(listed.rowCount())) + 8)
        middle = needed if rest * 2 // 5 < needed <= rest - RESULT_ROOM else rest * 2 // 5
        self.setSizes([top, middle, rest - middle])
