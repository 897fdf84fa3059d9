"""Accepted findings in the viewer: the "findings" Labels layer, its records, the table, save and load.

The layer holds the voxels, the study session's :class:`~napari_petground.findings.FindingsStore` the
sentences (so the describe panel and the npe2 writer see the same records). Every write to the layer
(accept, load) goes through ``Labels.data_setitem``, so napari's Ctrl+Z / Ctrl+Shift+Z undo and redo them; the
table is rebuilt from the layer whenever it changes (edits, undo, redo), so it always shows what the layer
holds.
"""

from __future__ import annotations

import logging
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from qtpy.QtCore import QTimer, Signal
from qtpy.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ..errors import PetGroundError
from ..findings import FindingRecord, FindingRow, lesion_stats, load_findings, save_findings
from ..report.finding import Finding
from ..session import StudySession
from ..wording import plural
from .findings_table import FindingsTable
from .grounding_layers import FINDINGS, ensure_findings_layer, jump_to, role_layer, write_finding

if TYPE_CHECKING:
    import napari

log = logging.getLogger(__name__)
REFRESH_MS = 150  # coalesce bursts of layer events (a brush stroke, an undo) into one table rebuild


def accept_finding(viewer: napari.Viewer, session: StudySession, mask: np.ndarray, finding: Finding, *,
                   edited: bool, agreement: dict, model: dict) -> FindingRecord | None:
    """Write ``mask`` into the session's findings layer under a new label id (one undoable step) and record
    its finding in the session's store; None when every voxel already belongs to an earlier finding."""
    from napari.utils.notifications import show_warning

    layer = ensure_findings_layer(viewer, session)
    store = session.findings
    label = store.next_label(np.asarray(layer.data))
    written, kept = write_finding(layer, mask, label)
    if not written.any():
        show_warning("Every voxel of this prediction already belongs to an accepted finding; nothing added.")
        return None
    if kept:
        show_warning(f"{kept} voxels already belonged to an earlier finding and stay with it.")
    record = FindingRecord(label, finding.sentence, finding, lesion_stats(session.study, written), edited=edited,
                           agreement=agreement, model=model)
    store.add(record)
    viewer.layers.selection.active = layer  # Ctrl+Z now takes this accept back
    return record


