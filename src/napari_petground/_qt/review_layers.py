"""The review dock's layers: the case's CT and PET, the editable mask, the candidates; jumping to a lesion.

Layers are made once and then reused: a new item of the same case only swaps the mask's data, a new case
also swaps the images' data and geometry, so moving on costs no layer creation. CT/PET come from
session.session_layers (layer names "{case} CT" / "{case} PET"; each case is a StudySession, found by the other
docks in ``metadata["petground"]``, with the image numbers the dataset recorded for it); the masks sit on the
PET grid (its scale and translate). Only napari's public API is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..session import StudySession, role_of, session_layers
from ..study.numbering import ImageNumbering
from ..study.study import Study
from .grounding_layers import camera_of, forget_edits
from .review_loader import CaseData, ItemData

if TYPE_CHECKING:
    import napari

MASK_NAME = "review mask"
CANDIDATES_NAME = "candidates"
MASK_COLOR = "cyan"


def case_study(case: CaseData, tracer: str = "") -> Study:
    """A Study for a dataset case (PET in SUV, CT on the PET grid, the image numbers the dataset recorded)."""
    numbering = case.numbering or ImageNumbering.from_convention(case.pet.shape[0])
    return Study(pet=case.pet, ct=case.ct, numbering=numbering, tracer=tracer, source_kind="dataset",
                 title=case.case)


class ReviewLayers:
    """Owns the CT, PET, mask and candidates layers it adds to ``viewer``."""

    def __init__(self, viewer: napari.Viewer) -> None:
        self.viewer = viewer
        self.ct = self.pet = self.mask = self.candidates = None
        self.case: str | None = None
        self.session: StudySession | None = None
        self._original: np.ndarray | None = None

    def _alive(self, layer) -> bool:
        return layer is not None and layer in self.viewer.layers

    # -- images ---------------------------------------------------------------------------------------------
    def show_case(self, case: CaseData, tracer: str = "") -> None:
        """Put the case's CT and PET on screen (creating the layers the first time, then reusing them)."""
        if case.case == self.case and self._alive(self.pet):
            return
        self.session = StudySession(case_study(case, tracer))
        specs = {kwargs["metadata"]["petground"]["role"]: (data, kwargs) for data, kwargs, _ in
                 session_layers(self.session)}
        self._ensure_masks(case)
        fresh = [role for role in ("ct", "pet") if not self._alive(getattr(self, role))]
        reused = [getattr(self, role) for role in ("ct", "pet") if role not in fresh]
        for layer in reused:
            data, kwargs = specs[role_of(layer)]
            layer.data = data
            _set_geometry(layer, kwargs["scale"], kwargs["translate"])
            layer.name = kwargs["name"]
            layer.metadata = kwargs["metadata"]
            layer.contrast_limits_range = _value_range(data, kwargs["contrast_limits"])
            layer.contrast_limits = kwargs["contrast_limits"]
        for layer in (self.mask, self.candidates):
            if layer.data.shape != case.pet.shape:
                layer.data = np.zeros(case.pet.shape, np.uint8)
            _set_geometry(layer, case.pet.spacing, case.pet.origin)
        for role in fresh:
            data, kwargs = specs[role]
            setattr(self, role, self.viewer.add_image(data, **kwargs))
            self.viewer.layers.move(self.viewer.layers.index(getattr(self, role)), 0 if role == "ct" else 1)
        self.case = case.case

    @property
    def study(self) -> Study | None:
        return self.session.study if self.session is not None else None

    def _ensure_masks(self, case: CaseData) -> None:
        from napari.utils.colormaps import DirectLabelColormap

        empty = np.zeros(case.pet.shape, np.uint8)
        if not self._alive(self.candidates):
            self.candidates = self.viewer.add_labels(empty.copy(), name=CANDIDATES_NAME, opacity=0.5,
                                                     scale=case.pet.spacing, translate=case.pet.origin,
                                                     visible=False)
            self.candidates.editable = False
        if not self._alive(self.mask):
            self.mask = self.viewer.add_labels(
                empty, name=MASK_NAME, opacity=0.6, scale=case.pet.spacing, translate=case.pet.origin,
                colormap=DirectLabelColormap(color_dict={None: "transparent", 0: "transparent", 1: MASK_COLOR}))
            self.mask.selected_label = 1
            self.mask.brush_size = 3

    # -- masks ----------------------------------------------------------------------------------------------
    def show_item(self, data: ItemData, jump: bool = True) -> None:
        """Show the item's current mask (editable, fresh undo history), its candidates, and jump to it.

        Same-case items are copied into the existing arrays and the layers re-sliced once (with the jump),
        which is what keeps moving on fast on whole-body grids.
        """
        self.show_case(data.case, data.item.tracer)
        shape = data.case.pet.shape
        current = np.zeros(shape, np.uint8) if data.current is None else data.current.astype(np.uint8)
        self._original = current.copy()
        stale = [self.mask]
        _put(self.mask, current)
        self.mask.selected_label = 1
        forget_edits(self.mask)  # a fresh undo history: strokes on the previous item must not replay onto this one
        has_candidates = data.candidates is not None
        if has_candidates:
            _put(self.candidates, data.candidates.astype(np.uint8))
            stale.append(self.candidates)
        elif self.candidates.visible or self.candidates.data.shape != shape:
            _put(self.candidates, np.zeros(shape, np.uint8))
        self.candidates.visible = has_candidates
        self.viewer.layers.selection.active = self.mask
        target = data.current if data.current is not None or not has_candidates else data.candidates == 1
        moved = self.jump_to(target) if jump else False
        if not moved:
            for layer in stale:
                layer.refresh()

    def set_mask(self, mask: np.ndarray) -> None:
        """Replace the editable mask (a picked candidate); it then counts as unedited."""
        current = np.asarray(mask, np.uint8)
        self._original = current.copy()
        _put(self.mask, current)
        self.mask.refresh()

    def mask_data(self) -> np.ndarray:
        return np.asarray(self.mask.data) > 0

    def edited(self) -> bool:
        """True when the annotator painted into the mask since it was shown."""
        return self._original is not None and not np.array_equal(self.mask_data(), self._original > 0)

    # -- view -----------------------------------------------------------------------------------------------
    def jump_to(self, mask: np.ndarray | None) -> bool:
        """Slider to the lesion's middle slice and camera centred on it; True when the slice changed."""
        if mask is None or self.study is None or not np.any(mask):
            return False
        index = np.argwhere(mask)
        centre = index.mean(axis=0)
        z_slice = float(np.round(np.median(index[:, 0])))
        world = self.study.pet.index_to_world(np.array([z_slice, centre[1], centre[2]]))
        if not self._in_view(world):
            camera_of(self.viewer).center = tuple(float(w) for w in world)
        if abs(float(self.viewer.dims.point[0]) - float(world[0])) < 1e-6:
            return False
        self.viewer.dims.set_point(0, float(world[0]))
        return True

    def _in_view(self, world: np.ndarray, margin: float = 0.25) -> bool:
        """True when ``world`` (z, y, x) already lies in the middle of the 2D view (no need to pan)."""
        if self.viewer.dims.ndisplay != 2:
            return False
        size = canvas_size(self.viewer)
        zoom = float(camera_of(self.viewer).zoom)
        if size is None or zoom <= 0 or not np.all(size > 0):
            return False
        half = size / zoom / 2.0 * (1.0 - 2 * margin)
        centre = np.asarray(camera_of(self.viewer).center, dtype=float)[-2:]
        return bool(np.all(np.abs(np.asarray(world, dtype=float)[-2:] - centre) <= half))

    def remove(self) -> None:
        for name in ("mask", "candidates", "pet", "ct"):
            layer = getattr(self, name)
            if self._alive(layer):
                self.viewer.layers.remove(layer)
            setattr(self, name, None)
        self.case = None


def _value_range(data: np.ndarray, limits: tuple[float, float]) -> tuple[float, float]:
    low, high = float(np.min(data)), float(np.max(data))
    return min(low, limits[0]), max(high, limits[1])


def _set_geometry(layer, scale, translate) -> None:
    """Scale and translate, each set only when it changes (every change re-computes the viewer's dims)."""
    if not np.allclose(layer.scale, scale):
        layer.scale = scale
    if not np.allclose(layer.translate, translate):
        layer.translate = translate


def canvas_size(viewer) -> np.ndarray | None:
    """(height, width) of the canvas in pixels (``viewer.canvas`` from napari 0.9); None where napari does
    not say it publicly."""
    canvas = getattr(viewer, "canvas", None)
    size = getattr(canvas, "size", None)
    return None if size is None else np.asarray(size, dtype=float)


def _put(layer, data: np.ndarray) -> None:
    """New data for a Labels layer: copied into its array when the grid is the same (no re-layout), else set."""
    current = layer.data
    if isinstance(current, np.ndarray) and current.shape == data.shape and current.dtype == data.dtype:
        np.copyto(current, data)
    else:
        layer.data = data
