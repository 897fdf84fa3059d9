"""The PET/CT display dock in a real napari viewer: windows, SUV range, MIP view, read-out, orientation."""

from __future__ import annotations

import numpy as np
import pytest

from napari_petground._qt.display_panels import text_overlay_of
from napari_petground.study.synthetic import HOT_SUV, synthetic_study

pytestmark = pytest.mark.gui


def _open(make_napari_viewer, qtbot, show: bool):
    from napari_petground._qt.display_dock import DisplayDock
    from napari_petground._qt.launch import add_study

    viewer = make_napari_viewer(show=show, strict_qt="raise")
    study = synthetic_study()
    ct, pet = add_study(viewer, study)
    dock = DisplayDock(viewer)
    viewer.window.add_dock_widget(dock, area="right")  # closed with the viewer
    return viewer, dock, study, ct, pet


@pytest.fixture
def viewer_with_study(make_napari_viewer, qtbot):
    return _open(make_napari_viewer, qtbot, show=False)


@pytest.fixture
def shown_viewer_with_study(make_napari_viewer, qtbot):
    return _open(make_napari_viewer, qtbot, show=True)  # a hidden canvas renders black screenshots


def hot_position(study) -> np.ndarray:
    index = np.unravel_index(np.argmax(study.pet.data), study.pet.shape)
    return study.pet.index_to_world(index)


def test_window_presets_and_custom_window_change_ct_contrast(viewer_with_study):
    _viewer, dock, _study, ct, _pet = viewer_with_study
    assert tuple(ct.contrast_limits) == (-160.0, 240.0)
    assert dock.window_combo.currentText() == "soft_tissue"
    dock.window_combo.setCurrentText("lung")
    assert tuple(ct.contrast_limits) == (-1350.0, 150.0)
    dock.window_combo.setCurrentText("bone")
    assert tuple(ct.contrast_limits) == (-500.0, 1300.0)
    dock.width_spin.setValue(100.0)
    assert tuple(ct.contrast_limits) == (350.0, 450.0)
    assert dock.window_combo.currentText() == "custom"


def test_suv_range_and_opacity(viewer_with_study):
    _viewer, dock, _study, _ct, pet = viewer_with_study
    dock.suv_max.setValue(5.0)
    assert tuple(pet.contrast_limits) == (0.0, 5.0)
    dock.opacity_slider.setValue(30)
    assert pet.opacity == pytest.approx(0.3)


def test_mip_toggle_shows_3d_mip_and_restores(viewer_with_study):
    viewer, dock, _study, ct, pet = viewer_with_study
    dock.mip_check.setChecked(True)
    assert viewer.dims.ndisplay == 3
    assert pet.rendering == "mip" and pet.colormap.name == "gray_r"
    assert not ct.visible
    dock.mip_check.setChecked(False)
    assert viewer.dims.ndisplay == 2
    assert pet.colormap.name == "hot metal" and pet.blending == "translucent"
    assert ct.visible


def test_cursor_readout_speaks_the_report_language(viewer_with_study):
    viewer, dock, study, _ct, _pet = viewer_with_study
    position = hot_position(study)
    viewer.cursor.position = tuple(position)
    dock._on_mouse_move(viewer, None)
    z = int(np.argmax(study.pet.data.max(axis=(1, 2))))
    expected_image = study.numbering.image_for_index(z)
    text = dock.readout.text()
    assert text.startswith(f"image {expected_image} · SUV {HOT_SUV:.1f} · HU ")
    overlay = text_overlay_of(viewer)
    assert overlay.text == text and overlay.visible
    viewer.cursor.position = (1e4, 1e4, 1e4)
    dock._on_mouse_move(viewer, None)
    assert dock.readout.text() == ""


def _bright_column(image: np.ndarray) -> float:
    """Mean column (0..1 of the width) of the brightest pixels of an RGBA screenshot."""
    luminance = image[..., :3].astype(float).sum(axis=-1)
    columns = np.nonzero(luminance >= np.percentile(luminance, 99.8))[1]
    return float(columns.mean()) / image.shape[1]


def _dark_column(image: np.ndarray) -> float:
    luminance = image[..., :3].astype(float).sum(axis=-1)
    lit = luminance > 0  # black canvas outside the volume
    columns = np.nonzero(lit & (luminance <= np.percentile(luminance[lit], 0.5)))[1]
    return float(columns.mean()) / image.shape[1]


def test_radiological_orientation_axial_and_mip(shown_viewer_with_study):
    """The lesion sits in the patient's right lung: it must appear on the screen's left, axial and MIP."""
    viewer, dock, study, ct, _pet = shown_viewer_with_study
    viewer.dims.set_point(0, hot_position(study)[0])
    ct.visible = False
    viewer.reset_view()
    axial = viewer.screenshot(canvas_only=True, flash=False)
    assert axial[..., :3].max() > 0, "the canvas rendered nothing"
    assert _bright_column(axial) < 0.45
    ct.visible = True
    dock.mip_check.setChecked(True)
    mip = viewer.screenshot(canvas_only=True, flash=False)  # gray_r: the hottest voxels are the darkest
    assert _dark_column(mip) < 0.45


def test_view_command_opens_the_study_with_the_docks(tmp_path, monkeypatch):
    import napari

    from napari_petground import cli
    from napari_petground.study.export import export_nifti

    export_nifti(synthetic_study(ct_shape=(16, 32, 32), pet_shape=(8, 16, 16)), tmp_path / "case")
    monkeypatch.setattr(napari, "run", lambda *args, **kwargs: None)  # do not block in the event loop
    assert cli.main(["view", str(tmp_path / "case")]) == 0
    viewer = napari.current_viewer()
    try:
        names = [layer.name for layer in viewer.layers]
        assert names[:2] == ["case CT", "case PET"]  # docks may add their own layers above
        assert "PET/CT display" in viewer.window.dock_widgets
        assert "Ground findings" in viewer.window.dock_widgets
    finally:
        viewer.close()


def test_view_command_needs_a_study_or_the_demo(capsys):
    from napari_petground import cli

    assert cli.main(["view"]) == 2
    assert "--demo" in capsys.readouterr().err
