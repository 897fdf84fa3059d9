"""The grounding dock as a user sees it on a laptop screen (1366 × 768) and a desktop one (1920 × 1080).

The demo study is opened as ``petground view --demo`` opens it; the window is sized to the screen. Every
finding of the demo's report is listed in full (rows as tall as their wrapped sentence, the status in words
fits its column), and the result of each, with a long site description, is shown without a cell elided,
squeezed or overlapping another: Qt's font metrics say whether a text fits the width its label was given.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

pytestmark = pytest.mark.gui

SCREENS = ((1366, 768), (1920, 1080))
LONG_SITE = "left para-aortic mediastinal lymph node"  # as long as the describer's phrases get


@pytest.fixture
def user_settings(tmp_path, monkeypatch):
    """The dock's remembered settings in a temporary file, and no background import of the model."""
    from qtpy.QtCore import QSettings

    from napari_petground._qt import grounding_runner, grounding_settings

    path = str(tmp_path / "settings.ini")
    monkeypatch.setattr(grounding_settings, "default_settings", lambda: QSettings(path, QSettings.Format.IniFormat))
    monkeypatch.setattr(grounding_runner.GroundingRunner, "warm_up", lambda self: None)


def open_demo(qtbot, viewer, width: int, height: int):
    """The demo with the docks of ``petground view --demo``, its window sized to the screen; the dock."""
    from napari_petground._qt.launch import add_study, dock_widgets
    from napari_petground.phantom.sample import demo_study

    add_study(viewer, demo_study())
    dock = dock_widgets(viewer)[0]
    viewer.window.show()
    viewer.window.resize(width, height)
    qtbot.waitUntil(lambda: dock.isVisible() and not dock.visibleRegion().isEmpty(), timeout=5000)
    qtbot.wait(300)  # the dock's first sizing runs once the event loop comes round
    return dock


def plain(text: str) -> str:
    return re.sub(r"<[^>]+>", "", text)


def not_whole(label) -> str | None:
    """Why ``label`` does not show its whole text, or None when it does."""
    from qtpy.QtGui import QFontMetrics

    text = plain(label.text())
    if not text.strip():
        return None
    font = label.font()
    font.setBold(font.bold() or "<b>" in label.text())
    metrics = QFontMetrics(font)
    width = label.contentsRect().width() - 2 * label.margin() - max(label.indent(), 0)
    if "…" in text:
        return f"{text!r} is shortened"
    if label.wordWrap():
        wide = [w for w in text.split() if metrics.horizontalAdvance(w) > width]
        if wide:
            return f"{wide} wider than {width} px"
        if label.height() < label.heightForWidth(label.width()):
            return f"{text!r} needs {label.heightForWidth(label.width())} px of height, has {label.height()}"
        return None
    if metrics.horizontalAdvance(text) > width:
        return f"{text!r} needs {metrics.horizontalAdvance(text)} px, has {width}"
    if label.height() < metrics.height():
        return f"{text!r} is {label.height()} px high, its font {metrics.height()}"
    return None


def overlapping(labels) -> list[tuple[str, str]]:
    """Pairs of labels (of one grid) whose rectangles overlap."""
    pairs = []
    for i, a in enumerate(labels):
        for b in labels[i + 1:]:
            if a.text() and b.text() and a.geometry().intersects(b.geometry()):
                pairs.append((plain(a.text()), plain(b.text())))
    return pairs


def demo_results(session):
    """A result for every finding of the demo's report, on its own lesion, described as the model does (side
    and site), with one long description among them."""
    from napari_petground.findings import lesion_stats
    from napari_petground.phantom.sample import demo_phantom
    from napari_petground.report import extract_findings
    from napari_petground.report.lexicon import SITE_BY_KEY
    from napari_petground.session import GroundingResult
    from napari_petground.weaklabel.agreement import check_agreement

    phantom = demo_phantom()
    study = session.study
    entries = []
    for index, finding in enumerate(extract_findings(study.report, tracer=study.tracer)):
        sentence = next(s for s in phantom.sentences if s.lesion_id and s.text in finding.sentence)
        lesion = next(les for les in phantom.lesions if les.id == sentence.lesion_id)
        mask = phantom.lesion_labels == lesion.id
        stats = lesion_stats(study, mask)
        described = LONG_SITE if index == 0 else f"{lesion.laterality} {SITE_BY_KEY[lesion.site].phrase}"
        entries.append(GroundingResult(finding, None, mask, stats, check_agreement(stats, finding),
                                       described=described, consistency=(index != 0, "not the same site")))
    return entries


