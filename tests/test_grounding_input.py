"""Typing into the grounding dock: keys stay in the text box, the study's report is never lost, the progress
bar is no box to type into, and a batch shows each finding's progress with the done ones open for review.

The model is the scripted grounder of test_grounding_dock.
"""

from __future__ import annotations

import numpy as np
import pytest

from test_grounding_dock import LEFT, REPORT, ScriptedGrounder, open_dock, toy_study, wait_idle

pytestmark = pytest.mark.gui

# napari's own keys (accept / reject of the dock, visibility, auto-contrast, label modes, brush, label id,
# dims) in a sentence a user might type
TYPED = "Right lung nodule, SUVmax 9.0, image 20 - a vacuum cap [reef] = 1."


def viewer_state(viewer, dock) -> dict:
    """What napari's keys would change: layers, visibility, contrast, label modes, slice, the shown result."""
    state = {"layers": [layer.name for layer in viewer.layers], "point": tuple(viewer.dims.point),
             "selected": viewer.layers.selection.active.name if viewer.layers.selection.active else None,
             "shown": dock.shown.sentence if dock.shown else None,
             "findings": int(np.count_nonzero(dock.findings_layer().data)),
             "prediction": int(np.count_nonzero(dock.prediction_layer().data)),
             "ndisplay": viewer.dims.ndisplay}
    for layer in viewer.layers:
        state[layer.name] = (layer.visible, getattr(layer, "mode", None), getattr(layer, "selected_label", None),
                             getattr(layer, "brush_size", None), tuple(getattr(layer, "contrast_limits", ()) or ()))
    return state


def test_keys_typed_into_the_text_box_never_reach_the_viewer(qtbot, viewer, settings):
    from qtpy.QtCore import Qt

    study, truth = toy_study()
    dock = open_dock(viewer, settings, study, ScriptedGrounder(truth))
    viewer.window.show()
    dock.findings_list.selectRow(1)
    dock.ground()
    wait_idle(qtbot, dock)
    assert dock.shown is not None  # `a` on the viewer would accept it, `r` reject it
    pet = next(layer for layer in viewer.layers if layer.name.endswith("PET"))
    pet.contrast_limits = (0.5, 3.0)  # `c` on the viewer would set them to the data's range

    for active in (dock.prediction_layer(), pet):  # the keymaps of a labels and of an image layer
        viewer.layers.selection.active = active
        before = viewer_state(viewer, dock)
        dock.text.clear()
        qtbot.keyClicks(dock.text, TYPED)
        for key in (Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_Space, Qt.Key.Key_Backspace):
            qtbot.keyClick(dock.text, key)
        qtbot.keyClick(dock.text, Qt.Key.Key_V, Qt.KeyboardModifier.ShiftModifier)
        qtbot.wait(50)
        assert viewer_state(viewer, dock) == before
        assert dock.text.toPlainText().startswith(TYPED)

    # the same key typed where no text is taken goes to the viewer (the path the text box must stop)
    qtbot.keyClick(dock.stage, Qt.Key.Key_V)
    assert pet.visible is False


def test_a_click_in_the_text_pane_puts_the_cursor_in_the_text_box(qtbot, viewer, settings):
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QApplication

    study, truth = toy_study()
    dock = open_dock(viewer, settings, study, ScriptedGrounder(truth))
    viewer.window.show()
    window = dock.window()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=3000)
    viewer.window._qt_viewer.canvas.native.setFocus()
    for target in (dock.text.viewport(), dock.input.heading, dock.stage):
        viewer.window._qt_viewer.canvas.native.setFocus()
        qtbot.mouseClick(target, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: QApplication.focusWidget() is dock.text, timeout=2000)


def test_the_study_report_comes_back_after_the_user_types_over_it(qtbot, viewer, settings):
    from qtpy.QtCore import Qt

    study, truth = toy_study()
    dock = open_dock(viewer, settings, study, ScriptedGrounder(truth))
    assert dock.text.toPlainText() == REPORT
    assert "the study's report" in dock.input.heading.text() and not dock.input.restore_button.isVisibleTo(dock)

    dock.text.selectAll()
    qtbot.keyClicks(dock.text, LEFT)  # typed over the whole report
    assert dock.text.toPlainText() == LEFT
    assert [f.sentence for f in dock.parse_text()] == [LEFT]
    assert "your text" in dock.input.heading.text() and dock.input.restore_button.isVisibleTo(dock)
    assert study.report == REPORT and dock.session.study.report == REPORT  # the study keeps its report

    dock.input.restore_button.click()
    assert dock.text.toPlainText() == REPORT
    assert len(dock.findings_list.findings) == 3
    assert not dock.input.restore_button.isVisibleTo(dock)
    qtbot.keyClick(dock.text, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # and the typed text is not lost
    assert dock.text.toPlainText() == LEFT


def test_the_progress_bar_is_shown_only_while_grounding_and_says_what_runs(qtbot, viewer, settings):
    study, truth = toy_study()
    dock = open_dock(viewer, settings, study, ScriptedGrounder(truth, delay=0.05))
    viewer.window.show()
    assert not dock.progress.isVisible() and dock.stage.isVisible() and dock.stage.text() == "Idle."
    dock.ground_all()
    qtbot.waitUntil(lambda: dock.progress.isVisible() and dock.progress.value() > 0, timeout=5000)
    assert dock.progress.text().startswith("Finding 1 of 3, ")
    wait_idle(qtbot, dock)
    assert not dock.progress.isVisible() and dock.stage.text() == "Idle."


def test_ground_all_shows_each_finding_s_progress_and_done_ones_can_be_reviewed_meanwhile(qtbot, viewer, settings):
    study, truth = toy_study()
    grounder = ScriptedGrounder(truth, delay=0.08)  # about 1 s per finding
    dock = open_dock(viewer, settings, study, grounder)
    viewer.window.show()
    rows = dock.findings_list
    assert dock.ground_all() == 3
    assert [rows.status_label(r).split(" ")[1] for r in (1, 2)] == ["queued", "queued"]
    qtbot.waitUntil(lambda: rows.status(0) == "●" and rows.status(1) == "▶", timeout=10_000)
    assert rows.status_label(0) == "● done"
    assert rows.status_label(2) == "… queued"
    qtbot.waitUntil(lambda: rows.status_label(1).endswith("%") and rows.status_label(1) != "▶ running 0%",
                    timeout=5000)
    assert rows.status_label(1).startswith("▶ running ")
    assert dock.progress.text().startswith("Finding 2 of 3, ")
    percent = rows.status_label(1).split(" ")[-1]
    assert f", {percent}: " in dock.progress.text()  # the bar and the row say the same
    assert "1 of 3 done" in dock.list_hint.text()

    # the first result is on screen; the second, once done, is looked at while the third runs
    assert dock.shown.sentence == rows.findings[0].sentence
    qtbot.waitUntil(lambda: rows.status(1) == "●" and rows.status(2) == "▶", timeout=10_000)
    rows.activated_row.emit(1)  # a double-click on the done row
    qtbot.waitUntil(lambda: dock.settled, timeout=5000)
    assert dock.runner.busy and dock.shown.sentence == rows.findings[1].sentence
    assert np.array_equal(dock.prediction_layer().data > 0, truth["left"])
    wait_idle(qtbot, dock)
    assert [rows.status_label(r) for r in range(3)] == ["● done"] * 3
    assert dock.shown.sentence == rows.findings[1].sentence  # the last result did not replace it
