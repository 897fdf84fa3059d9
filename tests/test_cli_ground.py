"""`petground ground`: refuses what the grounding dock refuses, and says what it is doing while it works
(on a terminal, or with --progress)."""

from __future__ import annotations

import io
import json

import pytest

from napari_petground.cli import main
from napari_petground.model.progress import StageProgress, follow_grounding


@pytest.mark.parametrize("text", ["the weather is nice", "No FDG-avid lesions.", "Comparison: none."])
def test_text_without_a_finding_is_refused_like_the_dock_does(capsys, text):
    from napari_petground.report import extract_findings

    assert extract_findings(text) == []  # what leaves the grounding dock's list empty
    assert main(["ground", "phantom:1", text]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("petground ground: error: "), captured.err
    assert "describes no lesion" in lines[0] and captured.out == ""


@pytest.mark.slow
def test_grounding_reports_its_stages_on_stderr_and_the_result_on_stdout(capsys):
    assert main(["ground", "phantom:1", "Left axillary lymph node, SUVmax 6.1.", "--progress"]) == 0
    captured = capsys.readouterr()
    stages = [line.split("] ", 1)[1] for line in captured.err.splitlines() if line.startswith("[")]
    assert stages[0] == "starting (loading PyTorch) ..."
    for expected in ("loading the study phantom:1 ...", "running the network over the image ...",
                     "choosing the lesion the sentence describes ...", "done"):
        assert expected in stages, stages
    assert "[" not in captured.out and captured.out.strip()


@pytest.mark.slow
def test_precision_float32_is_what_the_result_says_it_was_computed_in(capsys):
    assert main(["ground", "phantom:1", "Left axillary lymph node, SUVmax 6.1.", "--precision", "float32",
                 "--json", "--no-progress"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["device"] == "cpu" and result["sentence"].startswith("Left axillary")
    liver = "Mildly metabolically active lesion in the liver with SUV max 3.6, image 118."  # phantom 1's
    assert main(["ground", "phantom:1", liver, "--precision", "float32", "--no-progress"]) == 0
    assert "candidate region(s) on cpu; " in capsys.readouterr().out  # the plain text says it too


def test_an_unknown_precision_is_refused_in_one_line(capsys):
    assert main(["ground", "phantom:1", "Left axillary lymph node.", "--precision", "half"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "--precision: invalid choice: 'half'" in lines[0], lines


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_stage_lines_and_a_bar_only_on_a_terminal():
    def steps():
        yield ("text", 0.0)
        yield ("text", 1.0)
        for i in range(4):
            yield ("inference", i / 4)
        yield ("depth", object())  # not a fraction: not shown
        yield ("inference", 1.0)
        return "result"

    log = io.StringIO()
    follow_grounding(StageProgress(stream=log), steps())
    assert log.getvalue() == ""  # a pipe or a log: silent unless asked
    plain = io.StringIO()
    assert follow_grounding(StageProgress(stream=plain, force=True), steps()) == "result"
    assert [line.split("] ")[1] for line in plain.getvalue().splitlines()] == [
        "reading the sentence ...", "running the network over the image ..."]
    terminal = _Terminal()
    progress = StageProgress(stream=terminal)
    follow_grounding(progress, steps())
    progress.close()
    assert "%" in terminal.getvalue()  # the bar
    quiet = io.StringIO()
    follow_grounding(StageProgress(enabled=False, stream=quiet, force=True), steps())
    assert quiet.getvalue() == ""
