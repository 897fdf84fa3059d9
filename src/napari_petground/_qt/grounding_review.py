"""Reviewing one grounding: the cyan prediction layer, its statistics, Accept / Reject, accepted findings.

The shown result is painted into the "prediction" Labels layer; the user may edit it with napari's paint /
erase / fill tools (the statistics follow the edits). The result and the accepted findings are two tabs, so
each has the dock's height on a laptop screen; the result scrolls rather than squeezing its rows, and
Accept / Reject stay in view below it. Accept writes the mask as it is now into the "findings"
layer (one napari undo step, see findings_panel); Reject drops it. Showing a result moves the view to the
lesion in short steps, one per event-loop turn, so the viewer never freezes for long.
"""

from __future__ import annotations

import html
import logging
import weakref
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from qtpy.QtCore import Qt, QTimer, Signal
from qtpy.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..findings import lesion_stats
from ..report.finding import Finding
from ..session import StudySession
from ..weaklabel.agreement import Agreement
from ..weaklabel.components import ComponentStats
from .findings_panel import FindingsPanel
from .grounding_layers import (
    PREDICTION,
    centre_camera,
    ensure_prediction_layer,
    role_layer,
    show_mask,
    slice_point,
)
from .grounding_result import (
    ACCEPTED,
    REJECTED,
    GroundingResult,
    ResultPanel,
    agreement_dict,
    agreement_messages,
    result_rows,
)

if TYPE_CHECKING:
    import napari

log = logging.getLogger(__name__)

ACCEPT_KEY, REJECT_KEY = "a", "r"
NO_RESULT = ("No result on screen. Ground a finding, or double-click a done one in the list, to see its lesion "
             "outlined and its numbers checked here.")


def recheck(stats: ComponentStats, finding: Finding | None) -> Agreement | None:
    """The number/side check of an edited mask (the rule the model's choice uses), None without a finding."""
    from ..weaklabel.agreement import check_agreement

    return check_agreement(stats, finding) if finding is not None else None


EDIT_REFRESH_MS = 200


def scrolling(widget: QWidget) -> QScrollArea:
    """``widget`` in a frameless vertical scroll area: given less height than it needs, it scrolls instead of
    squeezing its rows into each other; it always gets the area's full width (no horizontal scrolling)."""
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return area


def stacked(*widgets: QWidget) -> QWidget:
    """``widgets`` one under the other without margins, the last one taking the height left."""
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    for index, widget in enumerate(widgets):
        layout.addWidget(widget, 1 if index == len(widgets) - 1 else 0)
    return box


class ViewerKeys:
    """Keys bound on the viewer while a dock is open (``a`` accept, ``r`` reject), given back to what they did
    before on :meth:`release`."""

    def __init__(self, viewer: napari.Viewer, actions: dict[str, Callable[..., Any]]) -> None:
        self.viewer = viewer
        self._previous = {key: viewer.bind_key(key, action, overwrite=True) for key, action in actions.items()}

    @property
    def bound(self) -> bool:
        return bool(self._previous)

    def release(self) -> None:
        for key, previous in self._previous.items():
            try:
                self.viewer.bind_key(key, previous, overwrite=True)
            except (KeyError, ValueError, TypeError):
                log.debug("could not restore key %s", key)
        self._previous.clear()


