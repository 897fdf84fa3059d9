"""The report's image number of the slice on screen, and "go to image N", in the grounding dock.

Checked against numbers the dock does not compute: for the real DICOM sample, the InstanceNumber and the
z position of each PET file read with pydicom; for the demo phantom, the image number its report gives a
lesion and the slice of that lesion's hottest voxel (numbering from the head).
"""

from __future__ import annotations

import re

import pytest

from napari_petground.session import StudySession, session_layers

pytestmark = pytest.mark.gui


def open_study(viewer, settings, study):
    from napari_petground._qt.grounding_dock import GroundingDock

    for data, kwargs, kind in session_layers(StudySession(study)):
        getattr(viewer, f"add_{kind}")(data, **kwargs)
    dock = GroundingDock(viewer, settings=settings, loader=lambda checkpoint, device: None)
    viewer.window.add_dock_widget(dock, area="right")
    return dock


def shown_image(dock) -> int | None:
    found = re.search(r"image (\d+)", dock.image_row.label.text())
    return int(found.group(1)) if found else None


def test_dicom_study_shows_the_instance_number_of_the_slice_on_screen(qtbot, viewer, settings, ibsi_dir):
    import pydicom

    from napari_petground.study import load_study

    files = sorted((ibsi_dir / "STS_002" / "PET").rglob("*.dcm"))
    slices = []
    for path in files:
        header = pydicom.dcmread(path, stop_before_pixels=True)
        if getattr(header, "Modality", "") == "PT":
            slices.append((int(header.InstanceNumber), float(header.ImagePositionPatient[2])))
    assert len(slices) > 20
    dock = open_study(viewer, settings, load_study(ibsi_dir / "STS_002"))
    for number, z in (slices[0], slices[len(slices) // 3], slices[-1]):
        viewer.dims.set_point(0, z)  # the slider moved to that file's slice
        assert shown_image(dock) == number, (z, dock.image_row.label.text())

    for number, z in (slices[5], slices[-3]):  # go to image N: the slice of the file numbered N
        dock.image_row.spin.setValue(number)
        assert dock.image_row.go()
        assert viewer.dims.point[0] == pytest.approx(z, abs=0.5)
        assert shown_image(dock) == number
    dock.release()


def test_demo_shows_the_report_s_image_numbers_and_goes_to_them(qtbot, viewer, settings):
    from napari_petground.phantom.sample import demo_phantom, demo_study

    phantom = demo_phantom()
    study = demo_study()
    dock = open_study(viewer, settings, study)
    checked = 0
    for lesion in phantom.lesions:  # each lesion's image number as the report gives it
        if "image" not in " ".join(s.text for s in phantom.sentences if s.lesion_id == lesion.id):
            continue
        dock.image_row.spin.setValue(lesion.image_number)
        dock.image_row.go_button.click()
        assert shown_image(dock) == lesion.image_number
        z = study.pet.origin[0] + lesion.peak_index[0] * study.pet.spacing[0]
        assert viewer.dims.point[0] == pytest.approx(z)  # the slice of the lesion's hottest voxel
        checked += 1
    assert checked >= 3
    top = study.pet.origin[0] + (study.pet.shape[0] - 1) * study.pet.spacing[0]
    viewer.dims.set_point(0, top)  # the head-most slice is image 1
    assert shown_image(dock) == 1
    viewer.dims.set_current_step(0, 91)  # the slider at 91: the report's image 166 (the demo's iliac wing)
    assert shown_image(dock) == 166
    dock.release()


def test_an_image_number_the_study_does_not_have_is_said_so(qtbot, viewer, settings, monkeypatch):
    import napari.utils.notifications as notifications

    from test_grounding_dock import toy_study

    said: list[str] = []
    monkeypatch.setattr(notifications, "show_warning", said.append)
    study, _truth = toy_study()
    dock = open_study(viewer, settings, study)
    before = tuple(viewer.dims.point)
    dock.image_row.spin.setMaximum(999)
    dock.image_row.spin.setValue(500)
    assert not dock.image_row.go()
    assert said and "no image 500" in said[-1] and "1–40" in said[-1]
    assert tuple(viewer.dims.point) == before
    dock.release()
