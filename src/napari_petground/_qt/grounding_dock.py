"""Ground a report finding in the viewer: type or paste, see the lesion highlighted, accept, edit or reject.

``GroundingDock(napari_viewer)`` works on the StudySession of the viewer's PET/CT layers (session.session_of):
the findings it lists are grounded one by one (the Finding picked, not its sentence, goes to the model), their
results and the accepted findings are kept in the session, where the describe panel and the writer find them.
The text box takes a sentence or a whole report (the study's report fills it; typing over it keeps the study's
report, which **Restore the study's report** brings back, see grounding_input); the report's findings are
listed with their numbers highlighted. **Ground** (Ctrl+Enter) grounds the selected or only finding, **Ground
all** queues every finding. The model runs in a napari thread worker (see grounding_runner: requests queue,
Cancel stops the running one and empties the queue); each row of the list says whether its finding is queued,
running (with its percentage), done or failed, and a done one can be reviewed while the rest run. Above the
result, the report's image number of the slice on screen and "go to image N" (grounding_image).

The dock is a vertical splitter (text, findings, result; grounding_layout) whose parts scroll rather than
squeeze, so nothing is cut on a 1366 × 768 screen; the result and the accepted findings are two tabs. Each
result is shown as the cyan "prediction" Labels layer with its statistics; edit it with napari's paint / erase
/ fill tools, then **Accept** (key ``a``) to move it into the "findings" layer under a new label id, or
**Reject** (key ``r``). Accepting is one napari undo step (Ctrl+Z on the findings layer).

A short text is parsed at once; a long pasted report (more than SYNC_PARSE_CHARS characters) is parsed in a
napari thread worker (report_reader), so napari stays responsive, and its findings are listed when it is done
(Ground / Ground all pressed meanwhile act then). A number the parser refused as not a real value
(``Finding.refused``) is named in a warning when its finding is grounded.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from qtpy.QtCore import QSettings, QTimer
from qtpy.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ..errors import PetGroundError
from ..model.depth import DepthProfile
from ..report.finding import Finding
from ..session import StudySession, role_of
from ..study.study import Study
from .depth_strip import DepthStrip, PointedMoves
from .grounding_image import ImageNumberRow
from .grounding_input import Batch, InputPane
from .grounding_layers import (
    PREDICTION,
    ensure_findings_layer,
    ensure_prediction_layer,
    role_layer,
    session_in,
)
from .grounding_layout import DockSplitter
from .grounding_report import FindingsList
from .grounding_result import (
    ACCEPTED,
    FAILED,
    QUEUED,
    READY,
    RUNNING,
    GroundingResult,
    describe_failure,
    finding_key,
    not_found_reason,
    result_entry,
    row_status,
)
from .grounding_review import ACCEPT_KEY, REJECT_KEY, ReviewPane, ViewerKeys, stacked
from .grounding_runner import GrounderLoader, GroundingRequest, GroundingRunner, overall_fraction
from .grounding_settings import ModelPicker
from .report_reader import ReportReader, refused_message

if TYPE_CHECKING:
    import napari

    from ..model.grounder import Grounding

log = logging.getLogger(__name__)

LIST_HINT = "Double-click a finding to ground it or to see its result."


class GroundingDock(QWidget):
    """The grounding dock widget (npe2 widget contribution and ``petground view``)."""

    def __init__(self, napari_viewer: napari.Viewer, *, settings: QSettings | None = None,
                 loader: GrounderLoader | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = napari_viewer
        self.runner = GroundingRunner(loader, self)
        self._session: StudySession | None = None

        # text, buttons, progress and findings list
        self.input = InputPane()
        self.text = self.input.text
        self.ground_button = self.input.ground_button
        self.ground_all_button = self.input.ground_all_button
        self.cancel_button = self.input.cancel_button
        self.progress = self.input.progress
        self.stage = self.input.stage
        self.findings_list = FindingsList()
        self.list_hint = QLabel(LIST_HINT)
        self.list_hint.setWordWrap(True)
        self.model_picker = ModelPicker(settings)
        self.image_row = ImageNumberRow(napari_viewer)
        self._batch = Batch()
        self.pointed_moves = PointedMoves(napari_viewer)  # undone when a run finds nothing

        # result, review and accepted findings
        self.review = ReviewPane(napari_viewer)
        self.depth_strip = DepthStrip(napari_viewer)
        self.result = self.review.result
        self.findings_panel = self.review.findings_panel

        self._layout()
        self._parse_timer = QTimer(self)
        self._parse_timer.setSingleShot(True)
        self._parse_timer.setInterval(300)
        self._parse_timer.timeout.connect(self.parse_text)
        self.reader = ReportReader(lambda: (self.text.toPlainText(), self._tracer), self)
        self._connect()
        self.keys = ViewerKeys(napari_viewer, {ACCEPT_KEY: self._key_accept, REJECT_KEY: self._key_reject})
        self._sync_study()
        self.runner.warm_up()

    # -- layout and wiring -------------------------------------------------------------------------------
    def _layout(self) -> None:
        listing = stacked(self.list_hint, self.findings_list)
        reviewing = stacked(self.image_row, self.review)
        self.splitter = DockSplitter(self.input, listing, reviewing, self.findings_list, self.list_hint)
        column = QVBoxLayout()
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.splitter, 1)
        column.addWidget(self.model_picker)
        layout = QHBoxLayout(self)
        layout.addWidget(self.depth_strip)
        layout.addLayout(column, 1)
        self.setMinimumWidth(380)

    def _connect(self) -> None:
        self.ground_button.clicked.connect(self.ground)
        self.ground_all_button.clicked.connect(self.ground_all)
        self.cancel_button.clicked.connect(self.cancel)
        self.review.reviewed.connect(self._on_reviewed)
        self.text.textChanged.connect(self._parse_timer.start)
        self.text.textChanged.connect(self._show_source)
        self.input.restore_button.clicked.connect(self.restore_report)
        self.findings_list.activated_row.connect(self.open_row)
        self.text.submitted.connect(self.ground)
        self.model_picker.changed.connect(self.runner.forget_model)
        self.runner.started.connect(self._on_started)
        self.runner.progressed.connect(self._on_progress)
        self.runner.pointed.connect(self._on_pointed)
        self.runner.grounded.connect(self._on_grounded)
        self.runner.failed.connect(self._on_failed)
        self.runner.cancelled.connect(self._on_cancelled)
        self.runner.idle.connect(self._on_idle)
        self.findings_panel.changed.connect(self._refresh_statuses)
        self.reader.reading.connect(lambda: self.stage.setText("Reading the report…"))
        self.reader.listed.connect(self._list_findings)
        self.reader.failed.connect(self._on_read_failed)
        self.reader.done.connect(self._update_stage)
        self.viewer.layers.events.inserted.connect(self._sync_study)
        self.viewer.layers.events.removed.connect(self._on_layer_removed)

    def release(self) -> None:
        """Stop runs, give the keys back and stop following the viewer (the dock is closed or removed)."""
        self.runner.shutdown()
        self.reader.detach()
        self.image_row.release()
        self.keys.release()
        for emitter, slot in ((self.viewer.layers.events.inserted, self._sync_study),
                              (self.viewer.layers.events.removed, self._on_layer_removed)):
            emitter.disconnect(slot)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        self.release()
        super().closeEvent(event)

    def _detached(self) -> bool:
        """True once napari has removed the dock (its widget is left without a parent, never shown)."""
        if self.parent() is None and not self.isVisible() and self.keys.bound:
            self.release()
            return True
        return False

    def _key_accept(self, _viewer=None) -> None:
        if not self._detached():
            self.accept()

    def _key_reject(self, _viewer=None) -> None:
        if not self._detached():
            self.reject()

    # -- study and text ----------------------------------------------------------------------------------
    @property
    def session(self) -> StudySession | None:
        return self._session

    @property
    def study(self) -> Study | None:
        return self._session.study if self._session is not None else None

    @property
    def _tracer(self) -> str:
        return self._session.study.tracer if self._session is not None else ""

    def _sync_study(self, *_args) -> None:
        session = session_in(self.viewer)
        if session is self._session:
            return
        self._session = session  # results and accepted findings live in the session, not here
        if session is not None:  # made now, not during a run: adding a layer stalls the viewer for a moment
            active = self.viewer.layers.selection.active
            ensure_prediction_layer(self.viewer, session)
            ensure_findings_layer(self.viewer, session)
            if active is not None:
                self.viewer.layers.selection.active = active
        self.findings_panel.set_session(session)
        self.image_row.set_session(session)
        self.depth_strip.set_profile(None, session.study if session is not None else None)
        report = self.report
        if report and not self.text.toPlainText().strip():
            self.text.setPlainText(report)
            self.parse_text()
        self._show_source()

    @property
    def report(self) -> str:
        """The report that came with the study ("" without one); typing in the text box never changes it."""
        return (self._session.study.report or "") if self._session is not None else ""

    def restore_report(self) -> None:
        """Put the study's report back in the text box, as one edit that Ctrl+Z in the box takes back."""
        if self.report:
            self.input.replace_text(self.report)
            self.parse_text()

    def _show_source(self) -> None:
        self.input.show_source(self.report)

    def _on_layer_removed(self, event) -> None:
        if role_of(event.value) == PREDICTION and self.review.shown is not None:
            self.review.forget("The prediction layer was removed.")
        self._sync_study()
        self.findings_panel.refresh()

    def parse_text(self) -> list[Finding]:
        """Findings of the text box into the list (one row per finding, numbers highlighted).

        A long text is parsed in a thread worker (report_reader): until it is done this returns [] and the
        list keeps what it showed (``parsing`` is True); the list is filled when the worker returns."""
        self._parse_timer.stop()
        findings = self.reader.read()
        if findings is None:
            return []
        self._list_findings(findings)
        return findings

    @property
    def parsing(self) -> bool:
        """A long text is being parsed off the GUI thread."""
        return self.reader.busy

    def _list_findings(self, findings: list[Finding]) -> None:
        if [finding_key(f) for f in findings] != [finding_key(f) for f in self.findings_list.findings]:
            self.findings_list.set_findings(findings)
        self._refresh_statuses()

    def _on_read_failed(self, exc: BaseException) -> None:
        from napari.utils.notifications import show_error

        show_error(f"The report could not be read ({type(exc).__name__}: {exc}); its findings are not listed.")

    # -- grounding ---------------------------------------------------------------------------------------
    def ground(self) -> int:
        """Ground the selected findings, or the only / first one of the text; returns how many were queued."""
        from napari.utils.notifications import show_warning

        session = self._require_session()
        if session is None:
            return 0
        text = self.text.toPlainText().strip()
        if not text:
            show_warning("Type or paste a finding first, e.g. 'Right hilar node, SUVmax 12.3, image 145'.")
            return 0
        findings = self.parse_text()
        if not findings and self.parsing:
            self.reader.after(self.ground)  # grounded when the report has been read
            return 0
        if not findings:
            short = text if len(text) < 80 else text[:77] + "…"
            show_warning(f"No lesion finding in “{short}”: describe a lesion (site, side, SUVmax or image number).")
            return 0
        rows = self.findings_list.selected_rows() or [0]
        return sum(self._queue_row(session, row, show=True) for row in rows)

    def ground_all(self) -> int:
        """Queue every finding of the list that has no result yet; returns how many were queued."""
        session = self._require_session()
        if session is None:
            return 0
        if not self.parse_text() and self.parsing:
            self.reader.after(self.ground_all)  # queued when the report has been read
            return 0
        queued = 0
        for row, finding in enumerate(self.findings_list.findings):
            if session.result(finding) is None:
                queued += self._queue_row(session, row, show=queued == 0 and self.review.shown is None)
        if not queued:
            from napari.utils.notifications import show_info

            show_info("Every finding of the list has been grounded already.")
        return queued

    def open_row(self, row: int) -> None:
        """Show a grounded row's result again, or ground it."""
        findings = self.findings_list.findings
        if not 0 <= row < len(findings):
            return
        session = self._require_session()
        if session is None:
            return
        entry = session.result(findings[row])
        if entry is not None and entry.mask is not None:
            self.review.display(entry, session, activate=True)
        else:
            self._queue_row(session, row, show=True)

    def cancel(self) -> None:
        stopped = self.runner.cancel()
        if stopped:
            self.stage.setText("Cancelling…")

    def _require_session(self) -> StudySession | None:
        from napari.utils.notifications import show_error

        self._sync_study()
        if self._session is None:
            show_error("Open a PET/CT study first (File › Open, or File › Open Sample › Demo PET/CT).")
        return self._session

    def _queue_row(self, session: StudySession, row: int, *, show: bool) -> bool:
        finding = self.findings_list.findings[row]
        session.drop_result(finding)
        if finding.refused:
            from napari.utils.notifications import show_warning

            show_warning(refused_message(finding))
        request = GroundingRequest(session, finding, self.model_picker.checkpoint, self.model_picker.device,
                                   row, show)
        if not self.runner.busy:
            self._batch = Batch()
        if not self.runner.submit(request):
            return False
        self._batch.total += 1
        self._refresh_statuses()
        self._update_stage()
        return True

    def _row_of(self, request: GroundingRequest) -> int | None:
        key = finding_key(request.finding)
        for row, finding in enumerate(self.findings_list.findings):
            if finding_key(finding) == key:
                return row
        return None

    def _on_started(self, request: GroundingRequest) -> None:
        self.cancel_button.setEnabled(True)
        row = self._row_of(request)
        if row is not None:
            self.findings_list.set_status(row, RUNNING, "grounding…", "0%")
            self.findings_list.show_row(row)
        self.input.show_running(self._batch, "starting", 0.0)
        self._update_stage("starting")

    def _on_progress(self, request: GroundingRequest, stage: str, fraction: float) -> None:
        run_fraction = overall_fraction(stage, fraction)
        self.input.show_running(self._batch, stage, run_fraction)
        row = self._row_of(request)
        if row is not None:
            self.findings_list.set_status(row, RUNNING, f"grounding: {stage}", f"{run_fraction:.0%}")
        self._update_stage(f"{stage} {fraction:.0%}")

    def _on_pointed(self, request: GroundingRequest, profile: DepthProfile) -> None:
        """Where the sentence points (first from the location prior, then from the network's answer): fill
        the depth strip and, for a sentence without an image number whose result will be shown, move there
        before the mask is ready."""
        if request.session is not self._session or not request.show:
            return
        has_image = request.finding.slice is not None
        self.pointed_moves.show(request.id, self.depth_strip, request.session.study, profile, move=not has_image)

    def _restore_view(self, request: GroundingRequest) -> None:
        """A run that ends without a lesion to show: the view and the strip as before it (PointedMoves)."""
        if request.session is self._session:
            self.pointed_moves.undo(request.id, self.depth_strip)
        self.pointed_moves.forget(request.id)

    def _update_stage(self, text: str | None = None) -> None:
        waiting = len(self.runner.queued)
        if text is None:
            text = "running" if self.runner.busy else "Idle."
        self.stage.setText(text + (f" · {waiting} queued" if waiting else ""))
        batch = self._batch
        if self.runner.busy and batch.total > 1:
            self.list_hint.setText(f"{batch.finished} of {batch.total} done. Double-click a done one to review it.")
        else:
            self.list_hint.setText(LIST_HINT)

    def _finished_one(self) -> None:
        self._batch.finished += 1
        self._update_stage()

    def _on_grounded(self, request: GroundingRequest, grounding: Grounding) -> None:
        from napari.utils.notifications import show_warning

        self._finished_one()
        entry = result_entry(request.finding, grounding, str(request.checkpoint or "demo"), request.device)
        found = entry.mask is not None
        if not found:
            show_warning(f"No lesion found for “{request.sentence}”: {not_found_reason(entry)}.")
            self._restore_view(request)
        self.pointed_moves.forget(request.id)
        request.session.store_result(entry)
        if request.session is self._session and found and (request.show or self.review.shown is None):
            self.review.display(entry, request.session, activate=True)
        self._refresh_statuses()

    def _on_failed(self, request: GroundingRequest, exc: BaseException) -> None:
        from napari.utils.notifications import show_error

        self._finished_one()
        self._restore_view(request)
        row = self._row_of(request)
        if row is not None:
            self.findings_list.set_status(row, FAILED, str(exc))
        show_error(describe_failure(exc, request.device))
        if not isinstance(exc, PetGroundError | MemoryError):
            log.error("grounding failed", exc_info=(type(exc), exc, exc.__traceback__))

    def _on_cancelled(self, request: GroundingRequest) -> None:
        self._restore_view(request)
        row = self._row_of(request)
        if row is not None and self.findings_list.status(row) in (QUEUED, RUNNING):
            self.findings_list.set_status(row, "", "cancelled", "cancelled")

    def _on_idle(self) -> None:
        self.input.show_idle()
        self._batch = Batch()
        self._update_stage("Idle.")

    def _refresh_statuses(self) -> None:
        session = self._session
        accepted = {finding_key(r.finding) for r in self.findings_panel.accepted_findings() if r.finding}
        pending = [r for r in (self.runner.current, *self.runner.queued) if r is not None and r.session is session]
        running = {finding_key(r.finding) for r in pending[:1] if r is self.runner.current}
        waiting = {finding_key(r.finding) for r in pending} - running
        for row, finding in enumerate(self.findings_list.findings):
            key = finding_key(finding)
            entry = session.result(finding) if session is not None else None
            if entry is not None:  # accepted (or its accept undone) follows the findings layer
                if key in accepted:
                    session.set_status(entry, ACCEPTED)
                elif entry.status == ACCEPTED:
                    session.set_status(entry, READY)
            if self.findings_list.status(row) == FAILED and entry is None and key not in running | waiting:
                continue
            self.findings_list.set_status(row, *row_status(key, entry, accepted, running, waiting))

    # -- review ------------------------------------------------------------------------------------------
    def accept(self) -> None:
        """Accept the shown prediction (as edited) as a finding (key ``a``)."""
        self.review.accept()

    def reject(self) -> None:
        """Drop the shown prediction (key ``r``)."""
        self.review.reject()

    def _on_reviewed(self, _entry: GroundingResult) -> None:
        """After an accept or reject: update the list, show the next grounded finding waiting for review."""
        self._refresh_statuses()
        session = self._session
        pending = [e for e in session.results if e.status == READY and e.mask is not None] if session else []
        if pending:
            self.review.display(pending[0], session, activate=False)

    # -- reading state (tests, guide) --------------------------------------------------------------------
    @property
    def shown(self) -> GroundingResult | None:
        return self.review.shown

    @property
    def settled(self) -> bool:
        return self.review.settled

    def prediction_layer(self):
        return role_layer(self.viewer, self._session, PREDICTION) if self._session is not None else None

    def findings_layer(self):
        return self.findings_panel.layer()
