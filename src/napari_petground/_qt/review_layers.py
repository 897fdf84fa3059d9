"""The review dock's layers: the case's CT and PET, the editable mask, the candidates; jumping to a lesion.

Layers are made once and then reused: a new item of the same case only swaps the mask's data, a new case
also swaps the images' data and geometry, so moving on costs no layer creation. CT/PET come from
study.layers.study_layers (layer names "{case} CT" / "{case} PET", ``metadata["petground"]`` for the other
docks); the masks sit on the PET grid (its scale and translate).
"""

from __future__ import annotations

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
        """Put the case's CT and PET on screen (creating the layers the first time)."""
        if case.case == self.case and self._alive(self.pet):
            return
        self.study = case_study(case, tracer)
        specs = {kwargs["metadata"]["petground"]["role"]: (data, kwargs) for data, kwargs, _ in
                 study_layers(self.study)}
        for role in ("ct", "pet"):
            data, kwargs = specs[role]
            layer = getattr(self, role)
            if self._alive(layer):
                layer.data = data
                layer.scale, layer.translate = kwargs["scale"], kwargs["translate"]
                layer.name = kwargs["name"]
                layer.metadata = kwargs["metadata"]
                layer.contrast_limits_range = _value_range(data, kwargs["contrast_limits"])
                layer.contrast_limits = kwargs["contrast_limits"]
            else:
                setattr(self, role, self.viewer.add_image(data, **kwargs))
        self.case = case.case
        self._ensure_masks(case)
        for layer in (self.mask, self.candidates):
            layer.scale, layer.translate = case.pet.spacing, case.pet.origin

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
    def show_item(self, data: ItemData) -> None:
        """Show the item's current mask (editable) and its candidates when it has some."""
        self.show_case(data.case, data.item.tracer)
        shape = data.case.pet.shape
        current = np.zeros(shape, np.uint8) if data.current is None else data.current.astype(np.uint8)
        self._original = current.copy()
        self.mask.data = current
        self.mask.selected_label = 1
        has_candidates = data.candidates is not None
        self.candidates.data = (data.candidates.astype(np.uint8) if has_candidates else np.zeros(shape, np.uint8))
        self.candidates.visible = has_candidates
        self.viewer.layers.selection.active = self.mask

    def set_mask(self, mask: np.ndarray) -> None:
        """Replace the editable mask (a picked candidate); it then counts as unedited."""
        current = np.asarray(mask, np.uint8)
        self._original = current.copy()
        self.mask.data = current

    def mask_data(self) -> np.ndarray:
        return np.asarray(self.mask.data) > 0

    def edited(self) -> bool:
        """True when the annotator painted into the mask since it was shown."""
        return self._original is not None and not np.array_equal(self.mask_data(), self._original > 0)

    # -- view -----------------------------------------------------------------------------------------------
    def jump_to(self, mask: np.ndarray | None) -> None:
        """Slider to the lesion's middle slice and camera centred on it (2D and 3D)."""
        if mask is None or self.study is None or not np.any(mask):
            return
        index = np.argwhere(mask)
        centre = index.mean(axis=0)
        z_slice = float(np.round(np.median(index[:, 0])))
        world = self.study.pet.index_to_world(np.array([z_slice, centre[1], centre[2]]))
        self.viewer.dims.set_point(0, float(world[0]))
        self.viewer.camera.center = tuple(float(w) for w in world)

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
