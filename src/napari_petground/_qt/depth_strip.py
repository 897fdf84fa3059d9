"""A thin vertical strip beside the view: where along the body a sentence points, and the slice shown now.

``DepthStrip(napari_viewer)`` draws a model.depth.DepthProfile over the study's PET slices (head at the top,
feet at the bottom): one bar per slice, as wide as its probability, the 80 % interval shaded and the
estimate ticked; a red line marks the slice the viewer shows. Clicking the strip moves the view to that
level. ``show_depth(viewer, strip, study, profile)`` is what a grounding run calls as soon as the network
has answered: the strip fills in and the view moves to the estimated level before the mask is ready.
``PointedMoves`` remembers those moves per run, to take them back when the run finds nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from qtpy.QtCore import QRectF, QSize, Qt, Signal
from qtpy.QtGui import QColor, QPainter, QPen
from qtpy.QtWidgets import QSizePolicy, QWidget

from ..model.depth import DepthProfile, pet_z_mm
from ..study.study import Study

if TYPE_CHECKING:
    import napari

BAR = QColor("#00e5ff")
INTERVAL = QColor(0, 229, 255, 40)
MARKER = QColor("#ff3b30")
ESTIMATE = QColor("#ffffff")
BACKGROUND = QColor("#202124")


def z_axis(viewer: napari.Viewer) -> int | None:
    """The viewer's dims axis holding z (the first of the last three), or None for a 2D viewer."""
    return viewer.dims.ndim - 3 if viewer.dims.ndim >= 3 else None


def move_to_depth(viewer: napari.Viewer, z_mm: float) -> None:
    """Show the axial slice at ``z_mm`` (world, LPS)."""
    axis = z_axis(viewer)
    if axis is not None:
        viewer.dims.set_point(axis, float(z_mm))


class DepthStrip(QWidget):
    """Vertical bar plot of P(z) over the PET slices with the current slice marked."""

    jumped = Signal(float)  # z mm the user clicked

    def __init__(self, napari_viewer: napari.Viewer | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = napari_viewer
        self.study: Study | None = None
        self.profile: DepthProfile | None = None
        self._slice_probability: np.ndarray | None = None
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Expanding)
        self.setMinimumHeight(160)
        self.setToolTip("Where the sentence points along the body (head at the top); red: the slice shown. "
                        "Click to go there.")
        if napari_viewer is not None:
            napari_viewer.dims.events.current_step.connect(self._on_step)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return QSize(28, 400)

    # -- data --------------------------------------------------------------------------------------------
    def set_study(self, study: Study | None) -> None:
        self.study = study
        self._resample()
        self.update()

    def set_profile(self, profile: DepthProfile | None, study: Study | None = None) -> None:
        """Show ``profile`` (None clears the strip)."""
        if study is not None:
            self.study = study
        self.profile = profile
        self._resample()
        self.update()

    def slice_probability(self) -> np.ndarray | None:
        """The profile on the study's PET slices (sums to 1), as drawn."""
        return None if self._slice_probability is None else self._slice_probability.copy()

    def current_z_mm(self) -> float | None:
        if self.viewer is None:
            return None
        axis = z_axis(self.viewer)
        return None if axis is None else float(self.viewer.dims.point[axis])

    def _resample(self) -> None:
        if self.profile is None or self.study is None:
            self._slice_probability = None
            return
        self._slice_probability = self.profile.on_slices(pet_z_mm(self.study))

    def _on_step(self, _event=None) -> None:
        self.update()

    # -- geometry ----------------------------------------------------------------------------------------
    def _z_range(self) -> tuple[float, float] | None:
        if self.study is None:
            return None
        z = pet_z_mm(self.study)
        half = self.study.pet.spacing[0] / 2
        return float(z.min() - half), float(z.max() + half)

    def y_of(self, z_mm: float) -> float:
        """Widget y of a z position: superior (large z) at the top."""
        lo, hi = self._z_range() or (0.0, 1.0)
        return (hi - z_mm) / max(hi - lo, 1e-6) * self.height()

    def z_of(self, y: float) -> float:
        lo, hi = self._z_range() or (0.0, 1.0)
        return hi - y / max(self.height(), 1) * (hi - lo)

    # -- drawing and clicks ------------------------------------------------------------------------------
    def paintEvent(self, _event) -> None:  # noqa: N802 (Qt override)
        painter = QPainter(self)
        painter.fillRect(self.rect(), BACKGROUND)
        if self.study is None:
            painter.end()
            return
        width = self.width()
        probability = self._slice_probability
        if probability is not None and self.profile is not None:
            lo, hi = self.profile.interval(0.8)
            painter.fillRect(QRectF(0, self.y_of(hi), width, max(1.0, self.y_of(lo) - self.y_of(hi))), INTERVAL)
            z = pet_z_mm(self.study)
            step = abs(self.study.pet.spacing[0])
            top = probability.max() if probability.max() > 0 else 1.0
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(BAR)
            for zk, pk in zip(z, probability, strict=True):
                if pk <= 0:
                    continue
                y0 = self.y_of(zk + step / 2)
                h = max(1.0, self.y_of(zk - step / 2) - y0)
                painter.drawRect(QRectF(0, y0, (width - 2) * pk / top, h))
            painter.setPen(QPen(ESTIMATE, 1))
            y = self.y_of(self.profile.estimate_mm())
            painter.drawLine(0, int(y), width, int(y))
        current = self.current_z_mm()
        if current is not None:
            painter.setPen(QPen(MARKER, 2))
            y = self.y_of(current)
            painter.drawLine(0, int(y), width, int(y))
        painter.end()

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt override)
        if self.study is None:
            return
        z = self.z_of(event.position().y() if hasattr(event, "position") else event.y())
        if self.viewer is not None:
            move_to_depth(self.viewer, z)
        self.jumped.emit(z)
        self.update()


