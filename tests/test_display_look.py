"""How the PET shows over the CT (hot metal, inverted grey), SUV windows, side-by-side panels and
window/level by right-drag, in a real napari viewer."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from napari_petground._qt.display_panels import camera_of, grid_of, panel_role
from napari_petground.study.layers import (
    HOT_METAL,
    HOT_METAL_OVER_CT,
    INVERTED_GREY_PET,
    SUV_CUSTOM,
    SUV_FIXED,
    SUV_TO_MAX,
    study_layers,
)
from napari_petground.study.synthetic import synthetic_study

pytestmark = pytest.mark.gui


@pytest.fixture
def opened(make_napari_viewer, qtbot):
    from napari_petground._qt.display_dock import DisplayDock
    from napari_petground._qt.launch import add_study

    viewer = make_napari_viewer(show=False, strict_qt="raise")
    study = synthetic_study()
    ct, pet = add_study(viewer, study)
    dock = DisplayDock(viewer)
    viewer.window.add_dock_widget(dock, area="right")  # closed with the viewer
    return viewer, dock, study, ct, pet


def test_default_is_hot_metal_mixed_over_grey_ct_on_a_fixed_suv_scale():
    ct_kw, pet_kw = (kw for _data, kw, _kind in study_layers(synthetic_study()))
    assert ct_kw["colormap"] == "gray"
    assert pet_kw["colormap"] == HOT_METAL and pet_kw["blending"] == "translucent"  # added red on grey is pink
    assert pet_kw["contrast_limits"] == (0.0, 10.0)
    controls, colors = np.asarray(HOT_METAL["controls"]), np.asarray(HOT_METAL["colors"])
    assert np.all(colors[controls <= 0.2, 3] == 0)  # fat, muscle, blood pool, marrow: plain CT
    assert np.all(colors[controls >= 0.4, 3] == 1)


def test_no_pink_over_the_body(opened):
    """Low uptake leaves the CT grey; only real uptake is coloured, in hot-metal hues (red >= green >= blue)."""
    from napari.utils.colormaps import ensure_colormap

    _viewer, _dock, _study, _ct, pet = opened
    cmap = ensure_colormap(pet.colormap)
    low = cmap.map(np.array([0.05, 0.1, 0.19]))
    assert np.all(low[:, 3] == 0)
    hot = cmap.map(np.linspace(0.2, 1.0, 9))
    assert np.all(hot[:, 0] >= hot[:, 1]) and np.all(hot[:, 1] >= hot[:, 2] - 1e-6)


def test_looks_switch_between_hot_metal_over_ct_and_inverted_grey_pet(opened):
    _viewer, dock, _study, ct, pet = opened
    assert dock.look_combo.currentText() == HOT_METAL_OVER_CT
    dock.look_combo.setCurrentText(INVERTED_GREY_PET)
    assert pet.colormap.name == "gray_r" and pet.opacity == 1.0 and not ct.visible
    dock.look_combo.setCurrentText(HOT_METAL_OVER_CT)
    assert pet.colormap.name == "hot metal" and pet.blending == "translucent" and ct.visible
    dock.opacity_slider.setValue(45)
    assert pet.opacity == pytest.approx(0.45)


def test_suv_window_choices(opened):
    _viewer, dock, study, _ct, pet = opened
    assert dock.suv_combo.currentText() == SUV_FIXED and not dock.suv_max.isEnabled()
    dock.suv_combo.setCurrentText(SUV_TO_MAX)
    assert tuple(pet.contrast_limits) == pytest.approx((0.0, study.suvmax()))
    dock.suv_combo.setCurrentText(SUV_CUSTOM)
    assert dock.suv_max.isEnabled()
    dock.suv_max.setValue(4.0)
    assert tuple(pet.contrast_limits) == (0.0, 4.0)
    dock.suv_combo.setCurrentText(SUV_FIXED)
    assert tuple(pet.contrast_limits) == (0.0, 10.0)


def _position(viewer, layer) -> tuple[int, int]:
    """The grid panel of ``layer`` (napari 0.9 takes the layer list, earlier releases its length)."""
    layers, grid = list(viewer.layers), grid_of(viewer)
    try:
        return grid.position(layers.index(layer), layers)
    except TypeError:
        return grid.position(layers.index(layer), len(layers))


def test_side_by_side_panels_share_data_follow_windows_and_go_away(opened):
    viewer, dock, _study, ct, pet = opened
    dock.panels_check.setChecked(True)
    assert grid_of(viewer).enabled and grid_of(viewer).shape == (1, 3)
    assert viewer.layers.selection.active is pet  # still the layer the user had selected
    panels = {layer.metadata["petground"]["role"]: layer for layer in viewer.layers
              if layer.metadata.get("petground", {}).get("role", "").endswith("panel")}
    assert panels["ct panel"].data is ct.data and panels["pet panel"].data is pet.data  # no copies
    assert panels["pet panel"].colormap.name == "gray_r"
    positions = {name: _position(viewer, layer)
                 for name, layer in (("ct", panels["ct panel"]), ("pet", panels["pet panel"]), ("fused", pet))}
    assert positions == {"ct": (0, 0), "pet": (0, 1), "fused": (0, 2)}
    assert _position(viewer, ct) == (0, 2)
    # a lesion mask added later stays on the fused panel
    mask = viewer.add_labels(np.zeros(pet.data.shape, np.uint8), scale=pet.scale, translate=pet.translate)
    assert _position(viewer, mask) == (0, 2)
    dock.window_combo.setCurrentText("lung")
    assert tuple(panels["ct panel"].contrast_limits) == tuple(ct.contrast_limits)
    dock.suv_max.setEnabled(True)
    dock.suv_combo.setCurrentText(SUV_TO_MAX)
    assert tuple(panels["pet panel"].contrast_limits) == tuple(pet.contrast_limits)
    dock.panels_check.setChecked(False)
    assert not grid_of(viewer).enabled
    assert [layer for layer in viewer.layers if "panel" in layer.metadata.get("petground", {}).get("role", "")] == []
    assert mask in viewer.layers and ct in viewer.layers and pet in viewer.layers
    assert viewer.layers.selection.active is not None and not panel_role(viewer.layers.selection.active)


def test_mip_and_side_by_side_take_turns(opened):
    viewer, dock, _study, _ct, _pet = opened
    dock.panels_check.setChecked(True)
    dock.mip_check.setChecked(True)
    assert not grid_of(viewer).enabled and not dock.panels_check.isChecked()
    dock.panels_check.setChecked(True)
    assert viewer.dims.ndisplay == 2 and not dock.mip_check.isChecked() and grid_of(viewer).enabled


def _drag(callback, viewer, moves):
    event = SimpleNamespace(type="mouse_press", button=2, pos=(100.0, 100.0))
    steps = callback(viewer, event)
    next(steps)
    assert camera_of(viewer).mouse_pan is False  # the view does not zoom while the window changes
    for pos in moves:
        event.type, event.pos = "mouse_move", pos
        next(steps)
    event.type = "mouse_release"
    with pytest.raises(StopIteration):
        next(steps)


def test_right_drag_changes_the_ct_window_and_not_the_view(opened):
    viewer, dock, _study, ct, _pet = opened
    assert tuple(ct.contrast_limits) == (-160.0, 240.0)  # W400 L40
    zoom = camera_of(viewer).zoom
    _drag(dock._drag, viewer, [(150.0, 100.0), (300.0, 100.0)])  # right: a window twice as wide
    assert tuple(ct.contrast_limits) == pytest.approx((-360.0, 440.0))
    assert dock.window_combo.currentText() == "custom" and dock.width_spin.value() == pytest.approx(800.0)
    assert camera_of(viewer).mouse_pan is True and camera_of(viewer).zoom == zoom
    _drag(dock._drag, viewer, [(100.0, 50.0)])  # up by 50 px: the level rises by a quarter window
    assert tuple(ct.contrast_limits) == pytest.approx((-160.0, 640.0))
    # a left-button drag is napari's pan: left alone
    left = SimpleNamespace(type="mouse_press", button=1, pos=(0.0, 0.0))
    assert list(dock._drag(viewer, left) or []) == []
    assert tuple(ct.contrast_limits) == pytest.approx((-160.0, 640.0))
