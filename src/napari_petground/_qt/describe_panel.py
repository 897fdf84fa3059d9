"""Describe the lesion you point at, and draft the findings paragraph of a study.

``DescribePanel(napari_viewer)``: **Describe** (key ``d``) names the lesion under the cursor — the label under
the cursor when the active layer is a Labels layer on the PET grid, otherwise the hot spot near the cursor,
grown into a mask (shown as the yellow "described" layer) — as an editable drafted sentence with the
site alternatives and their probabilities; clicking an alternative redrafts the sentence. **Describe label**
takes the selected label of the active Labels layer. **Draft findings** writes one sentence per accepted
finding (the "findings" layer), head to feet, keeping the site and side the reader accepted (the findings of
the study's session, as accepted, not re-read from label names) and the numbers measured on the accepted
voxels; both texts are editable and copyable. **Accept as finding** adds the described lesion to the
session's findings, as the grounding dock does. The model runs in a napari thread worker, loaded once (the
shipped demo checkpoint unless another is set); it describes from the study's encoder features that a
grounding with the same checkpoint and device already computed (model.features).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
from qtpy.QtCore import Qt, Signal
from qtpy.QtWidgets import (
    QApplication,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..errors import PetGroundError
from ..model.describe import (
    Description,
    adopt_finding,
    describe_labels,
    draft_findings,
    grow_from_click,
)
from ..report.finding import Finding
from ..session import StudySession, role_of, tag
from .findings_panel import accept_finding
from .grounding_layers import FINDINGS, role_layer, session_in

if TYPE_CHECKING:
    import napari

log = logging.getLogger(__name__)

DESCRIBE_KEY = "d"
DESCRIBED = "described"
DESCRIBED_COLOR = "#ffd60a"  # yellow contour: distinct from the cyan prediction


def default_describer(checkpoint: str | None):
    """The checkpoint's describer on the device the grounding dock uses by default (so a study grounded
    there is described from the same encoder features)."""
    from .grounding_runner import IMPORT_LOCK

    with IMPORT_LOCK:  # not while the grounding dock imports the same libraries in the background
        from ..model.describe import Describer
        from ..model.train import resolve_device

        return Describer.from_checkpoint(checkpoint, device=resolve_device("auto"))


class DescribePanel(QWidget):
    described = Signal(object)  # Description (also after choosing an alternative)
    drafted = Signal(str)  # the findings paragraph

    def __init__(self, napari_viewer: napari.Viewer, describer=None, *, checkpoint: str | None = None,
                 loader=default_describer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.checkpoint = checkpoint
        self._describer = describer
        self._loader = loader
        self._worker = None
        self._previous_key = None
        self.description: Description | None = None

        self.describe_button = QPushButton(f"Describe at cursor ({DESCRIBE_KEY})")
        self.describe_button.setToolTip("Point at a hot spot (or a label) in the view and press d")
        self.label_button = QPushButton("Describe label")
        self.label_button.setToolTip("Describe the selected label of the active Labels layer")
        self.status = QLabel("Point at a lesion and press d.")
        self.status.setWordWrap(True)
        self.sentence = QPlainTextEdit()
        self.sentence.setPlaceholderText("drafted sentence (editable)")
        self.sentence.setFixedHeight(self.fontMetrics().lineSpacing() * 3 + 12)
        self.numbers = QLabel("")
        self.numbers.setWordWrap(True)  # a narrow dock (a laptop screen) shows the side on a second line
        self.alternatives = QListWidget()
        self.alternatives.setMaximumHeight(80)
        self.alternatives.setToolTip("Other names for this lesion; click one to redraft the sentence")
        self.copy_button = QPushButton("Copy sentence")
        self.accept_button = QPushButton("Accept as finding")
        self.accept_button.setToolTip("Add the described lesion to the findings layer with the sentence as edited "
                                      "(Ctrl+Z on the findings layer takes it back)")
        self.accept_button.setEnabled(False)
        self.mask: np.ndarray | None = None  # the described lesion (PET grid)
        self.draft_button = QPushButton("Draft findings")
        self.draft_button.setToolTip("One sentence per accepted finding, head to feet")
        self.findings_text = QPlainTextEdit()
        self.findings_text.setPlaceholderText("findings paragraph (editable)")
        self.copy_findings_button = QPushButton("Copy findings")
        self._layout()
        self.describe_button.clicked.connect(self.describe_at_cursor)
        self.label_button.clicked.connect(self.describe_selected_label)
        self.alternatives.itemClicked.connect(self._choose_alternative)
        self.copy_button.clicked.connect(lambda: self._copy(self.sentence.toPlainText()))
        self.accept_button.clicked.connect(self.accept_as_finding)
        self.draft_button.clicked.connect(self.draft_findings)
        self.copy_findings_button.clicked.connect(lambda: self._copy(self.findings_text.toPlainText()))
        self._previous_key = self.viewer.bind_key(DESCRIBE_KEY, self._key_describe, overwrite=True)

    def _layout(self) -> None:
        layout = QVBoxLayout(self)
        buttons = QHBoxLayout()
        buttons.addWidget(self.describe_button)
        buttons.addWidget(self.label_button)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        lesion = QGroupBox("Lesion")
        box = QVBoxLayout(lesion)
        box.addWidget(self.sentence)
        box.addWidget(self.numbers)
        box.addWidget(QLabel("Alternatives:"))
        box.addWidget(self.alternatives)
        row = QHBoxLayout()
        row.addWidget(self.copy_button)
        row.addWidget(self.accept_button)
        box.addLayout(row)
        layout.addWidget(lesion)
        findings = QGroupBox("Findings")
        box = QVBoxLayout(findings)
        box.addWidget(self.draft_button)
        box.addWidget(self.findings_text, 1)
        box.addWidget(self.copy_findings_button)
        layout.addWidget(findings, 1)
        self.setMinimumWidth(320)

    # -- keys and lifetime -------------------------------------------------------------------------------
    def _key_describe(self, _viewer=None) -> None:
        self.describe_at_cursor()

    def release(self) -> None:
        """Give the key back (when the panel is closed)."""
        try:
            self.viewer.bind_key(DESCRIBE_KEY, self._previous_key, overwrite=True)
        except (KeyError, ValueError, TypeError):
            log.debug("could not restore key %s", DESCRIBE_KEY)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        self.release()
        super().closeEvent(event)

    def set_checkpoint(self, checkpoint: str | None) -> None:
        """Describe with another checkpoint (None = shipped demo); loaded at the next describe."""
        if checkpoint != self.checkpoint:
            self.checkpoint = checkpoint
            if self._worker is None:
                self._describer = None
            else:  # a describe is running with the old model: drop it when that one is done
                self._worker.finished.connect(lambda: setattr(self, "_describer", None))

    @property
    def busy(self) -> bool:
        return self._worker is not None

    # -- actions -----------------------------------------------------------------------------------------
    def describe_at_cursor(self) -> None:
        session = self._session()
        if session is None:
            return
        study = session.study
        position = np.asarray(self.viewer.cursor.position, dtype=float)
        if position.size < 3:
            self._warn("Open a 3D PET/CT study first.")
            return
        index = np.round(study.pet.world_to_index(position[-3:])).astype(int)
        layer = self.viewer.layers.selection.active
        if self._is_pet_labels(layer, session) and _inside(index, session):
            value = int(np.asarray(layer.data)[tuple(index)])
            if value:
                self.describe_mask(np.asarray(layer.data) == value, f"label {value} of {layer.name}")
                return
        if not _inside(index, session):
            self._warn("The cursor is outside the PET; point at a lesion in the view and press d.")
            return
        self._run(lambda d: self._grow_and_describe(d, session, index), f"hot spot at image "
                  f"{study.numbering.image_for_index(int(index[0]))}")

    def describe_selected_label(self) -> None:
        session = self._session()
        if session is None:
            return
        layer = self.viewer.layers.selection.active
        if not self._is_pet_labels(layer, session):
            self._warn("Select a Labels layer on the PET grid (e.g. findings or prediction) first.")
            return
        label = int(layer.selected_label)
        mask = np.asarray(layer.data) == label
        if not mask.any():
            self._warn(f"Label {label} of {layer.name} has no voxels; pick a label that is painted.")
            return
        self.describe_mask(mask, f"label {label} of {layer.name}")

    def describe_mask(self, mask: np.ndarray, what: str = "mask") -> None:
        session = self._session()
        if session is not None:
            self._run(lambda d: (d.describe(session, mask), np.asarray(mask, dtype=bool), False), what)

    def accept_as_finding(self):
        """Add the described lesion to the study's findings, under the sentence as edited, like a grounded
        finding (the session's findings: the grounding dock's table, the same undo, the same save)."""
        from ..report.parse import findings_in_sentence

        session = self._session()
        sentence = self.sentence.toPlainText().strip()
        if session is None or self.mask is None or not sentence:
            self._warn("Describe a lesion first (point at it and press d).")
            return None
        found = findings_in_sentence(sentence)
        finding = found[0] if found else Finding(sentence)
        finding.sentence = sentence
        record = accept_finding(self.viewer, session, self.mask, finding, edited=False, agreement={},
                                model={"method": "described", "checkpoint": str(self.checkpoint or "demo")})
        if record is not None:
            self.status.setText(f"Accepted as finding {record.label}. Ctrl+Z on the findings layer takes it back.")
        return record

    def draft_findings(self) -> None:
        session = self._session()
        if session is None:
            return
        layer = role_layer(self.viewer, session, FINDINGS)
        labels = None if layer is None else np.asarray(layer.data)
        if labels is None or not labels.any():
            self._warn("There are no accepted findings yet; accept a grounding first.")
            return
        findings = {r.label: r.finding for r in session.findings.records if r.finding is not None}

        def job(describer):
            descriptions = describe_labels(describer, session, labels)
            adopted = {k: adopt_finding(d, findings.get(k)) for k, d in descriptions.items()}
            return draft_findings(adopted)

        self._run(job, "accepted findings", on_done=self._show_paragraph)

    # -- worker ------------------------------------------------------------------------------------------
    def _describer_now(self):
        if self._describer is None:
            self._describer = self._loader(self.checkpoint)
        return self._describer

    @staticmethod
    def _grow_and_describe(describer, session: StudySession, index) -> tuple[Description, np.ndarray, bool]:
        grown = grow_from_click(session.study, index)
        return describer.describe(session, grown.mask), grown.mask, True

    def _run(self, job, what: str, on_done=None) -> None:
        from napari.qt.threading import create_worker

        if self._worker is not None:
            self.status.setText("Still describing; wait a moment.")
            return
        self.status.setText(f"Describing {what}…" if on_done is None else f"Drafting {what}…")
        self._set_enabled(False)
        worker = create_worker(lambda: job(self._describer_now()), _start_thread=False, _ignore_errors=True)
        worker.returned.connect(on_done or self._show_description)
        worker.errored.connect(self._on_error)
        worker.finished.connect(self._on_finished)
        self._worker = worker
        worker.start()

    def _on_finished(self) -> None:
        self._worker = None
        self._set_enabled(True)

    def _on_error(self, exc: BaseException) -> None:
        message = str(exc) if isinstance(exc, PetGroundError) else f"Describing failed: {exc}"
        if not isinstance(exc, PetGroundError):
            log.exception("describe failed", exc_info=exc)
        self.status.setText(message)
        self._warn(message)

    def _set_enabled(self, on: bool) -> None:
        for button in (self.describe_button, self.label_button, self.draft_button):
            button.setEnabled(on)
        self.accept_button.setEnabled(on and self.mask is not None)

    # -- results -----------------------------------------------------------------------------------------
    def _show_description(self, result) -> None:
        description, mask, grown = result
        session = self._session(quiet=True)
        if grown and session is not None:
            self._show_grown(session, mask)
        self.mask = mask
        self.set_description(description)

    def set_description(self, description: Description) -> None:
        self.description = description
        self.sentence.setPlainText(description.sentence)
        side = {"left": "left of the midline", "right": "right of the midline",
                "midline": "on the midline"}.get(description.body_side, "side not named")
        self.numbers.setText(f"SUVmax {description.suvmax:.1f} · image {description.image_number} · "
                             f"{description.volume_ml:.2f} ml · {side}")
        self.alternatives.clear()
        for alt in description.alternatives:
            item = QListWidgetItem(f"{alt.score:5.0%}  {alt.phrase}")
            item.setData(Qt.ItemDataRole.UserRole, (alt.site, alt.side))
            self.alternatives.addItem(item)
        self.status.setText(description.note or "Edit the sentence if needed, then copy it.")
        self.described.emit(description)

    def _choose_alternative(self, item: QListWidgetItem) -> None:
        if self.description is None:
            return
        site, side = item.data(Qt.ItemDataRole.UserRole)
        chosen = self.description.with_site(site, side or None)
        self.description = chosen
        self.sentence.setPlainText(chosen.sentence)
        self.described.emit(chosen)

    def _show_paragraph(self, text: str) -> None:
        self.findings_text.setPlainText(text)
        self.status.setText("Findings drafted head to feet; edit and copy.")
        self.drafted.emit(text)

    def _show_grown(self, session: StudySession, mask: np.ndarray) -> None:
        from napari.utils.colormaps import DirectLabelColormap

        layer = role_layer(self.viewer, session, DESCRIBED)
        data = np.asarray(mask, dtype=np.uint8)
        if layer is None:
            pet = session.study.pet
            colormap = DirectLabelColormap(color_dict={None: "transparent", 0: "transparent", 1: DESCRIBED_COLOR})
            layer = self.viewer.add_labels(data, name=DESCRIBED, colormap=colormap, opacity=0.9,
                                           scale=pet.spacing, translate=pet.origin,
                                           metadata={"petground": tag(session, DESCRIBED)})
            layer.contour = 1
        else:
            layer.data = data

    # -- helpers -----------------------------------------------------------------------------------------
    def _session(self, quiet: bool = False) -> StudySession | None:
        session = session_in(self.viewer)
        if session is None and not quiet:
            self._warn("Open a PET/CT study first (File > Open, or the demo sample).")
        return session

    @staticmethod
    def _is_pet_labels(layer, session: StudySession) -> bool:
        from napari.layers import Labels

        return (isinstance(layer, Labels) and role_of(layer) != DESCRIBED
                and tuple(layer.data.shape) == tuple(session.study.pet.shape))

    def _copy(self, text: str) -> None:
        QApplication.clipboard().setText(text)
        self.status.setText("Copied.")

    def _warn(self, message: str) -> None:
        from napari.utils.notifications import show_warning

        self.status.setText(message)
        show_warning(message)


def _inside(index: np.ndarray, session: StudySession) -> bool:
    return bool(np.all(index >= 0) and np.all(index < np.asarray(session.study.pet.shape)))
