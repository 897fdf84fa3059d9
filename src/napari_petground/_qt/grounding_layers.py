"""The two Labels layers of grounding, on the PET grid: "prediction" (one proposal) and "findings" (accepted).

Both carry ``metadata["petground"] = {"session", "role"}`` like the study's image layers (session.tag), so
docks find them by role rather than by name, and napari's own *Save Selected Layer* writes them in the study's
geometry, the findings with their sentences (the npe2 writer reads the session's findings store). Accepting
writes into "findings" with ``Labels.data_setitem``: one entry of napari's undo history, so Ctrl+Z on that
layer takes an accept back like any brush stroke. Only napari's public API is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..session import StudySession, role_of, session_of, tag
from ..study.study import Study

if TYPE_CHECKING:
    import napari
    from napari.layers import Labels

PREDICTION, FINDINGS = "prediction", "findings"
PREDICTION_LABEL = 1
PREDICTION_COLOR = "#00e5ff"  # cyan: not used by the PET colour map (inferno) nor by napari's label cycle start


def session_in(viewer: napari.Viewer) -> StudySession | None:
    """The session of the viewer's image layers (the last study added wins, as in the display dock)."""
    session = None
    for layer in viewer.layers:
        found = session_of(layer)
        if found is not None and role_of(layer) in ("ct", "pet"):
            session = found
    return session


def study_in(viewer: napari.Viewer) -> Study | None:
    """The study of :func:`session_in`."""
    session = session_in(viewer)
    return session.study if session is not None else None


def role_layer(viewer: napari.Viewer, session: StudySession, role: str) -> Labels | None:
    """The viewer's layer of ``session`` with ``role`` ("prediction", "findings", ...), if any."""
    for layer in viewer.layers:
        if role_of(layer) == role and session_of(layer) is session:
            return layer
    return None


def _pet_grid(study: Study) -> dict:
    return {"scale": study.pet.spacing, "translate": study.pet.origin}


def ensure_prediction_layer(viewer: napari.Viewer, session: StudySession) -> Labels:
    """The prediction layer of ``session``, created empty (cyan contour) when missing."""
    from napari.utils.colormaps import DirectLabelColormap

    layer = role_layer(viewer, session, PREDICTION)
    if layer is None:
        colormap = DirectLabelColormap(color_dict={None: "transparent", 0: "transparent",
                                                   PREDICTION_LABEL: PREDICTION_COLOR})
        layer = viewer.add_labels(
            np.zeros(session.study.pet.shape, dtype=np.uint8), name=PREDICTION, colormap=colormap, opacity=0.9,
            metadata={"petground": tag(session, PREDICTION)}, **_pet_grid(session.study),
        )
        layer.contour = 1
        layer.selected_label = PREDICTION_LABEL
    return layer


def ensure_findings_layer(viewer: napari.Viewer, session: StudySession) -> Labels:
    """The findings layer of ``session``, created empty when missing (above the prediction layer)."""
    layer = role_layer(viewer, session, FINDINGS)
    if layer is None:
        layer = viewer.add_labels(
            np.zeros(session.study.pet.shape, dtype=np.uint16), name=FINDINGS, opacity=0.5,
            metadata={"petground": tag(session, FINDINGS)}, **_pet_grid(session.study),
        )
    return layer


def forget_edits(layer: Labels) -> None:
    """Clear a Labels layer's undo history, keeping its mode: napari clears it when the layer stops being
    editable (its only public way)."""
    mode = layer.mode
    layer.editable = False
    layer.editable = True
    if layer.mode != mode:
        layer.mode = mode


def show_mask(layer: Labels, mask: np.ndarray | None) -> None:
    """Replace the prediction with ``mask`` in place (cheap on a large grid; a fresh proposal to edit).

    The layer's edit history belongs to the previous proposal, so it is cleared: Ctrl+Z on the prediction
    must not paint an old proposal's voxels into a new one.
    """
    data = layer.data
    data[...] = 0
    if mask is not None:
        data[np.asarray(mask, dtype=bool)] = PREDICTION_LABEL
    forget_edits(layer)
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
