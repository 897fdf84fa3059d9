"""The review dock: work through a dataset's weak labels, accepting, fixing, choosing or rejecting each.

Open a dataset folder with your name (both remembered in QSettings); the dock hands you the next free item
(resuming the one you held, or the one you were on), shows its sentence with the numbers highlighted, the
case's CT/PET, the weak mask as an editable Labels layer on the PET grid and, for ambiguous items, the
candidates. While you look, the next item's case is read in the background.

Keys (bound on the viewer while a dataset is open, given back on close): a accept, f save fix, r reject,
n next (an undecided item is skipped for later), p previous (your earlier decisions), 1–9 pick a candidate.
On the review layers themselves f and p replace napari's fill/paint shortcuts; paint is 2, fill 4, erase 1.
"""

from __future__ import annotations

import functools
import logging
import weakref
from pathlib import Path
from typing import TYPE_CHECKING

from qtpy.QtCore import QSettings, QTimer
from qtpy.QtWidgets import QFileDialog, QVBoxLayout, QWidget

from ..errors import PetGroundError, ReviewError
from ..review.queue import DEFAULT_LEASE_S, ReviewQueue
from ..review.records import ItemFilter, Lease
from ..review.text import highlight_html
from .review_layers import ReviewLayers
from .review_loader import ItemData, ReviewLoader
from .review_panel import ReviewPanel

if TYPE_CHECKING:
    import napari

log = logging.getLogger(__name__)

ORGANIZATION, APPLICATION = "napari-petground", "review"
LETTER_KEYS = ("a", "f", "r", "n", "p")


