"""Accepted findings from the grounding dock in a real napari viewer: accept and napari's undo, an edited
prediction, save and reload with the sentences (NIfTI and DICOM SEG), and a closed study freed with its
session. The model is the scripted grounder of test_grounding_dock."""

from __future__ import annotations

import numpy as np
import pytest

from napari_petground.session import StudySession, session_layers
from test_grounding_dock import LEFT, ScriptedGrounder, open_dock, toy_study, wait_idle

pytestmark = pytest.mark.gui


def test_accept_moves_the_prediction_into_findings_and_ctrl_z_takes_it_back(qtbot, viewer, settings):
    from qtpy.QtCore import Qt

    study, truth = toy_study()
    dock = open_dock(viewer, settings, study, ScriptedGrounder(truth))
    dock.findings_list.selectRow(1)
    dock.ground()
    wait_idle(qtbot, dock)
    viewer.keymap  # noqa: B018 (the viewer keymap holds the dock's keys)
    canvas = viewer.window._qt_viewer.canvas.native
    qtbot.keyClick(canvas, Qt.Key.Key_A)
    findings = dock.findings_layer()
    assert findings is not None and viewer.layers.selection.active is findings
    np.testing.assert_array_equal(findings.data == 1, truth["left"])
    assert not np.any(dock.prediction_layer().data)
    qtbot.waitUntil(lambda: dock.findings_panel.table.labels() == [1], timeout=2000)
    assert dock.findings_panel.table.sentences() == {1: LEFT}
    assert dock.findings_list.status(1) == "✓"

    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # napari's own undo
    assert not np.any(findings.data)
    qtbot.waitUntil(lambda: dock.findings_panel.table.labels() == [], timeout=2000)
    assert dock.findings_list.status(1) == "●"  # grounded, to review again
    findings.redo()
    qtbot.waitUntil(lambda: dock.findings_panel.table.labels() == [1], timeout=2000)
    assert dock.findings_list.status(1) == "✓"


def test_edited_prediction_is_accepted_as_painted_and_reject_clears(qtbot, viewer, settings):
    study, truth = toy_study()
    dock = open_dock(viewer, settings, study, ScriptedGrounder(truth))
    dock.ground_all()
    wait_idle(qtbot, dock)
    prediction = dock.prediction_layer()
    extra = np.zeros(study.pet.shape, dtype=bool)
    extra[20, 24, 18:21] = True  # extend the right lung lesion by three voxels with napari's own editing
    prediction.data_setitem(np.nonzero(extra), 1)
    qtbot.waitUntil(lambda: "Edited" in dock.result.messages.text(), timeout=2000)
    # the checks are rerun on the edited mask: SUVmax and image still agree with the sentence
    assert dock.result.marks()["SUVmax"] == "✓" and dock.result.marks()["Images"] == "✓"
    assert dock.result.values()["Volume (ml)"] == f"{(truth['right'].sum() + 3) * 0.064:.1f}"
    dock.accept()
    record = dock.session.findings.get(1)
    assert record.edited and record.stats.n_voxels == int(truth["right"].sum()) + 3
    assert record.agreement["suv_ok"] is True and record.agreement["side_ok"] is True
    # the next grounded finding is shown for review, and "r" rejects it
    assert dock.shown.sentence == LEFT
    viewer.layers.selection.active = prediction
    dock._key_reject(viewer)
    assert dock.findings_list.status(1) == "✗"
    assert dock.shown.sentence == "Mediastinal node with SUVmax 7.5."
    np.testing.assert_array_equal(prediction.data > 0, truth["mediastinal"])