@pytest.mark.parametrize(("width", "height"), SCREENS)
def test_every_finding_and_result_cell_of_the_demo_is_shown_whole(qtbot, viewer, user_settings, width, height):
    from qtpy.QtWidgets import QStyle, QStyleOptionComboBox

    from napari_petground._qt.grounding_report import STATUS_COLUMN, TEXT_COLUMN, WIDEST_STATUS
    from napari_petground.session import RUNNING

    dock = open_demo(qtbot, viewer, width, height)
    window = dock.window()
    assert window.frameGeometry().width() <= width and window.frameGeometry().height() <= height, (
        f"the window needs {window.frameGeometry().width()} x {window.frameGeometry().height()}")

    # the findings list: each sentence wrapped whole in its row, every status in words fits its column
    table = dock.findings_list
    assert table.rowCount() == 7
    header = table.horizontalHeader()
    assert header.height() >= header.fontMetrics().height()
    assert table.viewport().height() >= table.rowHeight(0) + table.rowHeight(1)  # two findings at least
    text_width = table.columnWidth(TEXT_COLUMN)
    for row in range(table.rowCount()):
        label = table.cellWidget(row, TEXT_COLUMN)
        assert table.rowHeight(row) >= label.heightForWidth(text_width), f"row {row} is cut"
        table.set_status(row, RUNNING, "", "100%")
        item = table.item(row, STATUS_COLUMN)
        assert item.text() == WIDEST_STATUS
        room = table.visualRect(table.model().index(row, STATUS_COLUMN)).width() - 8
        assert table.fontMetrics().horizontalAdvance(item.text()) <= room

    # the model picker names the model whole
    combo = dock.model_picker.checkpoint_combo
    option = QStyleOptionComboBox()
    combo.initStyleOption(option)
    field = combo.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, option,
                                         QStyle.SubControl.SC_ComboBoxEditField, combo)
    assert combo.fontMetrics().horizontalAdvance(combo.currentText()) <= field.width(), combo.currentText()

    # each result: every cell whole, no two cells overlapping, the heading included
    session = dock.session
    for index, entry in enumerate(demo_results(session)):
        dock.review.display(entry, session, activate=False)
        qtbot.waitUntil(lambda: dock.settled, timeout=5000)
        qtbot.wait(50)
        cells = dock.result.cells()
        assert any(plain(c.text()) == "Lesion" for c in cells)
        problems = [p for p in (not_whole(c) for c in cells) if p]
        assert problems == [], f"{entry.sentence}: {problems}"
        assert overlapping(cells) == [], entry.sentence
        shown = " ".join(plain(c.text()) for c in cells)
        assert entry.described in shown
        assert not_whole(dock.result.title) is None and not_whole(dock.result.warnings) is None
        if index == 0:  # the site that does not fit is a warning above the grid, in view
            assert "not the same site" in dock.result.warnings.text()
            assert dock.result.warnings.geometry().bottom() < dock.result.grid_box.geometry().top()
        dock.accept()

    # the accepted findings: numbers and sentences whole
    dock.review.tabs.setCurrentIndex(1)
    qtbot.waitUntil(lambda: len(dock.findings_panel.table.labels()) == 5, timeout=5000)  # 5 lesions
    qtbot.wait(50)
    problems = table_problems(dock.findings_panel.table)
    assert problems == [], "; ".join(problems)
    assert np.any(dock.findings_layer().data)


def table_problems(table) -> list[str]:
    """Cells and headings of a table widget whose text does not fit (a wrapped one: its height)."""
    from qtpy.QtCore import Qt

    metrics = table.fontMetrics()
    problems = []
    header = table.horizontalHeader()
    for column in range(table.columnCount()):
        heading = table.horizontalHeaderItem(column).text()
        if header.fontMetrics().horizontalAdvance(heading) > header.sectionSize(column) - 4:
            problems.append(f"heading {heading!r}")
    for row in range(table.rowCount()):
        for column in range(table.columnCount()):
            item = table.item(row, column)
            if item is None or not item.text():
                continue
            text, rect = item.text(), table.visualRect(table.model().index(row, column))
            if "…" in text:
                problems.append(f"{text!r} shortened")
            elif table.columnSpan(row, column) > 1:  # a sentence across the table, wrapped
                needed = metrics.boundingRect(0, 0, rect.width() - 8, 10_000, int(Qt.TextFlag.TextWordWrap),
                                              text).height()
                if rect.height() < needed:
                    problems.append(f"{text!r} needs {needed} px of height, has {rect.height()}")
            elif metrics.horizontalAdvance(text) > rect.width() - 6:
                problems.append(f"{text!r} needs {metrics.horizontalAdvance(text)} px, has {rect.width()}")
    return problems
