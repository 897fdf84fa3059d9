"""Opening a saved phantom folder or NIfTI pair in a real napari viewer through the plugin's reader.

napari's ``viewer.open(path)`` means its own built-in reader unless told otherwise (``plugin="napari"`` is
its default); a drop or *File › Open* asks napari's reader preferences, and the plugin's reader is one of the
readers offered for every PET/CT folder, file or pair.
"""

from __future__ import annotations

import pytest
from npe2 import PluginManager

from napari_petground.phantom import make_phantom
from napari_petground.phantom.io import save_phantom
from napari_petground.session import session_of

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def phantom_folder(tmp_path_factory):
    phantom = make_phantom(11, resolution_mm=8.0, n_lesions=2, tracer="DOTATATE")
    return phantom, save_phantom(phantom, tmp_path_factory.mktemp("saved"), format="nifti")


def _roles(viewer) -> dict:
    return {layer.metadata["petground"]["role"]: layer for layer in viewer.layers}


def test_plugin_reader_is_offered_for_folders_files_and_pairs(phantom_folder):
    _phantom, folder = phantom_folder
    manager = PluginManager.instance()
    manager.discover()
    for path in ([str(folder)], [str(folder / "pet_suv.nii.gz")]):
        assert "napari-petground" in {r.plugin_name for r in manager.iter_compatible_readers(path)}, path


@pytest.mark.parametrize("how", ["folder", "pair"])
def test_open_a_saved_phantom_keeps_tracer_and_report(make_napari_viewer, phantom_folder, how):
    phantom, folder = phantom_folder
    viewer = make_napari_viewer(strict_qt="raise")
    if how == "folder":
        viewer.open(str(folder), plugin="napari-petground")
    else:
        viewer.open([str(folder / "ct.nii.gz"), str(folder / "pet_suv.nii.gz")], stack=True,
                    plugin="napari-petground")
    layers = _roles(viewer)
    assert set(layers) == {"ct", "pet"}
    study = session_of(layers["pet"]).study
    assert study.tracer == "DOTATATE" and study.pet_is_suv
    assert layers["pet"].metadata["report"] == phantom.report
    assert not any("units" in w for w in layers["pet"].metadata["warnings"])


def test_a_remembered_reader_choice_opens_the_folder_unnamed(make_napari_viewer, phantom_folder):
    """What the reader dialog's "remember this choice" stores: then ``plugin=None`` (a drop) needs no choice."""
    from napari.settings import get_settings

    _phantom, folder = phantom_folder
    viewer = make_napari_viewer(strict_qt="raise")
    plugins = get_settings().plugins
    before = dict(plugins.extension2reader)
    try:
        plugins.extension2reader = {**before, f"{folder.resolve()}/": "napari-petground"}
        viewer.open(str(folder), plugin=None)
    finally:
        plugins.extension2reader = before
    assert set(_roles(viewer)) == {"ct", "pet"}