def test_findings_are_saved_and_reloaded_with_their_sentences(qtbot, viewer, settings, tmp_path):
    study, truth = toy_study()
    dock = open_dock(viewer, settings, study, ScriptedGrounder(truth))
    dock.ground_all()
    wait_idle(qtbot, dock)
    dock.accept()
    dock.accept()
    saved = np.array(dock.findings_layer().data)
    written = dock.findings_panel.save_to(tmp_path / "toy_findings.nii.gz")
    assert [p.name for p in written] == ["toy_findings.nii.gz", "toy_findings.nii.gz.json"]

    # the study is opened again another day: the old dock is removed (its keys go back on their next use) ...
    assert dock._key_accept in viewer.keymap.values()
    viewer.window.remove_dock_widget(dock)
    dock._key_accept(viewer)
    assert dock._key_accept not in viewer.keymap.values() and dock.findings_panel.rows[-1].label == 2
    viewer.layers.clear()

    # ... and a fresh session and dock make a fresh findings layer, into which the saved findings load
    dock2 = open_dock(viewer, settings, study, ScriptedGrounder(truth))
    assert dock2.session is not dock.session and not np.any(dock2.findings_layer().data)
    assert dock2.findings_panel.load_from(written[0]) == []
    np.testing.assert_array_equal(dock2.findings_layer().data, saved)
    dock2.findings_panel.refresh()
    assert dock2.findings_panel.table.sentences() == {1: "Right lung nodule, SUVmax 9.0, image 20.", 2: LEFT}
    assert [dock2.findings_list.status(r) for r in range(3)] == ["✓", "✓", ""]
    dock2.findings_layer().undo()  # loading is one undo step too
    assert not np.any(dock2.findings_layer().data)


def test_dicom_study_findings_save_as_dicom_seg(qtbot, viewer, settings, tmp_path, ibsi_dir):
    from napari_petground.study import load_study

    study = load_study(ibsi_dir / "STS_002")
    pet = study.pet.data
    hot = pet >= 0.5 * pet.max()  # the sarcoma's hottest part, standing in for the model's answer
    sentence = "Intensely FDG-avid left thigh mass, SUVmax 9.9."
    dock = open_dock(viewer, settings, study, ScriptedGrounder({"thigh": hot}))
    dock.text.setPlainText(sentence)
    dock.ground()
    wait_idle(qtbot, dock)
    np.testing.assert_array_equal(dock.prediction_layer().data > 0, hot)
    # a crop around a thigh tumour does not show the body's midline: the Side row says the side is not judged
    assert dock.result.values()["Side"] == "side not judged"
    assert dock.result.marks()["Side"] == ""
    dock.accept()
    written = dock.findings_panel.save_to(tmp_path / "sts002.dcm")
    assert [p.name for p in written] == ["sts002.dcm", "sts002.dcm.json"]
    dock.findings_layer().undo()
    dock.findings_panel.load_from(written[0])
    np.testing.assert_array_equal(dock.findings_layer().data > 0, hot)
    dock.findings_panel.refresh()
    assert list(dock.findings_panel.table.sentences().values()) == [sentence]


def test_a_closed_study_is_not_kept_alive_by_the_docks(qtbot, viewer, settings):
    """Everything of a study lives in its session, which only its layers hold: removing the layers frees it
    (results, accepted findings and features included), whatever was grounded and accepted."""
    import gc
    import weakref

    study, truth = toy_study()
    dock = open_dock(viewer, settings, study, ScriptedGrounder(truth, delay=0.0))
    dock.ground_all()
    wait_idle(qtbot, dock)
    dock.accept()
    assert len(dock.session.findings) == 1 and len(dock.session.results) == 3
    gone = weakref.ref(dock.session)
    viewer.layers.clear()
    other, _ = toy_study()
    for data, kwargs, _kind in session_layers(StudySession(other)):
        viewer.add_image(data, **kwargs)
    qtbot.wait(50)
    gc.collect()
    assert dock.study is other and gone() is None


def test_napari_save_selected_layer_writes_the_findings_with_their_sentences(qtbot, viewer, settings, tmp_path):
    """File > Save Selected Layer(s) on the findings layer goes through the plugin's npe2 writer: the labels in
    the study's geometry and the sidecar with each label's sentence, as Save findings… does."""
    from napari_petground.findings import load_findings

    study, truth = toy_study()
    dock = open_dock(viewer, settings, study, ScriptedGrounder(truth, delay=0.0))
    dock.ground_all()
    wait_idle(qtbot, dock)
    dock.accept()
    dock.accept()
    viewer.layers.selection = {dock.findings_layer()}
    written = viewer.layers.save(str(tmp_path / "saved.nii.gz"), selected=True, plugin="napari-petground")
    assert sorted(written) == [str(tmp_path / "saved.nii.gz"), str(tmp_path / "saved.nii.gz.json")]
    loaded = load_findings(tmp_path / "saved.nii.gz", study)
    assert {r.label: r.sentence for r in loaded.records} == {1: "Right lung nodule, SUVmax 9.0, image 20.", 2: LEFT}
    np.testing.assert_array_equal(loaded.labels, dock.findings_layer().data)
