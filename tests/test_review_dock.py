"""The review dock in a real napari viewer: accept, fix by painting, reject, candidates, resume, keys."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from napari_petground._qt.grounding_layers import camera_of
from napari_petground._qt.review_layers import canvas_size
from napari_petground.review import ReviewQueue
from napari_petground.review.demo import make_demo_dataset

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_demo_dataset(tmp_path_factory.mktemp("demo") / "ds", n_cases=2, shape=(40, 32, 32),
                             spacing=(12.0, 12.0, 12.0))


@pytest.fixture
def setup(template, tmp_path, qtbot, make_napari_viewer):
    from qtpy.QtCore import QSettings

    from napari_petground._qt.review_dock import ReviewDock

    root = shutil.copytree(template, tmp_path / "ds")
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    viewer = make_napari_viewer(strict_qt="raise")

    def make_dock():
        dock = ReviewDock(viewer, settings=settings)
        viewer.window.add_dock_widget(dock, area="right")  # closed with the viewer
        return dock

    yield root, viewer, make_dock


def press(viewer, qtbot, key: str) -> None:
    """A key press on the canvas, dispatched by napari to the active layer's and the viewer's keymaps."""
    qtbot.keyClick(viewer.window._qt_viewer, key)


def history(root, item_id):
    with ReviewQueue(root) as q:
        return q.history(item_id)


def test_open_shows_the_item_with_highlighted_numbers_on_the_pet_grid(setup):
    root, viewer, make_dock = setup
    dock = make_dock()
    assert dock.open_dataset(root, "anna")
    assert dock.item_id == "demo001:0"
    names = [layer.name for layer in viewer.layers]
    assert names == ["demo001 CT", "demo001 PET", "candidates", "review mask"]
    pet_layer, mask_layer = viewer.layers["demo001 PET"], viewer.layers["review mask"]
    assert pet_layer.metadata["petground"]["role"] == "pet"
    assert tuple(mask_layer.scale) == tuple(pet_layer.scale) == (12.0, 12.0, 12.0)
    assert tuple(mask_layer.translate) == tuple(pet_layer.translate)
    with ReviewQueue(root) as q:
        weak = q.weak_mask(q.item("demo001:0"))
    assert np.array_equal(mask_layer.data > 0, weak)
    html = dock.panel.sentence_label.text()
    assert 'title="suvmax">12.3</span>' in html and 'title="slice">' in html
    # the view jumped to the lesion: the slider's slice holds it, the camera looks at its centre
    z = int(round(viewer.dims.point[0] - pet_layer.translate[0]) / pet_layer.scale[0])
    assert weak[z].any()
    centre = pet_layer.translate[1:] + np.argwhere(weak)[:, 1:].mean(axis=0) * pet_layer.scale[1:]
    camera, size = camera_of(viewer), canvas_size(viewer)
    if size is not None:  # napari 0.9 says the canvas size publicly
        half_view = size / camera.zoom / 2
        assert np.all(np.abs(np.asarray(camera.center[1:]) - centre) < half_view)  # on screen
    camera.zoom *= 20  # zoomed in elsewhere: the jump pans to the lesion
    camera.center = (0.0, -150.0, -150.0)
    dock.layers.jump_to(weak)
    assert np.allclose(camera.center[1:], centre, atol=1e-6)
    assert "0 / 12 done" in dock.panel.progress.text()
    assert dock.settings.value("annotator") == "anna"


def test_accept_fix_reject_with_keys(setup, qtbot):
    root, viewer, make_dock = setup
    dock = make_dock()
    dock.open_dataset(root, "anna")
    press(viewer, qtbot, "a")
    assert [(d.action, d.annotator) for d in history(root, "demo001:0")] == [("accept", "anna")]
    assert dock.item_id == "demo001:1"
    # paint three voxels with the Labels layer's own (undoable) editing call, then save with f; they lie
    # where the next item's lesion is, so a stale undo on that item would show
    mask_layer = viewer.layers["review mask"]
    weak = mask_layer.data > 0
    with ReviewQueue(root) as q:
        next_weak = q.weak_mask(q.item("demo001:2"))
    added = tuple(np.argwhere(next_weak)[:3].T)
    mask_layer.data_setitem(added, 1)
    assert dock.layers.edited()
    press(viewer, qtbot, "a")  # accepting would drop the painting: refused, nothing recorded
    assert history(root, "demo001:1") == [] and "painted" in dock.panel.message_label.text()
    press(viewer, qtbot, "f")
    (fix,) = history(root, "demo001:1")
    mask_layer.undo()  # the painting belonged to the previous item: nothing to undo on this one
    assert np.array_equal(mask_layer.data > 0, next_weak)
    assert fix.action == "fix" and fix.outcome == "boundary" and fix.annotator == "anna"
    expected = weak.copy()
    expected[added] = True
    with ReviewQueue(root) as q:
        assert np.array_equal(q.fixed_mask(fix), expected)
    assert dock.item_id == "demo001:2"
    dock.panel.reason_combo.setCurrentIndex(dock.panel.reason_combo.findData("not_a_lesion"))
    dock.panel.note_edit.setText("brown fat")
    press(viewer, qtbot, "r")
    (rejected,) = history(root, "demo001:2")
    assert (rejected.action, rejected.reason, rejected.note) == ("reject", "not_a_lesion", "brown fat")
    assert "3 / 12 done" in dock.panel.progress.text()
    assert dock.panel.progress_label.text() == "you decided 3"


def test_ambiguous_item_pick_a_candidate_with_digit_keys(setup, qtbot):
    root, viewer, make_dock = setup
    dock = make_dock()
    dock.open_dataset(root, "ben")
    dock.panel.status_combo.setCurrentText("ambiguous")
    press(viewer, qtbot, "n")  # the undecided item is skipped for later, the filter hands out the next
    assert [d.action for d in history(root, "demo001:0")] == ["skip"]
    assert dock.item_id == "demo002:3"
    assert dock.panel.candidate_box.isVisibleTo(dock) and dock.panel.candidate_list.count() == 2
    candidates = viewer.layers["candidates"]
    assert candidates.visible and set(np.unique(candidates.data)) == {0, 1, 2}
    press(viewer, qtbot, "2")
    assert dock.picked == 1
    assert np.array_equal(viewer.layers["review mask"].data > 0, candidates.data == 2)
    press(viewer, qtbot, "a")
    (chosen,) = history(root, "demo002:3")
    assert (chosen.action, chosen.candidate) == ("choose", 1)


def test_resume_after_recreating_the_dock_and_previous(setup, qtbot):
    root, viewer, make_dock = setup
    dock = make_dock()
    dock.open_dataset(root, "anna")
    assert {"A", "F", "R", "N", "P"} <= {str(k) for k in viewer.keymap}
    dock.accept()
    dock.accept()
    assert dock.item_id == "demo001:2"
    with ReviewQueue(root) as q:
        assert q.held("anna").item_id == "demo001:2"
    dock.close()
    with ReviewQueue(root) as q:
        assert q.held("anna") is None  # closing gave the item back
        assert "A" not in {str(k) for k in viewer.keymap}  # and the keys
    dock = make_dock()
    assert dock.panel.annotator_edit.text() == "anna" and dock.panel.folder_edit.text() == str(root)
    dock.open_dataset()
    assert dock.item_id == "demo001:2"  # where anna stopped
    press(viewer, qtbot, "p")
    assert dock.item_id == "demo001:1"
    press(viewer, qtbot, "p")
    assert dock.item_id == "demo001:0"
    press(viewer, qtbot, "n")  # forward through her decisions, without recording anything
    assert dock.item_id == "demo001:1"
    dock.reject("numbers_wrong")  # she changes her mind: a new row, the old one stays
    assert [d.action for d in history(root, "demo001:1")] == ["accept", "reject"]
    assert dock.item_id == "demo001:2"


def test_the_dock_never_shows_an_item_another_annotator_holds(setup):
    root, _viewer, make_dock = setup
    with ReviewQueue(root) as q:
        q.import_dataset()
        ben = q.claim("ben")  # ben, in another napari on another machine, has the first item
    dock = make_dock()
    dock.open_dataset(root, "anna")
    assert dock.item_id != ben.item_id
    assert not dock._open_item(ben.item_id)
    assert "being reviewed by ben" in dock.panel.message_label.text()
    dock.accept()
    with ReviewQueue(root) as q:
        assert q.holds(ben) and q.history(ben.item_id) == []


def test_a_missing_fix_mask_is_flagged_in_the_dock(setup):
    root, _viewer, make_dock = setup
    with ReviewQueue(root) as q:
        q.import_dataset()
        item = q.item("demo001:0")
        fix = q.fix(q.claim_item(item.item_id, "anna"), np.roll(q.weak_mask(item), 1, axis=1))
    (root / fix.mask_path).unlink()
    dock = make_dock()
    dock.open_dataset(root, "anna")
    assert "went missing" in dock.panel.message_label.text()
    assert dock.item_id == "demo001:0" and "mask_missing" in dock.panel.item_label.text()


def test_a_lapsed_lease_is_taken_back_quietly_unless_someone_else_has_the_item(setup):
    root, _viewer, make_dock = setup
    dock = make_dock()
    dock.open_dataset(root, "anna")
    first = dock.item_id
    with ReviewQueue(root) as q:
        q.release(dock.lease)  # as if it had expired with nobody else around
    assert dock.accept()
    assert [(d.action, d.annotator) for d in history(root, first)] == [("accept", "anna")]
    second = dock.item_id
    with ReviewQueue(root) as q:
        q.release(dock.lease)
        q.claim_item(second, "ben")  # ben picked it up meanwhile
    assert not dock.accept()
    assert "being reviewed by ben" in dock.panel.message_label.text()
    assert history(root, second) == []


def test_the_masks_own_flags_are_explained_to_the_reviewer(setup):
    """A weak mask flagged by the delineation (here: cut by the image border) says what that means."""
    import json

    from napari_petground.weaklabel.grow import FLAG_TEXT

    root, _viewer, make_dock = setup
    items = root / "items" / "demo001.jsonl"
    rows = [json.loads(line) for line in items.read_text().splitlines() if line.strip()]
    rows[0]["flags"] = ["touches_border"]
    items.write_text("".join(json.dumps(r) + "\n" for r in rows))
    dock = make_dock()
    dock.open_dataset(root, "anna")
    assert dock.item_id == "demo001:0"
    assert "touches_border" in dock.panel.item_label.text()
    assert FLAG_TEXT["touches_border"] in dock.panel.info_label.text()
