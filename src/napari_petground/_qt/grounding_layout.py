"""The grounding dock's three parts in a vertical splitter: the text, the findings, the result.

Each part keeps what it needs (the text box its few lines and buttons; the findings and the result scroll
rather than squeeze), and the user drags the handles for more of one. When the dock is first shown its
height is shared so that a laptop screen (1366 × 768) shows two or three findings and a result's table: a
fifth for the text, and of the rest 2/5 for the findings, or all the findings need when the result still
keeps RESULT_ROOM px (a desktop screen shows every finding of a report at once). The share is made again
when the dock is resized, until the user drags a handle: from then on the sizes are the user's.
"""

from __future__ import annotations

from qtpy.QtCore import Qt, QTimer
from qtpy.QtWidgets import QLabel, QSplitter, QWidget

from .grounding_report import FindingsList

RESULT_ROOM = 360  # px the result part needs for a result's table and notes without scrolling


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
        self._user_sized = False
        self.splitterMoved.connect(self._on_moved)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.share_height)

    def _on_moved(self, *_args) -> None:
        self._user_sized = True

    def showEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        if not self._user_sized:
            self._timer.start(0)  # once the event loop comes round: the rows have their heights by then

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        if not self._user_sized:
            self._timer.start(0)

    def share_height(self) -> None:
        """Share the height between the parts as the module says (not once the user has dragged a handle)."""
        if self._user_sized:
            return
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
