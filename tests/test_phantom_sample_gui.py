"""The demo sample opens in a real napari viewer: CT and PET layers carrying the study and its report."""

from __future__ import annotations

import numpy as np
import pytest

from napari_petground.session import role_of, session_of


@pytest.mark.gui
def test_demo_sample_opens_in_napari(make_napari_viewer):
    viewer = make_napari_viewer(strict_qt="raise")
    viewer.open_sample("napari-petground", "demo")
    names = [layer.name for layer in viewer.layers]
    assert names == ["DEMO CT", "DEMO PET"]
    pet = viewer.layers["DEMO PET"]
    session = session_of(pet)
    assert role_of(pet) == "pet" and session.study.source_kind == "phantom"
    assert session_of(viewer.layers["DEMO CT"]) is session  # one session for the study's layers
    study = session.study
    assert "FINDINGS" in study.report
    # physical placement: the PET layer sits on the study's grid, so a lesion's centre maps to its voxel
    lesion = study.extras["truth"]["lesions"][0]
    index = np.rint(np.asarray(pet.world_to_data(lesion["center_mm"]))).astype(int)
    assert study.extras["lesion_labels"][tuple(index)] == lesion["id"]
