"""Reading aids of the display dock: side-by-side CT | PET | fused panels, and window/level by right-drag.

Side by side uses napari's grid (one canvas, one camera, so the three panels pan, zoom and scroll together).
The CT and PET panels are extra image layers that share the study's arrays (no copy) and follow the fused
layers' windows. napari fills the grid ``stride`` layers per panel, so the fused panel holds the CT, the PET
and every other layer (lesion masks stay on the fused view), and each single panel is padded to the same
count with hidden, empty spacer layers; all of them are removed when the panels are turned off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .grounding_layers import camera_of

if TYPE_CHECKING:
    import napari

PANEL_ROLES = ("ct panel", "pet panel")
SPACER_ROLE = "panel spacer"
PANEL_PET_COLORMAP = "gray_r"  # the PET panel as a PET is read alone: uptake dark on white
DRAG_PIXELS = 200.0  # a drag this long doubles the window width, or moves the level by one window width


def grid_of(viewer: napari.Viewer):
    """The viewer's grid (``viewer.canvas.grid`` since napari 0.9, ``viewer.grid`` before)."""
    canvas = getattr(viewer, "canvas", None)
    return canvas.grid if canvas is not None and hasattr(canvas, "grid") else viewer.grid


def text_overlay_of(viewer: napari.Viewer):
    """The viewer's text overlay (``viewer.canvas.overlays.text`` since napari 0.9, ``viewer.text_overlay``)."""
    overlays = getattr(getattr(viewer, "canvas", None), "overlays", None)
    return overlays.text if overlays is not None and hasattr(overlays, "text") else viewer.text_overlay


def panel_role(layer: Any) -> str:
    info = getattr(layer, "metadata", {}).get("petground") or {}
    role = info.get("role", "")
    return role if role in (*PANEL_ROLES, SPACER_ROLE) else ""


class SideBySide:
    """CT | PET | fused panels for the CT and PET layers given to ``enable``."""

    def __init__(self, viewer: napari.Viewer) -> None:
        self.viewer = viewer
        self._links: list[tuple[Any, Any]] = []  # (source layer, panel layer)
        self._arranging = False

    @property
    def enabled(self) -> bool:
        return any(panel_role(layer) for layer in self.viewer.layers)

    def enable(self, ct: Any, pet: Any) -> None:
        """Add the panels (CT needed: a PET alone is already one panel) and turn napari's grid on."""
        if self.enabled or ct is None or pet is None:
            return
        active = self.viewer.layers.selection.active
        for source, role, colormap in ((ct, "ct panel", "gray"), (pet, "pet panel", PANEL_PET_COLORMAP)):
            panel = self.viewer.add_image(
                source.data, name=f"{source.name} ({role})", scale=source.scale, translate=source.translate,
                colormap=colormap, contrast_limits=source.contrast_limits, blending="translucent",
                metadata={"petground": {"role": role}})
            self._links.append((source, panel))
            source.events.contrast_limits.connect(self._follow)
        self.viewer.layers.events.inserted.connect(self._rearrange)
        self.viewer.layers.events.removed.connect(self._rearrange)
        self.arrange()
        if active is not None:  # the layer the user had selected, not the last panel or spacer added
            self.viewer.layers.selection.active = active

    def disable(self) -> None:
        """Remove panels and spacers, and the grid."""
        self._disconnect()
        for layer in [layer for layer in self.viewer.layers if panel_role(layer)]:
            self.viewer.layers.remove(layer)
        self._links.clear()
        grid = grid_of(self.viewer)
        grid.enabled = False
        grid.stride = 1
        grid.shape = (-1, -1)

    def arrange(self) -> None:
        """[CT panel + spacers][PET panel + spacers][CT, PET and every other layer], one panel each."""
        if self._arranging:
            return
        self._arranging = True
        try:
            layers = self.viewer.layers
            panels = {panel_role(layer): layer for layer in layers if panel_role(layer) in PANEL_ROLES}
            if len(panels) < 2:
                return
            fused = [layer for layer in layers if not panel_role(layer)]
            per_panel = max(1, len(fused))
            spacers = [layer for layer in layers if panel_role(layer) == SPACER_ROLE]
            while len(spacers) > 2 * (per_panel - 1):
                layers.remove(spacers.pop())
            if len(spacers) < 2 * (per_panel - 1):
                active = layers.selection.active
                while len(spacers) < 2 * (per_panel - 1):
                    spacers.append(self._spacer(panels["ct panel"]))
                if active is not None:
                    layers.selection.active = active
            half = per_panel - 1
            order = [panels["ct panel"], *spacers[:half], panels["pet panel"], *spacers[half:], *fused]
            for target, layer in enumerate(order):
                current = layers.index(layer)
                if current != target:
                    layers.move(current, target)
            grid = grid_of(self.viewer)
            grid.stride = per_panel
            grid.shape = (1, 3)
            grid.enabled = True
        finally:
            self._arranging = False

    def _spacer(self, like: Any) -> Any:
        return self.viewer.add_image(np.zeros((1,) * like.ndim, np.uint8), name="(panel spacer)", visible=False,
                                     scale=like.scale, translate=like.translate,
                                     metadata={"petground": {"role": SPACER_ROLE}})

    def _rearrange(self, event=None) -> None:
        if not self._arranging:
            if not any(panel_role(layer) in PANEL_ROLES for layer in self.viewer.layers):
                self.disable()  # the user deleted a panel: the side-by-side view is over
            else:
                self.arrange()

    def _follow(self, event=None) -> None:
        for source, panel in self._links:
            if tuple(panel.contrast_limits) != tuple(source.contrast_limits):
                low, high = source.contrast_limits_range
                panel.contrast_limits_range = (min(low, panel.contrast_limits_range[0]),
                                               max(high, panel.contrast_limits_range[1]))
                panel.contrast_limits = source.contrast_limits

    def _disconnect(self) -> None:
        for source, _panel in self._links:
            source.events.contrast_limits.disconnect(self._follow)
        self.viewer.layers.events.inserted.disconnect(self._rearrange)
        self.viewer.layers.events.removed.disconnect(self._rearrange)


def window_level_drag(get_window, set_window):
    """A napari mouse-drag callback: right-drag changes a window (CT W/L) instead of zooming the view.

    ``get_window()`` gives (width, level) or None when there is nothing to window; ``set_window(width, level)``
    applies one. Dragging right widens the window (less contrast), left narrows it; dragging up raises the
    level (the image darkens), down lowers it. The camera's mouse pan/zoom is off during the drag and back on
    after it, so the view does not zoom at the same time.
    """

    def on_drag(viewer, event):
        if event.type != "mouse_press" or getattr(event, "button", None) != 2:
            return
        start = get_window()
        if start is None:
            return
        width, level = start
        press = np.asarray(event.pos, dtype=float)
        camera = camera_of(viewer)
        pan = camera.mouse_pan
        camera.mouse_pan = False
        try:
            yield
            while event.type == "mouse_move":
                dx, dy = np.asarray(event.pos, dtype=float) - press
                set_window(max(1.0, width * 2.0 ** (dx / DRAG_PIXELS)), level - dy * width / DRAG_PIXELS)
                yield
        finally:
            camera.mouse_pan = pan

    return on_drag
