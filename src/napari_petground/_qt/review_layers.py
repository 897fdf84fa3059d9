"""The review dock's layers: the case's CT and PET, the editable mask, the candidates; jumping to a lesion.

Layers are made once and then reused: a new item of the same case only swaps the mask's data, a new case
also swaps the images' data and geometry, so moving on costs no layer creation. CT/PET come from
study.layers.study_layers (layer names "{case} CT" / "{case} PET", ``metadata["petground"]`` for the other
docks); the masks sit on the PET grid (its scale and translate).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from typing import TYPE_CHECKING

import numpy as np

from ..study.layers import study_layers
from ..study.numbering import ImageNumbering
from ..study.study import Study
from .review_loader import CaseData, ItemData

if TYPE_CHECKING:
    import napari

MASK_NAME = "review mask"
CANDIDATES_NAME = "candidates"
MASK_COLOR = "cyan"


def case_study(case: CaseData, tracer: str = "") -> Study:
    """A Study for a dataset case (PET in SUV, CT on the PET grid, head-first numbering)."""
    return Study(pet=case.pet, ct=case.ct, numbering=ImageNumbering.from_convention(case.pet.shape[0]),
                 tracer=tracer, source_kind="dataset", title=case.case)


class ReviewLayers:
    """Owns the CT, PET, mask and candidates layers it adds to ``viewer``."""

    def __init__(self, viewer: napari.Viewer) -> None:
        self.viewer = viewer
        self.ct = self.pet = self.mask = self.candidates = None
        self.case: str | None = None
        self.study: Study | None = None
        self._original: np.ndarray | None = None

    def _alive(self, layer) -> bool:
        return layer is not None and layer in self.viewer.layers

    # -- images ---------------------------------------------------------------------------------------------
    def show_case(self, case: CaseData, tracer: str = "") -> None:
        """Put the case's CT and PET on screen (creating the layers the first time, then reusing them)."""
        if case.case == self.case and self._alive(self.pet):
            return
        self.study = case_study(case, tracer)
        specs = {kwargs["metadata"]["petground"]["role"]: (data, kwargs) for data, kwargs, _ in
                 study_layers(self.study)}
        self._ensure_masks(case)
        fresh = [role for role in ("ct", "pet") if not self._alive(getattr(self, role))]
        reused = [getattr(self, role) for role in ("ct", "pet") if role not in fresh]
        with ExitStack() as stack:  # every layer re-sliced once at the end, not once per property change
            for layer in (*reused, self.mask, self.candidates):
                stack.enter_context(_quiet(layer))
            stack.enter_context(_dims_once(self.viewer, (*reused, self.mask, self.candidates)))
            for layer in reused:
                data, kwargs = specs[layer.metadata["petground"]["role"]]
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
        for layer in reused:
            layer.refresh()
        self.case = case.case

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
        # a fresh undo history: strokes on the previous item must not replay onto this one
        self.mask.editable = False
        self.mask.editable = True
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
            self.viewer.camera.center = tuple(float(w) for w in world)
        if abs(float(self.viewer.dims.point[0]) - float(world[0])) < 1e-6:
            return False
        self.viewer.dims.set_point(0, float(world[0]))
        return True

    def _in_view(self, world: np.ndarray, margin: float = 0.25) -> bool:
        """True when ``world`` (z, y, x) already lies in the middle of the 2D view (no need to pan)."""
        if self.viewer.dims.ndisplay != 2:
            return False
        try:
            size = np.asarray(self.viewer.canvas.size, dtype=float)  # (height, width) pixels
        except AttributeError:
            return False
        zoom = float(self.viewer.camera.zoom)
        if zoom <= 0 or not np.all(size > 0):
            return False
        half = size / zoom / 2.0 * (1.0 - 2 * margin)
        centre = np.asarray(self.viewer.camera.center, dtype=float)[-2:]
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


@contextmanager
def _quiet(layer) -> Iterator[None]:
    """Hold back a layer's re-slicing while several of its properties change (napari's refresh block)."""
    block = getattr(layer, "_block_refresh", None)
    with block() if block is not None else nullcontext():
        yield


@contextmanager
def _dims_once(viewer, layers) -> Iterator[None]:
    """Recompute the viewer's dims once after several layers changed data and geometry, not after each.

    napari recomputes the dims (ranges, sliders) on every data/scale/translate event of every layer, which is
    most of the cost of switching cases; its handler is held back for these layers and run once at the end.
    """
    handler = getattr(viewer, "_on_layers_change", None)
    if handler is None:  # another napari: just let every change update the dims
        yield
        return
    with ExitStack() as stack:
        for layer in layers:
            for name in ("data", "scale", "translate"):
                stack.enter_context(getattr(layer.events, name).blocker(handler))
        yield
    handler()


def _put(layer, data: np.ndarray) -> None:
    """New data for a Labels layer: copied into its array when the grid is the same (no re-layout), else set."""
    current = layer.data
    if isinstance(current, np.ndarray) and current.shape == data.shape and current.dtype == data.dtype:
        np.copyto(current, data)
    else:
        layer.data = data
