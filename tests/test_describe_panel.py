"""The Describe panel and the depth strip in a real napari viewer.

The describer is scripted here (real lesion statistics, fixed site ranking) so the panel's plumbing is tested
on its own and fast; the trained describer is tested in test_describe_lesion.py and measured in
benchmarks/bench_describe.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from napari_petground.findings import FindingRecord, lesion_stats
from napari_petground.model.depth import depth_profile
from napari_petground.model.describe import Description, SiteScore
from napari_petground.report.finding import Finding
from napari_petground.report.parse import findings_in_sentence
from napari_petground.session import StudySession, session_layers
from napari_petground.study import ImageNumbering, Study, Volume

pytestmark = pytest.mark.gui


def toy_study() -> tuple[Study, dict[str, np.ndarray]]:
    """40 x 48 x 64 PET/CT (4 mm): a left axillary hot spot (high) and a right pelvic one (low)."""
    zz, yy, xx = np.mgrid[:40, :48, :64]
    body = ((yy - 24) / 20) ** 2 + ((xx - 32) / 28) ** 2 < 1
    pet = np.where(body, 1.0, 0.0).astype(np.float32)
    truth = {}
    for name, (z, y, x), suv in (("axilla", (30, 22, 52), 8.0), ("pelvis", (6, 26, 20), 6.0)):
        d2 = (zz - z) ** 2 + (yy - y) ** 2 + (xx - x) ** 2
        pet += np.where(d2 <= 9, suv * np.exp(-d2 / 12.0), 0.0).astype(np.float32)
        truth[name] = d2 <= 4
    ct = np.where(body, 40.0, -1000.0).astype(np.float32)
    grid = {"spacing": (4.0, 4.0, 4.0), "origin": (-80.0, -96.0, -128.0)}
    study = Study(pet=Volume(pet, **grid), ct=Volume(ct, **grid), numbering=ImageNumbering.from_convention(40),
                  title="toy", tracer="FDG", source_kind="phantom")
    return study, truth


class ScriptedDescriber:
    """Numbers from the mask, the site by height: above the middle 'axillary', below 'inguinal'."""

    def __init__(self):
        self.calls = 0

    def describe(self, session, mask, top=3):
        self.calls += 1
        study = session.study
        s = lesion_stats(study, mask)
        high = s.centroid_mm[0] > 0
        sites = ["axillary_node", "supraclavicular_node", "hilar_node"] if high else \
            ["inguinal_node", "external_iliac_node", "femur"]
        side = s.side if s.side != "midline" else "right"
        alts = [SiteScore(k, side, p) for k, p in zip(sites, (0.7, 0.2, 0.1), strict=True)]
        d = Description("", "", "", s.suvmax, study.numbering.image_for_index(s.peak_index[0]), s.volume_ml,
                        s.peak_index, s.centroid_mm, s.side, alts, study.tracer)
        return d.with_site(alts[0].site, alts[0].side)


@pytest.fixture
def panel_viewer(make_napari_viewer, qtbot):
    from napari_petground._qt.describe_panel import DescribePanel

    viewer = make_napari_viewer(strict_qt="raise")
    study, truth = toy_study()
    for data, kwargs, kind in session_layers(StudySession(study)):
        getattr(viewer, f"add_{kind}")(data, **kwargs)
    describer = ScriptedDescriber()
    panel = DescribePanel(viewer, describer)
    viewer.window.add_dock_widget(panel)
    return viewer, panel, study, truth, describer


def _world(study, index):
    return tuple(float(v) for v in study.pet.index_to_world(np.asarray(index, float)))


def test_key_d_describes_the_hot_spot_near_the_cursor(panel_viewer, qtbot):
    viewer, panel, study, truth, _ = panel_viewer
    viewer.cursor.position = _world(study, (30, 23, 50))  # beside the axillary peak, not on it
    qtbot.keyClick(viewer.window._qt_viewer.canvas.native, "d")
    qtbot.waitUntil(lambda: panel.description is not None and not panel.busy, timeout=10000)
    d = panel.description
    assert d.sentence.startswith("Hypermetabolic left axillary lymph node, SUVmax")
    assert d.peak_index == (30, 22, 52)
    assert f"image {study.numbering.image_for_index(30)}" in panel.numbers.text()
    described = [layer for layer in viewer.layers if layer.name == "described"]
    assert described and described[0].data[30, 22, 52] == 1 and not described[0].data[6, 26, 20]
    assert panel.sentence.toPlainText() == d.sentence and not panel.sentence.isReadOnly()
    assert panel.alternatives.count() == 3 and "70%" in panel.alternatives.item(0).text()
    panel.alternatives.itemClicked.emit(panel.alternatives.item(1))
    assert "left supraclavicular lymph node" in panel.sentence.toPlainText()


def test_a_label_under_the_cursor_is_described_as_painted(panel_viewer, qtbot):
    viewer, panel, study, truth, _ = panel_viewer
    painted = np.zeros(study.pet.shape, np.uint8)
    painted[truth["pelvis"]] = 3
    layer = viewer.add_labels(painted, name="painted", scale=study.pet.spacing, translate=study.pet.origin)
    viewer.layers.selection.active = layer
    viewer.cursor.position = _world(study, (6, 26, 20))
    panel.describe_at_cursor()
    qtbot.waitUntil(lambda: panel.description is not None and not panel.busy, timeout=10000)
    assert panel.description.volume_ml == pytest.approx(truth["pelvis"].sum() * 0.064)
    assert "right inguinal lymph node" in panel.description.sentence
    layer.selected_label = 3
    panel.description = None
    panel.describe_selected_label()
    qtbot.waitUntil(lambda: panel.description is not None and not panel.busy, timeout=10000)
    assert panel.description.volume_ml == pytest.approx(truth["pelvis"].sum() * 0.064)


def test_pointing_at_nothing_warns_and_stays_usable(panel_viewer, qtbot):
    viewer, panel, study, _, describer = panel_viewer
    viewer.cursor.position = _world(study, (20, 1, 1))  # air outside the body
    panel.describe_at_cursor()
    qtbot.waitUntil(lambda: not panel.busy, timeout=10000)
    assert panel.description is None and "point" in panel.status.text().lower()
    assert panel.describe_button.isEnabled()


def test_draft_findings_head_to_feet_with_the_readers_site(panel_viewer, qtbot):
    viewer, panel, study, truth, _ = panel_viewer
    from napari_petground._qt.grounding_layers import ensure_findings_layer, session_in

    session = session_in(viewer)
    layer = ensure_findings_layer(viewer, session)
    data = np.zeros(study.pet.shape, np.uint16)
    data[truth["pelvis"]] = 1
    data[truth["axilla"]] = 2
    layer.data = data
    # the reader's finding as accepted (a sentence longer than a DICOM segment label: nothing is cut or re-read)
    sentence = "Right external iliac node, SUVmax 6.0, unchanged in size since the examination of last spring."
    session.findings.add(FindingRecord(1, sentence, findings_in_sentence(sentence)[0]))
    panel.draft_findings()
    qtbot.waitUntil(lambda: panel.findings_text.toPlainText() != "", timeout=10000)
    text = panel.findings_text.toPlainText()
    first, second = text.split(". ", 1)
    assert first.startswith("Hypermetabolic left axillary lymph node")  # the higher lesion first
    assert second.startswith("Hypermetabolic right external iliac lymph node")  # the reader's site kept
    assert f"SUVmax {study.pet.data[truth['pelvis']].max():.1f}" in second  # numbers measured on the voxels


def test_the_sessions_findings_supply_the_accepted_findings(make_napari_viewer, qtbot):
    from napari_petground._qt.describe_panel import DescribePanel
    from napari_petground._qt.grounding_layers import ensure_findings_layer

    viewer = make_napari_viewer(strict_qt="raise")
    study, truth = toy_study()
    session = StudySession(study)
    for data, kwargs, kind in session_layers(session):
        getattr(viewer, f"add_{kind}")(data, **kwargs)
    layer = ensure_findings_layer(viewer, session)
    data = np.zeros(study.pet.shape, np.uint16)
    data[truth["axilla"]] = 5
    layer.data = data
    session.findings.add(FindingRecord(5, "Left supraclavicular node.", Finding("x", site="supraclavicular_node",
                                                                                laterality="left")))
    panel = DescribePanel(viewer, ScriptedDescriber())
    viewer.window.add_dock_widget(panel)
    panel.draft_findings()
    qtbot.waitUntil(lambda: panel.findings_text.toPlainText() != "", timeout=10000)
    assert panel.findings_text.toPlainText().startswith("Hypermetabolic left supraclavicular lymph node")


def test_depth_strip_shows_the_profile_and_moves_the_view(make_napari_viewer, qtbot):
    from napari_petground._qt.depth_strip import DepthStrip, show_depth

    viewer = make_napari_viewer(strict_qt="raise")
    study, _ = toy_study()
    for data, kwargs, kind in session_layers(StudySession(study)):
        getattr(viewer, f"add_{kind}")(data, **kwargs)
    strip = DepthStrip(viewer)
    viewer.window.add_dock_widget(strip, area="left")
    prob = np.zeros((10, 12, 16), np.float32)
    prob[7, 5, 5] = 0.9
    model_z = -80.0 + 16.0 * np.arange(10)  # a coarser model grid over the same body
    profile = depth_profile(prob, model_z)
    z = show_depth(viewer, strip, study, profile)
    assert z == pytest.approx(model_z[7], abs=8.0)
    assert viewer.dims.point[0] == pytest.approx(z, abs=4.0)
    on_slices = strip.slice_probability()
    assert on_slices.sum() == pytest.approx(1.0)
    assert abs(study.pet.index_to_world((int(np.argmax(on_slices)), 0, 0))[0] - model_z[7]) <= 8.0
    # the head end is drawn at the top; clicking near the bottom moves to the feet
    assert strip.y_of(60.0) < strip.y_of(-60.0)
    from qtpy.QtCore import QPoint, Qt

    qtbot.mouseClick(strip, Qt.MouseButton.LeftButton, pos=QPoint(2, strip.height() - 3))
    assert viewer.dims.point[0] < -60.0
    strip.grab()  # paints without error


def test_changing_the_checkpoint_reloads_the_describer(make_napari_viewer, qtbot):
    from napari_petground._qt.describe_panel import DescribePanel

    viewer = make_napari_viewer(strict_qt="raise")
    study, _ = toy_study()
    for data, kwargs, kind in session_layers(StudySession(study)):
        getattr(viewer, f"add_{kind}")(data, **kwargs)
    loaded = []
    panel = DescribePanel(viewer, loader=lambda ck: loaded.append(ck) or ScriptedDescriber())
    viewer.window.add_dock_widget(panel)
    viewer.cursor.position = _world(study, (30, 22, 52))
    panel.describe_at_cursor()
    qtbot.waitUntil(lambda: not panel.busy, timeout=10000)
    assert panel.description is not None, panel.status.text()
    panel.set_checkpoint("/models/other")
    panel.description = None
    viewer.cursor.position = _world(study, (30, 22, 52))  # adding the described layer moved the cursor
    panel.describe_at_cursor()
    qtbot.waitUntil(lambda: not panel.busy, timeout=10000)
    assert panel.description is not None, panel.status.text()
    assert loaded == [None, "/models/other"]


def test_described_lesion_is_accepted_as_a_finding_with_the_edited_sentence(panel_viewer, qtbot, tmp_path):
    from qtpy.QtCore import QSettings

    from napari_petground._qt.grounding_dock import GroundingDock

    viewer, panel, study, truth, _ = panel_viewer
    viewer.cursor.position = _world(study, (30, 23, 50))
    qtbot.keyClick(viewer.window._qt_viewer.canvas.native, "d")
    qtbot.waitUntil(lambda: panel.description is not None and not panel.busy, timeout=10000)
    edited = "Left axillary node, SUVmax 8.0, image 10, new since prior."
    panel.sentence.setPlainText(edited)
    assert panel.accept_button.isEnabled()
    record = panel.accept_as_finding()  # kept in the study's session: no grounding dock needed
    assert record is not None and record.sentence == edited and record.finding.laterality == "left"

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    dock = GroundingDock(viewer, settings=settings, loader=lambda checkpoint, device: None)
    viewer.window.add_dock_widget(dock, area="right")
    findings = dock.findings_layer()
    np.testing.assert_array_equal(findings.data == record.label, panel.mask)
    assert findings.data[30, 22, 52] == record.label
    assert [r.sentence for r in dock.findings_panel.accepted_findings()] == [edited]  # the dock's table
    findings.undo()  # one undo step, like an accepted grounding
    assert not np.any(findings.data)
    dock.release()


def test_the_describer_is_loaded_while_no_other_thread_imports_the_model_libraries(monkeypatch):
    """The grounding dock imports transformers & co. in the background; loading the describer at the same
    time failed ("cannot import name 'AutoModel'"): both take the same import lock."""
    from napari_petground._qt.describe_panel import default_describer
    from napari_petground._qt.grounding_runner import IMPORT_LOCK
    from napari_petground.model.describe import Describer

    def lock_is_free(checkpoint, device=None):
        free = IMPORT_LOCK.acquire(blocking=False)
        if free:
            IMPORT_LOCK.release()
        return free

    monkeypatch.setattr(Describer, "from_checkpoint", staticmethod(lock_is_free))
    assert default_describer(None) is False  # loaded under the lock
    assert lock_is_free(None)  # and released afterwards
