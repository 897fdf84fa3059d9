"""The result of one grounding: lesion statistics beside what the sentence states, with ✓ / ⚠ and why.

The statistics are those of the prediction as it is now (recomputed after the user paints or erases); the
marks come from the number-aware agreement check (SUVmax, image number, side) of the model's result, or of
the edited mask when the check can be rerun. Nothing in the grid is shortened: a site ("left upper lobe
pulmonary nodule") takes the width of both value columns and wraps when even that is too narrow. Warnings
(low confidence, a site that does not fit the sentence) come right under the title, above the grid, so a
small screen shows them without scrolling.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING

from qtpy.QtCore import Qt
from qtpy.QtWidgets import QFrame, QGridLayout, QLabel, QVBoxLayout, QWidget

from ..errors import PetGroundError
from ..report.finding import Finding
from ..session import (  # noqa: F401 (statuses of a findings-list row, used by the docks through here)
    ACCEPTED,
    FAILED,
    NOTHING,
    QUEUED,
    READY,
    REJECTED,
    RUNNING,
    GroundingResult,
    finding_key,
)
from ..weaklabel.agreement import Agreement
from ..weaklabel.components import ComponentStats, side_label

if TYPE_CHECKING:
    from ..model.grounder import Grounding

OK, WARN = "✓", "⚠"
COLUMNS = ("", "Lesion", "Sentence", "")  # quantity, measured on the mask, stated, ✓ / ⚠


@dataclass(frozen=True)
class ResultRow:
    quantity: str
    measured: str
    stated: str = ""
    mark: str = ""  # OK, WARN or "" (nothing to check)


def _mark(flag: bool | None) -> str:
    if flag is None:
        return ""
    return OK if bool(flag) else WARN


def result_rows(stats: ComponentStats, finding: Finding | None, agreement: Agreement | None = None, *,
                described: str = "", consistency: tuple[bool, str] | None = None) -> list[ResultRow]:
    """Rows of the result table from lesion statistics, the sentence's numbers and the agreement check;
    with a description of the mask (``described``: "left external iliac lymph node") a Site row too."""
    finding = finding or Finding("")
    agreement = agreement or Agreement()
    low, high = (int(v) for v in stats.image_range)
    images = f"{low}" if low == high else f"{low}–{high}"
    rows = [
        ResultRow("SUVmax", f"{stats.suvmax:.1f}", f"{finding.suvmax:g}" if finding.suvmax is not None else "",
                  _mark(agreement.suv_ok)),
        ResultRow("SUVmean", f"{stats.suvmean:.1f}"),
        ResultRow("Volume (ml)", f"{stats.volume_ml:.1f}"),
        ResultRow("TLG", f"{stats.tlg:.1f}"),
        ResultRow("Images", images, str(finding.slice) if finding.slice is not None else "", _mark(agreement.slice_ok)),
        ResultRow("Side", side_label(stats.side), finding.laterality, _mark(agreement.side_ok)),
    ]
    if described or consistency is not None:
        stated = " ".join(p for p in (finding.laterality, _site_phrase(finding.site)) if p)
        rows.append(ResultRow("Site", described, stated, _mark(consistency[0] if consistency else None)))
    return rows


def _site_phrase(site: str) -> str:
    from ..report.lexicon import SITE_BY_KEY

    return SITE_BY_KEY[site].phrase if site in SITE_BY_KEY else site


def agreement_messages(agreement: Agreement | None) -> list[str]:
    return [str(m) for m in agreement.messages] if agreement is not None else []


def not_found_reason(entry: GroundingResult) -> str:
    """Why the model offers no lesion for a finding, in the words of its checks (the toast and the list say it)."""
    return "; ".join(agreement_messages(entry.agreement) + entry.flags) or "no region above threshold"


def row_status(key: tuple, entry: GroundingResult | None, accepted: set, running: set,
               waiting: set) -> tuple[str, str]:
    """(symbol, tooltip) of a findings-list row."""
    if key in accepted:
        return ACCEPTED, "accepted"
    if entry is not None:
        if entry.status == NOTHING:
            return NOTHING, f"no lesion found: {not_found_reason(entry)}"
        return entry.status, {READY: "grounded: double-click to review", REJECTED: "rejected"}.get(entry.status, "")
    if key in running:
        return RUNNING, "grounding…"
    if key in waiting:
        return QUEUED, "waiting for the model"
    return "", "not grounded yet"


def result_entry(finding: Finding, grounding: Grounding, checkpoint: str, device: str) -> GroundingResult:
    """What the session keeps of a model's answer for ``finding`` (mask None when nothing was found);
    ``checkpoint`` and ``device`` as asked, for an answer that does not name its own."""
    stats = grounding.chosen_stats
    found = stats is not None and bool(grounding.mask.any())
    entry = GroundingResult(finding, grounding, grounding.mask if found else None, stats, grounding.agreement,
                            model={"checkpoint": grounding.checkpoint or checkpoint,
                                   "device": grounding.device or device, "method": grounding.method,
                                   "timings": dict(grounding.timings)},
                            flags=list(grounding.flags), status=READY if found else NOTHING,
                            consistency=grounding.consistency)
    description = grounding.description
    if description is not None:  # without a describe head only the side is known
        entry.described = description.phrase if description.site else description.body_side
    return entry


def agreement_dict(agreement: Agreement | None) -> dict:
    """What the findings sidecar records of an agreement check."""
    if agreement is None:
        return {}
    out = {k: None if getattr(agreement, k) is None else bool(getattr(agreement, k))
           for k in ("suv_ok", "slice_ok", "side_ok")}
    out["messages"] = agreement_messages(agreement)
    return out


SITE = "Site"


class ResultPanel(QWidget):
    """Title (the sentence), a small grid of statistics beside the sentence's values, and the reasons.

    A grid of labels rather than a table widget: it takes exactly the height of its rows in any theme. The
    site row is two lines spanning both value columns (what the lesion looks like, what the sentence says).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("")
        self.title.setWordWrap(True)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.grid_box = QFrame()
        self.grid_box.setFrameShape(QFrame.Shape.StyledPanel)
        self.grid = QGridLayout(self.grid_box)
        self.grid.setContentsMargins(6, 4, 6, 4)
        self.grid.setHorizontalSpacing(10)
        self.grid.setVerticalSpacing(2)
        self.grid.setColumnStretch(1, 1)
        self.grid.setColumnStretch(2, 1)
        self.warnings = QLabel("")
        self.warnings.setWordWrap(True)
        self.warnings.setTextFormat(Qt.TextFormat.PlainText)
        self.warnings.setStyleSheet("color: #ffb300")
        self.messages = QLabel("")
        self.messages.setWordWrap(True)
        self.messages.setTextFormat(Qt.TextFormat.PlainText)
        self._rows: list[ResultRow] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.warnings)
        layout.addWidget(self.grid_box)
        layout.addWidget(self.messages)
        self.clear()

    def _clear_grid(self) -> None:
        while self.grid.count():
            widget = self.grid.takeAt(0).widget()
            if widget is not None:  # hidden at once: deleteLater waits for the event loop to come round
                widget.hide()
                widget.deleteLater()

    def clear(self, text: str = "") -> None:
        self.title.setText(html.escape(text))
        self._rows = []
        self._clear_grid()
        self.messages.setText("")
        self.warnings.setText("")
        self.warnings.setVisible(False)
        self.grid_box.setVisible(False)

    def show_result(self, title: str, rows: list[ResultRow], messages: list[str], note: str = "",
                    warnings: list[str] | tuple[str, ...] = ()) -> None:
        """The result: ``warnings`` above the grid (⚠), ``messages`` (the checks) and ``note`` under it."""
        self.title.setText(title)
        self.warnings.setText("\n".join(f"{WARN} {w}" for w in warnings))
        self.warnings.setVisible(bool(warnings))
        self._rows = list(rows)
        self._clear_grid()
        for column, heading in enumerate(COLUMNS):
            label = QLabel(f"<b>{heading}</b>" if heading else "")
            if column in (1, 2):
                label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.grid.addWidget(label, 0, column)
        tip = "\n".join([*warnings, *messages])
        line = 1
        for row in rows:
            self.grid.addWidget(_plain(row.quantity), line, 0)
            if row.quantity == SITE:  # two lines over both value columns: phrases are long
                self.grid.addWidget(_wrapped(f"lesion: {row.measured}" if row.measured else ""), line, 1, 1, 2)
                self.grid.addWidget(_wrapped(f"sentence: {row.stated}" if row.stated else ""), line + 1, 1, 1, 2)
            else:
                for column, value in ((1, row.measured), (2, row.stated)):
                    label = _plain(value)
                    label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    self.grid.addWidget(label, line, column)
            mark = _plain(row.mark)
            if row.mark:
                mark.setStyleSheet(f"color: {'#4caf50' if row.mark == OK else '#ffb300'}; font-weight: bold")
                mark.setToolTip(tip or ("agrees with the sentence" if row.mark == OK else ""))
            self.grid.addWidget(mark, line, 3)
            line += 2 if row.quantity == SITE else 1
        self.grid_box.setVisible(True)
        lines = [f"• {m}" for m in messages]
        if note:
            lines.append(note)
        self.messages.setText("\n".join(lines))

    def marks(self) -> dict[str, str]:
        """Quantity -> mark as shown (for tests and the guide)."""
        return {row.quantity: row.mark for row in self._rows}

    def values(self) -> dict[str, str]:
        """Quantity -> measured value as shown."""
        return {row.quantity: row.measured for row in self._rows}

    def cells(self) -> list[QLabel]:
        """The grid's labels (heading included), for checking that each is shown whole."""
        return [w for w in self.grid_box.findChildren(QLabel) if w.isVisibleTo(self.grid_box)]

    def text(self) -> str:
        """Everything written under the title: warnings, the checks and the note."""
        return "\n".join(t for t in (self.warnings.text(), self.messages.text()) if t)


def _plain(value: str) -> QLabel:
    label = QLabel(value)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


def _wrapped(value: str) -> QLabel:
    label = _plain(value)
    label.setWordWrap(True)
    return label


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