class ReviewPane(QWidget):
    """Result, Accept / Reject and the accepted findings; ``reviewed`` (GroundingResult) after an accept or
    reject."""

    reviewed = Signal(object)

    def __init__(self, viewer: napari.Viewer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = viewer
        self._shown: GroundingResult | None = None
        self._session: StudySession | None = None  # the study of the shown result
        self._watched: weakref.WeakSet = weakref.WeakSet()
        self._steps: deque[Callable[[], Any]] = deque()
        self.result = ResultPanel()
        self.accept_button = QPushButton(f"Accept ({ACCEPT_KEY})")
        self.reject_button = QPushButton(f"Reject ({REJECT_KEY})")
        self.edit_hint = QLabel("Edit the cyan prediction with the paint / erase / fill tools, then accept.")
        self.edit_hint.setWordWrap(True)
        self.findings_panel = FindingsPanel(viewer)

        shown = QWidget()
        shown_layout = QVBoxLayout(shown)
        shown_layout.setContentsMargins(4, 4, 4, 4)
        shown_layout.addWidget(self.result)
        shown_layout.addWidget(self.edit_hint)
        shown_layout.addStretch(1)
        decide = QHBoxLayout()
        decide.addWidget(self.accept_button)
        decide.addWidget(self.reject_button)
        result_page = QWidget()
        page_layout = QVBoxLayout(result_page)
        page_layout.setContentsMargins(0, 0, 0, 0)
        page_layout.addWidget(scrolling(shown), 1)
        page_layout.addLayout(decide)
        self.tabs = QTabWidget()
        self.tabs.addTab(result_page, "Result")
        self.tabs.addTab(self.findings_panel, "Accepted findings")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)
        self.findings_panel.changed.connect(self._count_accepted)

        self.accept_button.clicked.connect(self.accept)
        self.reject_button.clicked.connect(self.reject)
        self._step_timer = self._timer(0, self._run_step)
        self._edit_timer = self._timer(EDIT_REFRESH_MS, self._prediction_edited)
        self._set_enabled(False)
        self.result.clear(NO_RESULT)

    def _count_accepted(self) -> None:
        count = len(self.findings_panel.rows)
        self.tabs.setTabText(1, f"Accepted findings ({count})" if count else "Accepted findings")

    def _timer(self, interval: int, slot: Callable[[], Any]) -> QTimer:
        timer = QTimer(self)
        timer.setSingleShot(True)
        timer.setInterval(interval)
        timer.timeout.connect(slot)
        return timer

    # -- state -------------------------------------------------------------------------------------------
    @property
    def shown(self) -> GroundingResult | None:
        return self._shown

    @property
    def settled(self) -> bool:
        """No display step waiting (the view shows the current result)."""
        return not self._steps

    def forget(self, message: str) -> None:
        """The shown result is gone (its layer was deleted)."""
        self._shown = self._session = None
        self._set_enabled(False)
        self.result.clear(message)

    # -- display -----------------------------------------------------------------------------------------
    def display(self, entry: GroundingResult, session: StudySession, *, activate: bool) -> None:
        """Show ``entry`` (a result of ``session``) as the prediction; select that layer (``activate``) and go
        to the lesion."""
        study = session.study
        layer = ensure_prediction_layer(self.viewer, session)
        if layer not in self._watched:
            self._watched.add(layer)
            layer.events.paint.connect(lambda *_: self._edit_timer.start())
        show_mask(layer, entry.mask)
        self._shown, self._session = entry, session
        self.tabs.setCurrentIndex(0)
        self._show_stats(entry, entry.stats, entry.agreement)
        self._set_enabled(True)
        if activate:
            self._later(lambda: self._activate(entry, layer))
        # a slice change re-slices every layer (napari's own cost); the camera follows in the next turn
        peak = entry.stats.peak_index
        self._later(lambda: self._go_to_slice(entry, peak))
        self._later(lambda: self._shown is entry and centre_camera(self.viewer, study, peak))

    def _activate(self, entry: GroundingResult, layer) -> None:
        if self._shown is entry and self.viewer.layers.selection.active is not layer:
            self.viewer.layers.selection.active = layer

    def _go_to_slice(self, entry: GroundingResult, peak) -> None:
        if self._shown is entry and self._session is not None and self.viewer.dims.ndim >= 3:
            axes, values = slice_point(self.viewer, self._session.study, peak)
            if axes and not np.allclose([self.viewer.dims.point[a] for a in axes], values):
                self.viewer.dims.set_point(axes, values)

    def _later(self, step: Callable[[], Any]) -> None:
        """Run ``step`` in a coming event-loop turn, one step per turn, so no turn takes long."""
        self._steps.append(step)
        self._step_timer.start()

    def _run_step(self) -> None:
        if self._steps:
            self._steps.popleft()()
        if self._steps:
            self._step_timer.start()

    def _show_stats(self, entry: GroundingResult, stats: ComponentStats, agreement: Agreement | None,
                    note: str = "", site: bool = True) -> None:
        """The table; ``site`` False after an edit (the site check described the model's mask, not yours)."""
        consistency = entry.consistency if site else None
        rows = result_rows(stats, entry.finding, agreement, described=entry.described if site else "",
                           consistency=consistency)
        site_note = [f"Site: {consistency[1]}"] if consistency is not None and not consistency[0] else []
        self.result.show_result(f"<b>{html.escape(entry.sentence)}</b>", rows, agreement_messages(agreement),
                                note, warnings=site_note + entry.flags)

    def _prediction_layer(self):
        return role_layer(self.viewer, self._session, PREDICTION) if self._shown and self._session else None

    def _prediction_edited(self) -> None:
        """Statistics of the prediction as painted now; the model's agreement marks no longer apply."""
        entry, layer = self._shown, self._prediction_layer()
        if entry is None or layer is None:
            return
        mask = np.asarray(layer.data) > 0
        if not mask.any():
            self.result.clear("The prediction is empty: paint the lesion or reject.")
            return
        stats = lesion_stats(self._session.study, mask)
        self._show_stats(entry, stats, recheck(stats, entry.finding),
                         note="Edited: statistics and checks of your mask.", site=False)

    # -- decisions ---------------------------------------------------------------------------------------
    def accept(self) -> None:
        """Move the shown prediction (as edited) into the findings layer under a new label id."""
        from napari.utils.notifications import show_info, show_warning

        entry, layer = self._shown, self._prediction_layer()
        if entry is None or layer is None:
            show_info("Nothing to accept: ground a finding first.")
            return
        mask = np.asarray(layer.data) > 0
        if not mask.any():
            show_warning("The prediction is empty: paint the lesion (p) or reject it (r).")
            return
        session = self._session
        edited = not np.array_equal(mask, entry.mask)
        agreement = recheck(lesion_stats(session.study, mask), entry.finding) if edited else entry.agreement
        record = self.findings_panel.accept(session, mask, entry.finding, edited=edited,
                                            agreement=agreement_dict(agreement), model=entry.model)
        if record is None:
            return
        session.set_status(entry, ACCEPTED)
        self._finish(f"Accepted as finding {record.label}. Ctrl+Z on the findings layer takes it back.")

    def reject(self) -> None:
        from napari.utils.notifications import show_info

        if self._shown is None:
            show_info("Nothing to reject: ground a finding first.")
            return
        self._session.set_status(self._shown, REJECTED)
        self._finish("Rejected.")

    def _finish(self, message: str) -> None:
        entry, layer = self._shown, self._prediction_layer()
        if layer is not None:
            show_mask(layer, None)
        self._shown = self._session = None  # nothing here keeps a closed study alive
        self._set_enabled(False)
        self.result.clear(message)
        self.reviewed.emit(entry)

    def _set_enabled(self, enabled: bool) -> None:
        self.accept_button.setEnabled(enabled)
        self.reject_button.setEnabled(enabled)
        self.edit_hint.setVisible(enabled)
