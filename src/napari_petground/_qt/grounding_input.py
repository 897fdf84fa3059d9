"""The top of the grounding dock: the report text box, what it holds, the Ground buttons and the run's progress.

The text box is the one place to type. Its heading says whether it holds the study's report or the user's own
text; the study's report is never lost by typing over it: **Restore the study's report** puts it back as one
undoable edit (Ctrl+Z in the box brings the user's text back). A click anywhere in this pane that is not on a
button (the heading, the status line) puts the cursor in the box, so keys typed next go into the text and not
to napari's key bindings. The progress bar is shown only while findings are being grounded, in place of the
status line and with words on it (which finding of how many, which stage), so it never looks like an empty box
to type into.
"""

from __future__ import annotations

from dataclasses import dataclass

from qtpy.QtCore import Qt
from qtpy.QtGui import QTextCursor
from qtpy.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from .grounding_report import SentenceEdit

PLACEHOLDER = ("Type a finding or paste a report, e.g.\n"
               "Intensely FDG-avid right hilar node, SUVmax 12.3, image 145.\n"
               "Ctrl+Enter grounds it.")
HEADING = "<b>Report text</b>"
NO_REPORT = f"{HEADING}: type or paste a finding or a report"
STUDY_REPORT = f"{HEADING}: the study's report"
OWN_TEXT = f"{HEADING}: your text"
RESTORE = "Restore the study's report"


@dataclass
class Batch:
    """Findings grounded since the runner was last idle: how many were asked and how many have finished."""

    total: int = 0
    finished: int = 0

    def text(self, stage: str, run_fraction: float) -> str:
        """The progress bar's words: "Finding 2 of 7, 40%: inference" (the percentage its row shows too)."""
        current = min(self.finished + 1, max(self.total, 1))
        return f"Finding {current} of {max(self.total, 1)}, {run_fraction:.0%}: {stage}"

    def value(self, run_fraction: float) -> int:
        """0..1000 over the whole batch."""
        total = max(self.total, 1)
        return int(round(1000 * min((self.finished + run_fraction) / total, 1.0)))


class InputPane(QWidget):
    """Heading, Restore, the text box, Ground / Ground all / Cancel, the progress bar and the status line."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.heading = QLabel(NO_REPORT)
        self.heading.setTextFormat(Qt.TextFormat.RichText)
        self.heading.setToolTip("Typing here never changes the study's report: Restore brings it back.")
        self.restore_button = QPushButton(RESTORE)
        self.restore_button.setToolTip("Put the report that came with the study back in the text box "
                                       "(Ctrl+Z in the box brings your text back)")
        self.restore_button.setVisible(False)
        self.text = SentenceEdit()
        self.text.setPlaceholderText(PLACEHOLDER)
        self.text.setToolTip("Type or paste here. Keys typed here stay here: napari's shortcuts do not fire.")
        self.text.setMinimumHeight(3 * self.text.fontMetrics().lineSpacing() + 12)  # a sentence stays readable
        self.ground_button = QPushButton("Ground")
        self.ground_button.setToolTip("Ground the selected finding, or the only one in the text (Ctrl+Enter)")
        self.ground_all_button = QPushButton("Ground all")
        self.ground_all_button.setToolTip("Queue every finding of the list")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the running grounding and empty the queue")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.progress.setFormat("")
        self.progress.setVisible(False)  # only while grounding: empty, it looked like a box to type into
        self.stage = QLabel("Idle.")

        heading = QHBoxLayout()
        heading.addWidget(self.heading, 1)
        heading.addWidget(self.restore_button)
        buttons = QHBoxLayout()
        for button in (self.ground_button, self.ground_all_button, self.cancel_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(heading)
        layout.addWidget(self.text, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.stage)

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt override)
        """A click on the heading, the status line or the progress: the cursor goes to the text box."""
        self.text.setFocus(Qt.FocusReason.MouseFocusReason)
        super().mousePressEvent(event)

    def show_source(self, report: str) -> None:
        """Heading and Restore for the study's ``report`` ("" when the study has none) and the text now."""
        text = self.text.toPlainText()
        if not report.strip():
            self.heading.setText(NO_REPORT)
            self.restore_button.setVisible(False)
            return
        own = text.strip() != report.strip()
        self.heading.setText(OWN_TEXT if own else STUDY_REPORT)
        self.restore_button.setVisible(own)

    def replace_text(self, text: str) -> None:
        """Replace the whole text as one undoable edit (setPlainText would forget the undo history)."""
        cursor = self.text.textCursor()
        cursor.beginEditBlock()
        cursor.select(QTextCursor.SelectionType.Document)
        cursor.insertText(text)
        cursor.endEditBlock()
        cursor.movePosition(QTextCursor.MoveOperation.Start)
        self.text.setTextCursor(cursor)

    def show_running(self, batch: Batch, stage: str, run_fraction: float) -> None:
        """The progress bar, with words, for the running finding of ``batch`` (``run_fraction`` of it done)."""
        self.stage.setVisible(False)
        self.progress.setVisible(True)
        self.progress.setFormat(batch.text(stage, run_fraction))
        self.progress.setValue(batch.value(run_fraction))

    def show_idle(self) -> None:
        self.progress.setVisible(False)
        self.stage.setVisible(True)
        self.progress.setValue(0)
        self.progress.setFormat("")
        self.cancel_button.setEnabled(False)
