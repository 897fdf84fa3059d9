"""PET/CT display controls: how the PET shows (hot metal over CT, inverted grey PET alone), SUV window
(fixed 0-10, 0-SUVmax, custom), PET opacity, CT window (presets, numbers, or right-drag on the image),
side-by-side CT | PET | fused panels, a PET MIP view and a cursor read-out.

The dock finds the study through the layers' ``metadata["petground"]`` (the last study added wins), so it
works with studies opened by the reader, the CLI or the grounding dock. The read-out shows the report's
language at the cursor: "image N · SUV x.x · HU y", image N from the study's numbering of PET slices.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from ..study.layers import (
    DEFAULT_LOOK,
    PET_LOOKS,
    SUV_CUSTOM,
    SUV_WINDOWS,
    WINDOW_PRESETS,
    ct_contrast,
    suv_window,
)
from .display_panels import SideBySide, text_overlay_of, window_level_drag
from .grounding_layers import camera_of

if TYPE_CHECKING:
    import napari

    from ..study.study import Study

CUSTOM = "custom"
MIP_COLORMAP = "gray_r"


def study_layers_in(viewer: napari.Viewer) -> tuple[Study | None, object | None, object | None]:
    """(study, CT layer, PET layer) of the last study among the viewer's layers."""
    from ..session import role_of, session_of

    session = ct = pet = None
    for layer in viewer.layers:
        role = role_of(layer)
        if role not in ("ct", "pet") or session_of(layer) is None:
            continue
        if session_of(layer) is not session:
            session, ct, pet = session_of(layer), None, None
        if role == "ct":
            ct = layer
        else:
            pet = layer
    return (session.study if session is not None else None), ct, pet


def cursor_text(study: Study, position) -> str:
    """'image N · SUV x.x · HU y' at a world position (z, y, x mm); '' outside the PET."""
    position = np.asarray(position, dtype=float)[-3:]
    index = np.round(study.pet.world_to_index(position)).astype(int)
    if np.any(index < 0) or np.any(index >= np.asarray(study.pet.shape)):
        return ""
    value = float(study.pet.data[tuple(index)])
    unit = "SUV" if study.pet_is_suv else study.pet_units
    parts = [f"image {study.numbering.image_for_index(int(index[0]))}", f"{unit} {value:.1f}"]
    if study.ct is not None:
        ct_index = np.round(study.ct.world_to_index(position)).astype(int)
        if np.all(ct_index >= 0) and np.all(ct_index < np.asarray(study.ct.shape)):
            parts.append(f"HU {float(study.ct.data[tuple(ct_index)]):.0f}")
    return " · ".join(parts)


@dataclass
class _SavedView:
    """What the MIP view changes, to put it back."""

    ndisplay: int = 2
    camera: dict = field(default_factory=dict)
    pet: dict = field(default_factory=dict)
    ct_visible: bool = True


