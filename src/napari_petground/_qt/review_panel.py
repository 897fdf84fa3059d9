"""The review dock's controls (layout only; review_dock.py wires them to the queue)."""

from __future__ import annotations

import time

from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..review.records import REJECT_REASONS, Decision, ReviewItem
from ..weaklabel.grow import FLAG_TEXT

ANY = "any"
STATE_COLORS = {"pending": "#bbbbbb", "skipped": "#bbbbbb", "accepted": "#5fd35f", "fixed": "#5fb0ff",
                "chosen": "#5fb0ff", "rejected": "#ff7070"}


class ReviewPanel(QWidget):
    """Dataset and annotator, filters, progress, the sentence, candidates, decision buttons, history."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText("dataset folder (made by petground weak-label)")
        self.browse_button = QToolButton()
        self.browse_button.setText("…")
        self.browse_button.setToolTip("Choose the dataset folder")
        self.annotator_edit = QLineEdit()
        self.annotator_edit.setPlaceholderText("your name")
        self.open_button = QPushButton("Open")
        self.status_combo, self.flag_combo, self.tracer_combo = QComboBox(), QComboBox(), QComboBox()
        for combo, tip in ((self.status_combo, "weak-label status"), (self.flag_combo, "flag"),
                           (self.tracer_combo, "tracer")):
            combo.addItem(ANY)
            combo.setToolTip(f"Only hand out items with this {tip}")
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress_label = QLabel("")
        self.item_label = QLabel("Open a dataset to start reviewing.")
        self.item_label.setWordWrap(True)
        self.item_label.setTextFormat(Qt.TextFormat.RichText)
        self.sentence_label = QLabel("")
        self.sentence_label.setWordWrap(True)
        self.sentence_label.setTextFormat(Qt.TextFormat.RichText)
        self.sentence_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.sentence_label.setStyleSheet("font-size: 14pt; padding: 4px;")
        self.sentence_label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self.info_label = QLabel("")
        self.info_label.setWordWrap(True)
        self.candidate_list = QListWidget()
        self.candidate_list.setMaximumHeight(80)
        self.candidate_box = QGroupBox("Candidates (keys 1–9)")
        box = QVBoxLayout(self.candidate_box)
        box.addWidget(self.candidate_list)
        self.candidate_box.setVisible(False)

        self.accept_button = QPushButton("Accept (a)")
        self.accept_button.setToolTip("The mask is right as shown (the weak mask, or the picked candidate)")
        self.fix_button = QPushButton("Save fix (f)")
        self.fix_button.setToolTip("Save the mask as you painted it (paint: 2, erase: 1, fill: 4)")
        self.reject_button = QPushButton("Reject (r)")
        self.reject_button.setToolTip("Unusable: pick the reason on the left, add a note if needed")
        self.skip_button = QPushButton("Skip")
        self.skip_button.setToolTip("Leave it for later (it goes to the back of the queue)")
        self.prev_button = QPushButton("◀ Previous (p)")
        self.next_button = QPushButton("Next (n) ▶")
        self.next_button.setToolTip("Next item; an undecided item is skipped for later")
        self.reason_combo = QComboBox()
        for key, text in REJECT_REASONS.items():
            self.reason_combo.addItem(key.replace("_", " "), key)
            self.reason_combo.setItemData(self.reason_combo.count() - 1, text, Qt.ItemDataRole.ToolTipRole)
        self.note_edit = QLineEdit()
        self.note_edit.setPlaceholderText("note (optional; required for 'other')")
        self.history_label = QLabel("")
        self.history_label.setWordWrap(True)
        self.history_label.setTextFormat(Qt.TextFormat.RichText)
        self.message_label = QLabel("")
        self.message_label.setWordWrap(True)
        self._layout()

    def _layout(self) -> None:
        form = QFormLayout()
        folder = QHBoxLayout()
        folder.addWidget(self.folder_edit, 1)
        folder.addWidget(self.browse_button)
        form.addRow("Dataset", folder)
        who = QHBoxLayout()
        who.addWidget(self.annotator_edit, 1)
        who.addWidget(self.open_button)
        form.addRow("Annotator", who)
        filters = QHBoxLayout()
        for label, combo in (("status", self.status_combo), ("flag", self.flag_combo),
                             ("tracer", self.tracer_combo)):
            filters.addWidget(QLabel(label))
            filters.addWidget(combo, 1)
        form.addRow("Filter", filters)
        form.addRow("Progress", self.progress)
        buttons = QGridLayout()
        buttons.addWidget(self.accept_button, 0, 0)
        buttons.addWidget(self.fix_button, 0, 1)
        buttons.addWidget(self.reject_button, 0, 2)
        buttons.addWidget(self.prev_button, 1, 0)
        buttons.addWidget(self.skip_button, 1, 1)
        buttons.addWidget(self.next_button, 1, 2)
        reject = QHBoxLayout()
        reject.addWidget(QLabel("reject as"))
        reject.addWidget(self.reason_combo, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress_label)
        layout.addWidget(self.item_label)
        layout.addWidget(self.sentence_label)
        layout.addWidget(self.info_label)
        layout.addWidget(self.candidate_box)
        layout.addLayout(buttons)
        layout.addLayout(reject)
        layout.addWidget(self.note_edit)
        layout.addWidget(self.history_label)
        layout.addWidget(self.message_label)
        layout.addStretch(1)

    # -- filling in -----------------------------------------------------------------------------------------
    def set_filter_values(self, values: dict[str, list[str]]) -> None:
        for key, combo in (("status", self.status_combo), ("flag", self.flag_combo), ("tracer", self.tracer_combo)):
            current = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            combo.addItems([ANY, *values.get(key, [])])
            combo.setCurrentText(current if current in values.get(key, []) else ANY)
            combo.blockSignals(False)

    def filter_text(self, combo: QComboBox) -> str:
        text = combo.currentText()
        return "" if text == ANY else text

    def set_progress(self, done: int, total: int, mine: int, filtered: tuple[int, int] | None) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(f"{done} / {total} done")
        extra = f" · this filter {filtered[0]} / {filtered[1]}" if filtered else ""
        self.progress_label.setText(f"you decided {mine}{extra}")

    def show_item(self, item: ReviewItem, sentence_html: str, problems: list[str]) -> None:
        state = item.state
        flags = [*item.all_flags, *(p for p in problems if p not in item.all_flags)]
        flag_text = ", ".join(f'<span style="color:#ff9f40">{f}</span>' for f in flags) or "no flags"
        self.item_label.setText(
            f"<b>{item.item_id}</b> · {item.tracer or 'tracer ?'} · weak label: {item.weak_status} · {flag_text}"
            f" · <span style='color:{STATE_COLORS.get(state, '#bbbbbb')}'>{state}</span>")
        self.sentence_label.setText(sentence_html)
        info = []
        if item.reason:
            info.append(f"pipeline: {item.reason}")
        info += [f"⚠ {FLAG_TEXT[f]}" for f in flags if f in FLAG_TEXT]  # what the mask's own flags mean
        if item.label is None and not item.n_candidates:
            info.append("no weak mask: draw the lesion and save a fix (f), or reject (r)")
        self.info_label.setText("\n".join(info))
        self.candidate_list.clear()
        for j, cand in enumerate(item.candidates[: item.n_candidates]):
            details = ", ".join(f"{k} {_fmt(v)}" for k, v in cand.items() if not isinstance(v, dict | list))
            self.candidate_list.addItem(f"{j + 1}: {details}" if details else f"{j + 1}")
        self.candidate_box.setVisible(item.n_candidates > 0)

    def show_history(self, history: list[Decision]) -> None:
        rows = []
        for d in history:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(d.at))
            what = d.action + (f" {d.outcome}" if d.outcome and d.outcome not in (d.action, "rejected") else "")
            if d.candidate is not None:
                what += f" {d.candidate + 1}"
            if d.dice is not None:
                what += f" (Dice {d.dice:.2f})"
            if d.reason:
                what += f": {d.reason}"
            if d.note:
                what += f" — {d.note}"
            rows.append(f"{when} <b>{d.annotator}</b> {what}")
        self.history_label.setText("<br>".join(rows[-6:]))

    def message(self, text: str, error: bool = False) -> None:
        self.message_label.setStyleSheet("color: #ff7070;" if error else "")
        self.message_label.setText(text)


def _fmt(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
