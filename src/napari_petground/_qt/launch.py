"""Opening a Study in a napari viewer with the package's docks (used by ``petground view``)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import napari

    from ..study.study import Study

log = logging.getLogger(__name__)


def add_study(viewer: napari.Viewer, study: Study, **layer_options) -> list:
    """Open ``study`` in a StudySession and add its CT and PET layers (session.session_layers); returns them."""
    from ..session import StudySession, session_layers

    added = []
    for data, kwargs, layer_type in session_layers(StudySession(study), **layer_options):
        added.append(getattr(viewer, f"add_{layer_type}")(data, **kwargs))
    return added


def dock_widgets(viewer: napari.Viewer) -> list:
    """Dock the grounding dock (when that part is installed) and the display dock."""
    from .display_dock import DisplayDock

    docked, frames = [], []
    try:
        from .grounding_dock import GroundingDock
    except ImportError as exc:  # grounding needs the model part of the package
        log.info("grounding dock not available: %s", exc)
    else:
        grounding = GroundingDock(viewer)
        frames.append(viewer.window.add_dock_widget(grounding, name="Ground findings", area="right"))
        docked.append(grounding)
    display = DisplayDock(viewer)
    # a tab beside the grounding dock rather than below it: stacked, both are squeezed on a laptop screen
    viewer.window.add_dock_widget(display, name="PET/CT display", area="right", tabify=bool(docked))
    docked.append(display)
    if frames:  # once Qt has laid the tabs out
        from qtpy.QtCore import QTimer

        QTimer.singleShot(0, lambda: _bring_to_front(frames[0]))
    return docked


GROUNDING_DOCK_WIDTH = 520  # px: the findings table and the result grid without a horizontal scroll bar


def _bring_to_front(frame) -> None:
    """The grounding tab in front, and wide enough for its tables (never more than a third of the window)."""
    from qtpy.QtCore import Qt

    try:
        frame.raise_()
    except RuntimeError:  # the viewer was closed before the event loop came round
        return
    window = frame.parentWidget()
    if window is not None and hasattr(window, "resizeDocks") and frame.width() < GROUNDING_DOCK_WIDTH:
        width = min(GROUNDING_DOCK_WIDTH, max(frame.width(), window.width() // 3))
        window.resizeDocks([frame], [width], Qt.Orientation.Horizontal)


def view_study(study: Study | None, *, demo: bool = False) -> int:
    """Open ``study`` (or the demo study) in a new napari window and run the event loop."""
    import napari

    if study is None and demo:
        from ..phantom.sample import demo_study

        study = demo_study()
    viewer = napari.Viewer(title=f"PET/CT - {study.name}" if study else "PET/CT")
    if study is not None:
        add_study(viewer, study)
        from napari.utils.notifications import show_warning

        for warning in study.warnings:
            show_warning(f"{study.name}: {warning}")
    dock_widgets(viewer)
    napari.run()
    return 0