class ReviewDock(QWidget):
    """Dock widget of the weak-label review queue (npe2 widget contribution, ``petground review open``)."""

    def __init__(self, napari_viewer: napari.Viewer, *, settings: QSettings | None = None,
                 lease_seconds: float = DEFAULT_LEASE_S, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = napari_viewer
        self.settings = settings if settings is not None else QSettings(ORGANIZATION, APPLICATION)
        self.lease_seconds = lease_seconds
        self.queue: ReviewQueue | None = None
        self.loader: ReviewLoader | None = None
        self.layers = ReviewLayers(napari_viewer)
        self.lease: Lease | None = None
        self.data: ItemData | None = None
        self.item_id: str | None = None
        self.picked: int | None = None
        self._viewer_keys: dict[str, object] = {}
        self._keyed_layers: weakref.WeakSet = weakref.WeakSet()  # layers whose keymap holds the review keys
        self.panel = ReviewPanel(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.panel)
        p = self.panel
        p.folder_edit.setText(str(self.settings.value("dataset", "") or ""))
        p.annotator_edit.setText(str(self.settings.value("annotator", "") or ""))
        p.browse_button.clicked.connect(self._browse)
        p.open_button.clicked.connect(lambda: self.open_dataset())
        p.accept_button.clicked.connect(self.accept)
        p.fix_button.clicked.connect(self.save_fix)
        p.reject_button.clicked.connect(lambda: self.reject())
        p.skip_button.clicked.connect(self.skip)
        p.next_button.clicked.connect(self.next_item)
        p.prev_button.clicked.connect(self.previous_item)
        p.candidate_list.currentRowChanged.connect(lambda row: row >= 0 and self.pick_candidate(row))
        for combo in (p.status_combo, p.flag_combo, p.tracer_combo):
            combo.currentTextChanged.connect(lambda _t: self._update_progress())
        self._renew_timer = QTimer(self)
        self._renew_timer.setInterval(int(max(5.0, lease_seconds / 3) * 1000))
        self._renew_timer.timeout.connect(self._renew)
        self._set_enabled(False)
        self.destroyed.connect(functools.partial(_unbind, self.viewer, self._viewer_keys))

    # -- opening and closing --------------------------------------------------------------------------------
    @property
    def annotator(self) -> str:
        return self.panel.annotator_edit.text().strip()

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Dataset folder", self.panel.folder_edit.text())
        if folder:
            self.panel.folder_edit.setText(folder)

    def open_dataset(self, path: str | Path | None = None, annotator: str | None = None) -> bool:
        """Open a dataset's review queue (importing it the first time) and show the annotator's item."""
        if path is not None:
            self.panel.folder_edit.setText(str(path))
        if annotator is not None:
            self.panel.annotator_edit.setText(annotator)
        folder = self.panel.folder_edit.text().strip()
        if not self.annotator:
            return self._error("Type your name first: every decision records who made it.")
        self.close_review()
        try:
            self.queue = ReviewQueue(folder, lease_seconds=self.lease_seconds)
            if self.queue.counts()["total"] == 0:
                result = self.queue.import_dataset()
                self.panel.message(f"Imported {result.added} items to review.")
            reopened = self.queue.check_masks()
            self.loader = ReviewLoader(folder)
        except PetGroundError as exc:
            self.close_review()
            return self._error(str(exc))
        self.settings.setValue("dataset", folder)
        self.settings.setValue("annotator", self.annotator)
        self.panel.set_filter_values(self.queue.filter_values())
        if reopened:
            self.panel.message(f"{len(reopened)} fixed mask(s) went missing; those items are back in the queue "
                               "(flag mask_missing / mask_corrupt).", error=True)
        self._bind_keys()
        self._renew_timer.start()
        self._set_enabled(True)
        self._resume()
        return True

    def _resume(self) -> None:
        """The item this annotator holds, else the one they were on, else the next in the queue."""
        held = self.queue.held(self.annotator)
        if held is not None:
            self._show(held)
            return
        last = str(self.settings.value(self._last_key(), "") or "")
        if last:
            try:
                if not self.queue.item(last).done:
                    self._show(self.queue.claim_item(last, self.annotator))
                    return
            except ReviewError:
                pass
        self._claim_next()

    def _last_key(self) -> str:
        return f"last_item/{self.queue.root.resolve()}/{self.annotator}".replace("\\", "/")

    def close_review(self) -> None:
        """Give back the lease and the keys, close the database (the dock stays usable for another open)."""
        self._renew_timer.stop()
        _unbind(self.viewer, self._viewer_keys)
        if self.queue is not None:
            if self.lease is not None:
                try:
                    self.queue.release(self.lease)
                except PetGroundError as exc:
                    log.debug("releasing the lease failed: %s", exc)
            self.queue.close()
        if self.loader is not None:
            self.loader.close()
        self.queue = self.loader = self.lease = self.data = self.item_id = None
        self._set_enabled(False)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        self.close_review()
        super().closeEvent(event)

    # -- keys -----------------------------------------------------------------------------------------------
    def _actions(self) -> dict[str, object]:
        actions = {"a": self.accept, "f": self.save_fix, "r": self.reject, "n": self.next_item,
                   "p": self.previous_item}
        return {k: (lambda _target=None, f=f: f()) for k, f in actions.items()}

    def _digit_actions(self) -> dict[str, object]:
        return {str(j + 1): (lambda _target=None, j=j: self.pick_candidate(j)) for j in range(9)}

    def _bind_keys(self) -> None:
        """Keys on the viewer (remembering what they did before) and on the review layers."""
        for key, action in {**self._actions(), **self._digit_actions()}.items():
            if key not in self._viewer_keys:
                self._viewer_keys[key] = self.viewer.bind_key(key, action, overwrite=True)

    def _bind_layer_keys(self) -> None:
        for layer, actions in ((self.layers.mask, self._actions()),
                               (self.layers.candidates, {**self._actions(), **self._digit_actions()})):
            if layer is not None and layer not in self._keyed_layers:
                for key, action in actions.items():
                    layer.bind_key(key, action, overwrite=True)
                self._keyed_layers.add(layer)

    # -- showing --------------------------------------------------------------------------------------------
    def _filter(self) -> ItemFilter:
        p = self.panel
        return ItemFilter(status=p.filter_text(p.status_combo), flag=p.filter_text(p.flag_combo),
                          tracer=p.filter_text(p.tracer_combo))

    def _claim_next(self) -> None:
        lease = self.queue.claim(self.annotator, self._filter())
        if lease is None:
            self.lease = self.data = self.item_id = None
            self.panel.item_label.setText("Nothing left to review with this filter. Thank you!")
            self.panel.sentence_label.setText("")
            self._update_progress()
            return
        self._show(lease)

    def _show(self, lease: Lease) -> None:
        """Display the leased item (its case from the prefetch cache when possible)."""
        self.lease = lease
        self.item_id = lease.item_id
        item = self.queue.item(lease.item_id)
        self.picked = item.decision.candidate if item.decision and item.decision.action == "choose" else None
        try:
            self.data = self.loader.item(item)
        except PetGroundError as exc:  # images unreadable: the item can still be rejected or skipped
            self.data = None
            self.panel.show_item(item, highlight_html(item.sentence, item.finding.get("spans", {})), ["images"])
            self._error(f"{exc} — reject it (images unusable) or skip it.")
            self._update_progress()
            return
        self.panel.setUpdatesEnabled(False)  # one repaint of the dock at the end, not one per label
        try:
            self.layers.show_item(self.data)
            self._bind_layer_keys()
            if self.data.current is None and self.data.candidates is not None:
                self.viewer.layers.selection.active = self.layers.candidates  # digits pick candidates there
            self.panel.show_item(item, highlight_html(item.sentence, item.finding.get("spans", {})),
                                 self.data.problems)
            self.panel.candidate_list.blockSignals(True)
            self.panel.candidate_list.setCurrentRow(self.picked if self.picked is not None else -1)
            self.panel.candidate_list.blockSignals(False)
            self.panel.show_history(self.queue.history(item.item_id))
            self._update_progress()
        finally:
            self.panel.setUpdatesEnabled(True)
        self.settings.setValue(self._last_key(), item.item_id)
        self._prefetch_next()

    def _prefetch_next(self) -> None:
        try:
            upcoming = self.queue.peek(self._filter(), exclude=(self.item_id,) if self.item_id else ())
            if upcoming is not None:
                self.loader.prefetch(self.queue.item(upcoming))
        except PetGroundError as exc:
            log.debug("prefetch skipped: %s", exc)

    def _update_progress(self) -> None:
        if self.queue is None:
            return
        counts = self.queue.counts()
        filt = self._filter()
        filtered = None
        if filt != ItemFilter():
            fc = self.queue.counts(filt)
            filtered = (fc["done"], fc["total"])
        mine = self.queue.decided_by(self.annotator)
        self.panel.set_progress(counts["done"], counts["total"], mine, filtered)

    # -- decisions ------------------------------------------------------------------------------------------
    def _ready(self) -> bool:
        if self.queue is None:
            self._error("Open a dataset first.")
            return False
        if self.lease is None:
            self._error("No item on screen.")
            return False
        return True

    def _decide(self, what: str, decide) -> bool:
        """Run one decision under the lease (re-claiming it if it lapsed and nobody took it), then move on."""
        if not self._ready():
            return False
        try:
            if not self.queue.holds(self.lease):
                self.lease = self.queue.claim_item(self.lease.item_id, self.annotator)
            decision = decide(self.lease)
        except PetGroundError as exc:
            return self._error(str(exc))
        self.lease = None
        self.panel.note_edit.clear()
        self.panel.message(f"{decision.item_id}: {what}.")
        self._claim_next()
        return True

    def accept(self) -> bool:
        """The mask on screen is right: the weak mask, or the picked candidate."""
        if not self._ready() or self.data is None:
            return self._error("Nothing to accept here; reject or skip the item.") if self.queue else False
        if self.layers.edited():
            return self._error("You painted into the mask: press f to save it as a fix, or undo (Ctrl+Z) to "
                               "accept the weak mask as it was.")
        item, decision = self.data.item, self.data.item.decision
        if decision is not None and decision.action in ("fix", "choose") and decision.annotator == self.annotator \
                and self.picked == decision.candidate:
            if self.lease is not None:
                self.queue.release(self.lease)
            self.lease = None
            self.panel.message(f"{item.item_id}: kept your {decision.action}.")
            self._claim_next()
            return True
        if self.picked is not None:
            return self._decide(f"candidate {self.picked + 1} chosen",
                                lambda lease: self.queue.choose(lease, self.picked, self.panel.note_edit.text()))
        if item.label is None or self.data.weak is None:
            return self._error("This item has no weak mask: pick a candidate (1–9), or paint the lesion and "
                               "press f, or reject it.")
        return self._decide("accepted", lambda lease: self.queue.accept(lease, self.panel.note_edit.text()))

    def save_fix(self) -> bool:
        """Save the mask as painted (written durably before the decision is recorded)."""
        if not self._ready() or self.data is None:
            return False
        mask = self.layers.mask_data()
        if self.picked is not None and not self.layers.edited():
            return self.accept()
        weak = self.data.weak
        return self._decide("fix saved", lambda lease: self.queue.fix(lease, mask, self.panel.note_edit.text(),
                                                                      weak_mask=weak))

    def reject(self, reason: str | None = None, note: str | None = None) -> bool:
        """Reject for the reason chosen in the dock (or given), with the note typed there (or given)."""
        reason = reason or self.panel.reason_combo.currentData()
        note = self.panel.note_edit.text() if note is None else note
        return self._decide(f"rejected ({reason})", lambda lease: self.queue.reject(lease, reason, note))

    def skip(self) -> bool:
        return self._decide("skipped for later", lambda lease: self.queue.skip(lease, self.panel.note_edit.text()))

    def pick_candidate(self, j: int) -> bool:
        """Show candidate ``j`` (0-based) as the mask; accept (a) records the choice."""
        if self.data is None or self.data.candidates is None:
            return False
        if not 0 <= j < self.data.item.n_candidates:
            return self._error(f"There are {self.data.item.n_candidates} candidates.")
        self.picked = j
        mask = self.data.candidates == j + 1
        self.layers.set_mask(mask)
        self.layers.jump_to(mask)
        self.panel.candidate_list.blockSignals(True)
        self.panel.candidate_list.setCurrentRow(j)
        self.panel.candidate_list.blockSignals(False)
        self.panel.message(f"Candidate {j + 1} shown: a accepts it, f saves it after your edits.")
        return True

    # -- navigation -----------------------------------------------------------------------------------------
    def next_item(self) -> bool:
        """Next item: forward through your earlier decisions when browsing them, else the queue's next."""
        if self.queue is None:
            return False
        if self.layers.edited():
            return self._error("You painted into the mask: save it (f) or undo before moving on.")
        try:
            current = self.queue.item(self.item_id) if self.item_id else None
            if current is not None and current.done:
                trail = self.queue.annotator_trail(self.annotator)
                if current.item_id in trail and trail.index(current.item_id) < len(trail) - 1:
                    return self._open_item(trail[trail.index(current.item_id) + 1])
                if self.lease is not None:
                    self.queue.release(self.lease)
            elif current is not None and self.lease is not None:
                return self._decide("skipped for later", lambda lease: self.queue.skip(lease))
            self.lease = None
            self._claim_next()
        except PetGroundError as exc:
            return self._error(str(exc))
        return True

    def previous_item(self) -> bool:
        """Your previous decision (to look again or change it)."""
        if self.queue is None:
            return False
        trail = self.queue.annotator_trail(self.annotator)
        position = trail.index(self.item_id) - 1 if self.item_id in trail else len(trail) - 1
        if position < 0:
            return self._error("No earlier decision of yours.")
        if self.layers.edited():
            return self._error("You painted into the mask: save it (f) or undo before moving on.")
        return self._open_item(trail[position])

    def _open_item(self, item_id: str) -> bool:
        try:
            lease = self.queue.claim_item(item_id, self.annotator)  # releases the current one
        except PetGroundError as exc:
            return self._error(str(exc))
        self._show(lease)
        return True

    def _renew(self) -> None:
        if self.queue is None or self.lease is None:
            return
        try:
            self.lease = self.queue.renew(self.lease)
        except PetGroundError as exc:
            self.panel.message(f"{exc}", error=True)

    # -- helpers --------------------------------------------------------------------------------------------
    def _set_enabled(self, on: bool) -> None:
        p = self.panel
        for widget in (p.accept_button, p.fix_button, p.reject_button, p.skip_button, p.next_button,
                       p.prev_button, p.reason_combo, p.note_edit, p.status_combo, p.flag_combo, p.tracer_combo):
            widget.setEnabled(on)

    def _error(self, text: str) -> bool:
        self.panel.message(text, error=True)
        try:
            from napari.utils.notifications import show_warning

            show_warning(text)
        except Exception:  # noqa: BLE001 (notifications are a courtesy; the dock shows the message anyway)
            log.debug("notification failed", exc_info=True)
        return False


def _unbind(viewer, saved: dict) -> None:
    """Give the viewer's keys back as they were before the dock bound them."""
    for key, previous in list(saved.items()):
        try:
            viewer.bind_key(key, previous, overwrite=True)
        except (KeyError, ValueError, TypeError, RuntimeError):
            log.debug("could not restore key %s", key)
    saved.clear()


def open_review(dataset: str | Path, annotator: str = "") -> int:
    """A napari window with the review dock on ``dataset`` (``petground review open``)."""
    import napari

    viewer = napari.Viewer(title=f"Review - {Path(dataset).name}")
    dock = ReviewDock(viewer)
    viewer.window.add_dock_widget(dock, name="Review weak labels", area="right")
    dock.open_dataset(dataset, annotator or None)
    napari.run()
    return 0