def show_depth(viewer: napari.Viewer, strip: DepthStrip | None, study: Study, profile: DepthProfile,
               *, move: bool = True) -> float:
    """Fill the strip and (unless ``move`` is False or the profile is flat) move the view to the estimate."""
    if strip is not None:
        strip.set_profile(profile, study)
    z = profile.estimate_mm()
    if move and profile.informative:
        move_to_depth(viewer, z)
    return z


class PointedMoves:
    """The moves a grounding run makes to where its sentence points, kept per run so that a run that ends with
    no lesion to show puts the view back where the reader had it (neither the view nor the strip should point
    at a place where nothing was found), unless the reader has moved it since."""

    def __init__(self, viewer: napari.Viewer) -> None:
        self.viewer = viewer
        self._moved: dict[object, tuple[tuple, tuple]] = {}  # run -> (view before the run moved it, after)

    def show(self, run: object, strip: DepthStrip | None, study: Study, profile: DepthProfile,
             *, move: bool = True) -> None:
        """``show_depth``, remembering the view from before ``run``'s first move."""
        before = tuple(self.viewer.dims.point)
        show_depth(self.viewer, strip, study, profile, move=move)
        after = tuple(self.viewer.dims.point)
        if after != before:
            self._moved[run] = (self._moved.get(run, (before,))[0], after)

    def forget(self, run: object) -> None:
        """``run`` ended with something to show: its moves stay."""
        self._moved.pop(run, None)

    def undo(self, run: object, strip: DepthStrip | None) -> None:
        """``run`` ended with nothing to show: empty the strip and put the view back, unless the reader moved it."""
        moved = self._moved.pop(run, None)
        if moved is None:
            return
        before, after = moved
        if strip is not None:
            strip.set_profile(None)
        if tuple(self.viewer.dims.point) == after and len(before) == self.viewer.dims.ndim:
            self.viewer.dims.point = before
