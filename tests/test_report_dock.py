"""A long pasted report in the grounding dock: parsed off the GUI thread, its findings listed when done."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from napari_petground._qt.grounding_result import finding_key
from napari_petground._qt.report_reader import SYNC_PARSE_CHARS, refused_message
from napari_petground.report import extract_findings
from test_grounding_dock import REPORT, ScriptedGrounder, open_dock, toy_study, wait_idle

pytestmark = pytest.mark.gui

DATA = Path(__file__).parent / "data" / "report_sentences.jsonl"
PROSE = ("No abnormal uptake in the brain, which shows physiologic activity. The thyroid is normal in size. "
         "Physiologic excretion in the kidneys and bladder. No suspicious osseous lesion. ")


def long_report(size: int = 1_000_000, lesions: int = 40) -> str:
    """About ``size`` characters: ``lesions`` labelled finding sentences spread through negative prose (a long
    report lists few findings; each listed row costs the findings list a QLabel)."""
    rows = [json.loads(line)["sentence"] for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    chunk = PROSE * (size // (lesions * len(PROSE)) + 1)
    return "FINDINGS:\n" + "\n".join(f"{chunk}\n- {rows[i]}" for i in range(lesions)) + "\nIMPRESSION: as above."


def test_long_pasted_report_is_parsed_off_the_gui_thread_and_listed(qtbot, viewer, settings):
    study, truth = toy_study()
    grounder = ScriptedGrounder(truth, delay=0.001)
    dock = open_dock(viewer, settings, study, grounder)
    text = long_report()
    assert len(text) > SYNC_PARSE_CHARS
    expected = [finding_key(f) for f in extract_findings(text, tracer=study.tracer)]
    assert len(expected) >= 40

    dock.text.setPlainText(text)
    started = time.perf_counter()
    assert dock.parse_text() == []  # not parsed on this thread: the worker has it
    returned = time.perf_counter() - started
    assert dock.parsing
    assert dock.ground() == 0  # pressed while the report is read: grounds once it is listed
    # parsing 1 MB takes about a second on one core: returning at once means the GUI thread did not parse
    assert returned < 0.2, f"parse_text took {returned:.2f} s on the GUI thread"
    qtbot.waitUntil(lambda: not dock.parsing, timeout=60_000)
    assert [finding_key(f) for f in dock.findings_list.findings] == expected
    wait_idle(qtbot, dock, timeout=30_000)
    assert grounder.calls == [dock.findings_list.findings[0].sentence]  # the deferred Ground ran
    # parsed once: asking again lists the same findings at once
    assert [finding_key(f) for f in dock.parse_text()] == expected and not dock.parsing


def test_text_changed_while_parsing_lists_the_latest_text(qtbot, viewer, settings):
    study, truth = toy_study()
    dock = open_dock(viewer, settings, study, ScriptedGrounder(truth))
    first = long_report(400_000, lesions=10)
    second = long_report(400_000, lesions=25)
    dock.text.setPlainText(first)
    dock.parse_text()
    assert dock.parsing
    dock.text.setPlainText(second)  # while the first is being parsed
    dock.parse_text()
    want = [f.sentence for f in extract_findings(second, tracer=study.tracer)]
    assert want != [f.sentence for f in extract_findings(first, tracer=study.tracer)]
    qtbot.waitUntil(lambda: not dock.parsing and len(dock.findings_list.findings) == len(want), timeout=60_000)
    qtbot.wait(200)
    assert [f.sentence for f in dock.findings_list.findings] == want
    # back to a short text: parsed at once, as before
    dock.text.setPlainText(REPORT)
    assert len(dock.parse_text()) == 3 and not dock.parsing


def test_a_number_that_is_not_read_is_named_when_grounding(qtbot, viewer, settings, monkeypatch):
    import napari.utils.notifications as notifications

    shown: list[str] = []
    monkeypatch.setattr(notifications, "show_warning", shown.append)
    study, truth = toy_study()
    grounder = ScriptedGrounder(truth, delay=0.001)
    dock = open_dock(viewer, settings, study, grounder)
    dock.text.setPlainText("Left axillary node with SUVmax 1e308 (image 15).")
    assert dock.ground() == 1
    wait_idle(qtbot, dock)
    (finding,) = dock.findings_list.findings
    assert finding.refused == {"suvmax": "1e308"} and finding.suvmax is None and finding.slice == 15
    assert shown == [refused_message(finding)]
    assert "SUVmax “1e308” is not a plausible value" in shown[0]