class DisplayDock(QWidget):
    """Dock widget with the PET/CT display controls for the study in ``napari_viewer``."""

    def __init__(self, napari_viewer: napari.Viewer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = napari_viewer
        self._saved: _SavedView | None = None
        self._updating = False

        self.look_combo = QComboBox()
        self.look_combo.addItems(list(PET_LOOKS))
        self.suv_combo = QComboBox()
        self.suv_combo.addItems(list(SUV_WINDOWS))
        self.window_combo = QComboBox()
        self.window_combo.addItems([*WINDOW_PRESETS, CUSTOM])
        self.width_spin = _spin(1.0, 5000.0, 400.0, 10.0, decimals=0)
        self.level_spin = _spin(-2000.0, 3000.0, 40.0, 10.0, decimals=0)
        self.suv_min = _spin(0.0, 1000.0, 0.0, 0.5)
        self.suv_max = _spin(0.1, 1000.0, 10.0, 0.5)
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(round(PET_LOOKS[DEFAULT_LOOK]["opacity"] * 100))
        self.panels_check = QCheckBox("Side by side: CT | PET | fused")
        self.panels = SideBySide(self.viewer)
        self.mip_check = QCheckBox("PET MIP (3D, coronal)")
        self.readout = QLabel("")
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.study_label = QLabel("no PET/CT study open")
        self.study_label.setWordWrap(True)

        form = QFormLayout()
        form.addRow("PET shown as", self.look_combo)
        form.addRow("SUV window", self.suv_combo)
        wl = QHBoxLayout()
        wl.addWidget(QLabel("W"))
        wl.addWidget(self.width_spin)
        wl.addWidget(QLabel("L"))
        wl.addWidget(self.level_spin)
        suv = QHBoxLayout()
        suv.addWidget(self.suv_min)
        suv.addWidget(QLabel("to"))
        suv.addWidget(self.suv_max)
        form.addRow("", suv)
        form.addRow("PET opacity", self.opacity_slider)
        form.addRow("CT window", self.window_combo)
        form.addRow("", wl)
        hint = QLabel("Right-drag on the image: CT window (left/right) and level (up/down).")
        hint.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.study_label)
        layout.addLayout(form)
        layout.addWidget(hint)
        layout.addWidget(self.panels_check)
        layout.addWidget(self.mip_check)
        layout.addWidget(self.readout)
        layout.addStretch(1)

        self.window_combo.currentTextChanged.connect(self._on_preset)
        self.width_spin.valueChanged.connect(self._on_custom_window)
        self.level_spin.valueChanged.connect(self._on_custom_window)
        self.suv_min.valueChanged.connect(self._on_suv_range)
        self.suv_max.valueChanged.connect(self._on_suv_range)
        self.opacity_slider.valueChanged.connect(self._on_opacity)
        self.mip_check.toggled.connect(self.set_mip)
        self.look_combo.currentTextChanged.connect(self.set_look)
        self.suv_combo.currentTextChanged.connect(self.set_suv_window)
        self.panels_check.toggled.connect(self.set_side_by_side)
        self._drag = window_level_drag(self.ct_window, self.set_ct_window)
        self.viewer.mouse_drag_callbacks.append(self._drag)
        self.viewer.layers.events.inserted.connect(self._sync_from_layers)
        self.viewer.layers.events.removed.connect(self._sync_from_layers)
        self.viewer.mouse_move_callbacks.append(self._on_mouse_move)
        self.destroyed.connect(self._disconnect)
        self._sync_from_layers()

    # -- layers ---------------------------------------------------------------------------------------------
    def layers(self):
        return study_layers_in(self.viewer)

    def _sync_from_layers(self, event=None) -> None:
        study, ct, pet = self.layers()
        if study is None:
            self.study_label.setText("no PET/CT study open")
            return
        units = "SUV" if study.pet_is_suv else f"{study.pet_units} (not SUV)"
        self.study_label.setText(f"{study.name}: {study.tracer or 'tracer unknown'}, PET in {units}"
                                 + ("" if ct is not None else ", no CT"))
        self._updating = True
        try:
            if ct is not None:
                low, high = (float(v) for v in ct.contrast_limits)
                self.width_spin.setValue(high - low)
                self.level_spin.setValue((high + low) / 2)
                self.window_combo.setCurrentText(_preset_for(high - low, (high + low) / 2))
            if pet is not None:
                low, high = (float(v) for v in pet.contrast_limits)
                self.suv_min.setValue(low)
                self.suv_max.setValue(high)
                self.suv_combo.setCurrentText(_suv_choice(study, (low, high)))
                self.suv_min.setEnabled(self.suv_combo.currentText() == SUV_CUSTOM)
                self.suv_max.setEnabled(self.suv_combo.currentText() == SUV_CUSTOM)
                self.opacity_slider.setValue(round(pet.opacity * 100))
        finally:
            self._updating = False

    # -- controls -------------------------------------------------------------------------------------------
    def _on_preset(self, name: str) -> None:
        if self._updating or name == CUSTOM:
            return
        width, level = WINDOW_PRESETS[name]
        self._updating = True
        self.width_spin.setValue(width)
        self.level_spin.setValue(level)
        self._updating = False
        self._apply_window(*ct_contrast(name))

    def _on_custom_window(self, _value=None) -> None:
        if self._updating:
            return
        width, level = self.width_spin.value(), self.level_spin.value()
        self._updating = True
        self.window_combo.setCurrentText(_preset_for(width, level))
        self._updating = False
        self._apply_window(level - width / 2, level + width / 2)

    def _apply_window(self, low: float, high: float) -> None:
        _study, ct, _pet = self.layers()
        if ct is not None:
            ct.contrast_limits_range = (min(low, ct.contrast_limits_range[0]), max(high, ct.contrast_limits_range[1]))
            ct.contrast_limits = (low, high)

    def _on_suv_range(self, _value=None) -> None:
        if self._updating:
            return
        _study, _ct, pet = self.layers()
        low, high = self.suv_min.value(), self.suv_max.value()
        if pet is not None and high > low:
            pet.contrast_limits_range = (min(low, pet.contrast_limits_range[0]),
                                         max(high, pet.contrast_limits_range[1]))
            pet.contrast_limits = (low, high)

    def _on_opacity(self, value: int) -> None:
        if self._updating:
            return
        _study, _ct, pet = self.layers()
        if pet is not None:
            pet.opacity = value / 100.0

    def set_look(self, name: str) -> None:
        """Hot metal over the CT, or the PET alone in inverted grey (PET_LOOKS)."""
        if self._updating or name not in PET_LOOKS:
            return
        _study, ct, pet = self.layers()
        if pet is None:
            return
        if self._saved is not None:
            self.set_mip(False)
        look = PET_LOOKS[name]
        pet.colormap = look["colormap"]
        pet.blending = look["blending"]
        pet.opacity = look["opacity"] if ct is not None else 1.0
        if ct is not None:
            ct.visible = look["ct_visible"]
        self._updating = True
        self.opacity_slider.setValue(round(pet.opacity * 100))
        self._updating = False
        if self.look_combo.currentText() != name:
            self.look_combo.setCurrentText(name)

    def set_suv_window(self, choice: str) -> None:
        """SUV 0-10 (the same colours in every study), 0-SUVmax of this study, or the numbers typed."""
        study, _ct, _pet = self.layers()
        custom = choice == SUV_CUSTOM
        self.suv_min.setEnabled(custom)
        self.suv_max.setEnabled(custom)
        if self._updating or study is None or custom:
            return
        low, high = suv_window(study, choice)
        self._updating = True
        self.suv_min.setValue(low)
        self.suv_max.setValue(high)
        self._updating = False
        self._on_suv_range()
        if self.suv_combo.currentText() != choice:
            self.suv_combo.setCurrentText(choice)

    def set_side_by_side(self, on: bool) -> None:
        """CT | PET | fused panels in one canvas (napari's grid), or back to the one fused view."""
        _study, ct, pet = self.layers()
        if on and not self.panels.enabled:
            if self._saved is not None:
                self.set_mip(False)
            self.panels.enable(ct, pet)
            self._reset_view_when_laid_out()
        elif not on and self.panels.enabled:
            self.panels.disable()
            self._reset_view_when_laid_out()
        if self.panels_check.isChecked() != self.panels.enabled:
            self.panels_check.setChecked(self.panels.enabled)

    def _reset_view_when_laid_out(self) -> None:
        """Fit the view now and again once Qt has laid out the changed layer list (the canvas may resize)."""
        import contextlib

        from qtpy.QtCore import QTimer

        self.viewer.reset_view()

        def again() -> None:
            with contextlib.suppress(RuntimeError):  # the viewer was closed meanwhile
                self.viewer.reset_view()

        QTimer.singleShot(50, again)

    def ct_window(self) -> tuple[float, float] | None:
        """(width, level) of the CT, None without a CT."""
        _study, ct, _pet = self.layers()
        if ct is None:
            return None
        low, high = (float(v) for v in ct.contrast_limits)
        return high - low, (high + low) / 2

    def set_ct_window(self, width: float, level: float) -> None:
        """Set the CT window; the W/L numbers and the preset follow."""
        self._apply_window(level - width / 2, level + width / 2)
        self._updating = True
        self.width_spin.setValue(width)
        self.level_spin.setValue(level)
        self.window_combo.setCurrentText(_preset_for(width, level))
        self._updating = False

    # -- MIP ------------------------------------------------------------------------------------------------
    def set_mip(self, on: bool) -> None:
        """PET maximum-intensity projection in 3D, seen from the front (coronal), CT hidden; off restores."""
        study, ct, pet = self.layers()
        if pet is None:
            return
        if on and self._saved is None:
            self.set_side_by_side(False)
            self._saved = _SavedView(
                ndisplay=self.viewer.dims.ndisplay,
                camera={"angles": camera_of(self.viewer).angles, "zoom": camera_of(self.viewer).zoom,
                        "center": camera_of(self.viewer).center},
                pet={"rendering": pet.rendering, "colormap": pet.colormap, "blending": pet.blending,
                     "opacity": pet.opacity},
                ct_visible=ct.visible if ct is not None else True,
            )
            self.viewer.dims.ndisplay = 3
            pet.rendering = "mip"
            pet.colormap = MIP_COLORMAP
            pet.blending = "translucent"
            pet.opacity = 1.0
            if ct is not None:
                ct.visible = False
            self.viewer.reset_view()
            # head up, patient's right on the screen's left (an anterior view). napari's 3D scene is mirrored
            # with respect to LPS, so the camera direction giving that picture is -y; a MIP is the same
            # projection from either side, and the screenshot test checks the sides.
            camera_of(self.viewer).set_view_direction(view_direction=(0, -1, 0), up_direction=(1, 0, 0))
        elif not on and self._saved is not None:
            saved, self._saved = self._saved, None
            for key, value in saved.pet.items():
                setattr(pet, key, value)
            if ct is not None:
                ct.visible = saved.ct_visible
            self.viewer.dims.ndisplay = saved.ndisplay
            for key, value in saved.camera.items():
                setattr(camera_of(self.viewer), key, value)
        if self.mip_check.isChecked() != on:
            self.mip_check.setChecked(on)

    # -- cursor read-out ------------------------------------------------------------------------------------
    def _on_mouse_move(self, viewer, event) -> None:
        study, _ct, _pet = self.layers()
        if study is None:
            return
        text = cursor_text(study, viewer.cursor.position)
        try:
            self.readout.setText(text)
        except RuntimeError:  # the dock was closed: stop listening
            self._disconnect()
            return
        overlay = text_overlay_of(viewer)
        overlay.visible = bool(text)
        overlay.text = text
        if text:
            viewer.status = text

    def _disconnect(self, *_args) -> None:
        if self._on_mouse_move in self.viewer.mouse_move_callbacks:
            self.viewer.mouse_move_callbacks.remove(self._on_mouse_move)
        if self._drag in self.viewer.mouse_drag_callbacks:
            self.viewer.mouse_drag_callbacks.remove(self._drag)


def _spin(low: float, high: float, value: float, step: float, decimals: int = 1) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(low, high)
    spin.setSingleStep(step)
    spin.setDecimals(decimals)
    spin.setValue(value)
    return spin


def _suv_choice(study: Study, limits: tuple[float, float]) -> str:
    """The SUV window choice that gives ``limits``, else custom."""
    for choice in SUV_WINDOWS:
        window = suv_window(study, choice)
        if window is not None and np.allclose(window, limits, atol=1e-3):
            return choice
    return SUV_CUSTOM


def _preset_for(width: float, level: float) -> str:
    for name, (w, lv) in WINDOW_PRESETS.items():
        if abs(w - width) < 0.5 and abs(lv - level) < 0.5:
            return name
    return CUSTOM