class FindingsPanel(QWidget):
    """Table of accepted findings with Save… / Load… for the viewer's current study."""

    changed = Signal()  # the rows were rebuilt

    def __init__(self, viewer: napari.Viewer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._viewer = viewer
        self._watched: weakref.WeakSet = weakref.WeakSet()  # findings layers whose edits rebuild the table
        self._rows: list[FindingRow] = []
        self.table = FindingsTable()
        self.table.label_activated.connect(self.go_to)
        self.save_button = QPushButton("Save findings…")
        self.save_button.setToolTip("NIfTI (.nii.gz) or DICOM SEG (.dcm) + a JSON sidecar with the sentences")
        self.load_button = QPushButton("Load findings…")
        self.save_button.clicked.connect(self._save_dialog)
        self.load_button.clicked.connect(self._load_dialog)
        self.summary = QLabel("No accepted findings yet.")
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.load_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self._session: StudySession | None = None

    # -- model -------------------------------------------------------------------------------------------
    @property
    def session(self) -> StudySession | None:
        return self._session

    def layer(self, session: StudySession | None = None):
        session = session or self._session
        return role_layer(self._viewer, session, FINDINGS) if session is not None else None

    @property
    def rows(self) -> list[FindingRow]:
        return list(self._rows)

    def set_session(self, session: StudySession | None) -> None:
        self._session = session
        self._watch(self.layer())
        self.refresh()

    def accepted_findings(self) -> list[FindingRecord]:
        """Records whose label is in the layer (as of the last rebuild of the table)."""
        return [row.record for row in self._rows if row.record is not None]

    # -- actions -----------------------------------------------------------------------------------------
    def accept(self, session: StudySession, mask: np.ndarray, finding: Finding, *, edited: bool, agreement: dict,
               model: dict) -> FindingRecord | None:
        """Write ``mask`` as a new finding (one undoable step) and record its finding; None if nothing new."""
        if session is not self._session:
            self.set_session(session)
        record = accept_finding(self._viewer, session, mask, finding, edited=edited, agreement=agreement,
                                model=model)
        self._watch(self.layer())
        self.refresh()
        return record

    def save_to(self, path: str | Path, extra: dict | None = None) -> list[Path]:
        """Save the current study's findings (labels file + sidecar); PetGroundError on a user mistake."""
        session, layer = self._session, self.layer()
        if session is None or layer is None or not np.any(layer.data):
            raise PetGroundError("there are no accepted findings to save; accept a grounding first")
        return save_findings(path, np.asarray(layer.data), session.study, session.findings.records, extra=extra)

    def load_from(self, path: str | Path) -> list[str]:
        """Add findings saved before into the layer (one undoable step; accepted voxels are kept); notes."""
        session = self._session
        if session is None:
            raise PetGroundError("open the PET/CT study the findings belong to first")
        loaded = load_findings(path, session.study)
        store = session.findings
        layer = ensure_findings_layer(self._viewer, session)
        self._watch(layer)
        relabelled, _added = store.absorb(loaded.labels, loaded.records)
        data = np.asarray(layer.data)
        if relabelled.size and int(relabelled.max()) > np.iinfo(data.dtype).max:
            raise PetGroundError(f"{Path(path).name} holds label ids too large for the findings layer")
        target = (relabelled > 0) & (data == 0)
        notes = list(loaded.notes)
        clashes = int(np.count_nonzero((relabelled > 0) & (data != 0)))
        if clashes:
            notes.append(f"{clashes} loaded voxels overlap findings accepted here and were left to those")
        index = np.nonzero(target)
        layer.data_setitem(index, relabelled[index].astype(data.dtype))
        self._viewer.layers.selection.active = layer
        self.refresh()
        return notes

    def go_to(self, label: int) -> None:
        for row in self._rows:
            if row.label == label and self._session is not None:
                jump_to(self._viewer, self._session.study, row.stats.peak_index)

    # -- table -------------------------------------------------------------------------------------------
    def _watch(self, layer) -> None:
        if layer is None or layer in self._watched:
            return
        self._watched.add(layer)
        layer.events.paint.connect(self._schedule)
        layer.events.set_data.connect(self._schedule)
        layer.events.data.connect(self._schedule)

    def _schedule(self, *_args: Any) -> None:
        self._timer.start()

    def refresh(self) -> None:
        """Rebuild the rows from the layer (what is in it now, with the sentences of the store)."""
        self._timer.stop()
        layer, session = self.layer(), self._session
        if layer is None or session is None:
            self._rows = []
        else:
            self._rows = session.findings.rows(session.study, np.asarray(layer.data))
        self.table.set_rows(self._rows)
        count = len(self._rows)
        self.summary.setText(f"{count} accepted finding{'s' if count != 1 else ''}." if count
                             else "No accepted findings yet.")
        self.save_button.setEnabled(count > 0)
        self.changed.emit()

    # -- dialogs -----------------------------------------------------------------------------------------
    def _save_dialog(self) -> None:
        from napari.utils.notifications import show_error, show_info

        if self._session is None:
            return
        study = self._session.study
        nifti, seg = "NIfTI + JSON (*.nii.gz)", "DICOM SEG + JSON (*.dcm)"
        dicom = study.source_kind == "dicom"  # DICOM SEG only references a DICOM PET series
        suggested = f"{study.name}_findings" + (".dcm" if dicom else ".nii.gz")
        filters = f"{seg};;{nifti}" if dicom else nifti
        path, chosen = QFileDialog.getSaveFileName(self, "Save findings", suggested, filters)
        if not path:
            return
        if "dcm" in chosen and not path.lower().endswith(".dcm"):
            path += ".dcm"
        elif "nii" in chosen and not path.lower().endswith((".nii", ".nii.gz")):
            path += ".nii.gz"
        try:
            written = self.save_to(path)
        except PetGroundError as exc:
            show_error(str(exc))
            return
        show_info(f"Saved {plural(len(self._rows), 'finding')}: " + ", ".join(p.name for p in written))

    def _load_dialog(self) -> None:
        from napari.utils.notifications import show_error, show_info, show_warning

        path, _ = QFileDialog.getOpenFileName(self, "Load findings", "", "Findings (*.nii.gz *.nii *.dcm)")
        if not path:
            return
        try:
            notes = self.load_from(path)
        except PetGroundError as exc:
            show_error(str(exc))
            return
        for note in notes:
            show_warning(note)
        show_info(f"Loaded findings from {Path(path).name}")
