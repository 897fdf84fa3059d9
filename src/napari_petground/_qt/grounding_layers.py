"""The two Labels layers of grounding, on the PET grid: "prediction" (one proposal) and "findings" (accepted).

Both carry ``metadata["petground"] = {"study", "role"}`` like the study's image layers, so docks find them by
role rather than by name, and napari's own *Save Selected Layer* writes them in the study's geometry
(study.writers.write_labels_layer). Accepting writes into "findings" with ``Labels.data_setitem``: one entry of
napari's undo history, so Ctrl+Z on that layer takes an accept back like any brush stroke.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..study.study import Study

if TYPE_CHECKING:
    import napari
    from napari.layers import Labels

PREDICTION, FINDINGS = "prediction", "findings"
PREDICTION_LABEL = 1
PREDICTION_COLOR = "#00e5ff"  # cyan: not used by the PET colour map (inferno) nor by napari's label cycle start


def study_in(viewer: napari.Viewer) -> Study | None:
    """The study of the viewer's image layers (the last one added wins, as in the display dock)."""
    study = None
    for layer in viewer.layers:
        info = getattr(layer, "metadata", {}).get("petground") or {}
        if info.get("role") in ("ct", "pet") and isinstance(info.get("study"), Study):
            study = info["study"]
    return study


def role_layer(viewer: napari.Viewer, study: Study, role: str) -> Labels | None:
    """The viewer's Labels layer of ``study`` with ``role`` ("prediction" or "findings"), if any."""
    for layer in viewer.layers:
        info = getattr(layer, "metadata", {}).get("petground") or {}
        if info.get("role") == role and info.get("study") is study:
            return layer
    return None


def _pet_grid(study: Study) -> dict:
    return {"scale": study.pet.spacing, "translate": study.pet.origin}


def ensure_prediction_layer(viewer: napari.Viewer, study: Study) -> Labels:
    """The prediction layer of ``study``, created empty (cyan contour) when missing."""
    from napari.utils.colormaps import DirectLabelColormap

    layer = role_layer(viewer, study, PREDICTION)
    if layer is None:
        colormap = DirectLabelColormap(color_dict={None: "transparent", 0: "transparent",
                                                   PREDICTION_LABEL: PREDICTION_COLOR})
        layer = viewer.add_labels(
            np.zeros(study.pet.shape, dtype=np.uint8), name=PREDICTION, colormap=colormap, opacity=0.9,
            metadata={"petground": {"study": study, "role": PREDICTION}}, **_pet_grid(study),
        )
        layer.contour = 1
        layer.selected_label = PREDICTION_LABEL
    return layer


def ensure_findings_layer(viewer: napari.Viewer, study: Study) -> Labels:
    """The findings layer of ``study``, created empty when missing (above the prediction layer)."""
    layer = role_layer(viewer, study, FINDINGS)
    if layer is None:
        layer = viewer.add_labels(
            np.zeros(study.pet.shape, dtype=np.uint16), name=FINDINGS, opacity=0.5,
            metadata={"petground": {"study": study, "role": FINDINGS}, "segment_names": {}}, **_pet_grid(study),
        )
    return layer


def show_mask(layer: Labels, mask: np.ndarray | None) -> None:
    """Replace the prediction with ``mask`` in place (cheap on a large grid; a fresh proposal to edit).

    The layer's edit history belongs to the previous proposal, so it is cleared: Ctrl+Z on the prediction
    must not paint an old proposal's voxels into a new one.
    """
    data = layer.data
    data[...] = 0
    if mask is not None:
        data[np.asarray(mask, dtype=bool)] = PREDICTION_LABEL
    reset = getattr(layer, "_reset_history", None)
    if callable(reset):
        reset()
    layer.selected_label = PREDICTION_LABEL
    layer.refresh()


def write_finding(layer: Labels, mask: np.ndarray, label: int) -> tuple[np.ndarray, int]:
    """Write ``label`` into the findings layer where ``mask`` is set and nothing was accepted before.

    One undoable step. Returns the mask as written and the number of voxels left to earlier findings.
    """
    mask = np.asarray(mask, dtype=bool)
    data = np.asarray(layer.data)
    if label > np.iinfo(data.dtype).max:
        raise ValueError(f"label {label} does not fit the findings layer ({data.dtype})")
    free = mask & (data == 0)
    kept = int(np.count_nonzero(mask)) - int(np.count_nonzero(free))
    layer.data_setitem(np.nonzero(free), label)
    return free, kept


def camera_of(viewer: napari.Viewer):
    """The viewer's camera (``viewer.scene.camera`` since napari 0.9, ``viewer.camera`` before)."""
    scene = getattr(viewer, "scene", None)
    return scene.camera if scene is not None and hasattr(scene, "camera") else viewer.camera


def slice_point(viewer: napari.Viewer, study: Study, index_zyx) -> tuple[list[int], list[float]]:
    """(axes, world values) that put PET voxel ``index_zyx`` in the view's non-displayed axes."""
    world = study.pet.index_to_world(np.asarray(index_zyx, dtype=float))
    offset = viewer.dims.ndim - 3
    displayed = set(viewer.dims.displayed)
    axes = [offset + a for a in range(3) if offset + a not in displayed and offset + a >= 0]
    return axes, [float(world[a - offset]) for a in axes]


def centre_camera(viewer: napari.Viewer, study: Study, index_zyx) -> None:
    """Centre the camera on PET voxel ``index_zyx`` (in 2D: in the displayed plane)."""
    world = study.pet.index_to_world(np.asarray(index_zyx, dtype=float))
    offset = viewer.dims.ndim - 3
    centre = [float(world[d - offset]) for d in viewer.dims.displayed if d >= offset]
    camera_of(viewer).center = tuple(centre[-3:] if viewer.dims.ndisplay == 3 else centre[-2:])


def jump_to(viewer: napari.Viewer, study: Study, index_zyx) -> None:
    """Show the PET voxel ``index_zyx``: its slice in the dims (one update), the camera centred on it."""
    if viewer.dims.ndim < 3:
        return
    axes, values = slice_point(viewer, study, index_zyx)
    current = [viewer.dims.point[a] for a in axes]
    if axes and not np.allclose(current, values):
        viewer.dims.set_point(axes, values)
    centre_camera(viewer, study, index_zyx)
