"""Reading a cohort's reports CSV row by row, and the funnel table built from finished cases."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from napari_petground.errors import ReportError
from napari_petground.weaklabel.cohort_inputs import collect_inputs, is_valid_case_id
from napari_petground.weaklabel.funnel import Funnel, empty_counts, format_funnel


def _csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_rows_that_name_no_usable_exam_are_set_aside(tmp_path):
    images = tmp_path / "images"
    for name in ("A1", "B2", "C3", "ORPHAN"):
        (images / name).mkdir(parents=True)
    reports = _csv(tmp_path / "r.csv", ["Exam_ID ", "REPORT_TEXT", "tracer"], [
        ["A1", "text one", "FDG"],
        ["", "no id", ""],
        ["../etc", "escape attempt", ""],
        ["B2", "first", ""],
        ["B2", "second, different", ""],
        ["C3", "same", "PSMA"],
        ["C3", "same", "PSMA"],  # an exact repeat is harmless
        ["D4", "images missing", ""],
    ])
    inputs = collect_inputs(reports, images)
    assert [e.case for e in inputs.exams] == ["A1", "C3", "D4"]
    assert inputs.exams[0].images == images / "A1" and inputs.exams[1].tracer == "PSMA"
    assert set(inputs.duplicates) == {"B2"} and "rows 4 and 5" in inputs.duplicates["B2"]
    assert [(r.row, r.exam_id) for r in inputs.rejected] == [(2, ""), (3, "../etc")]
    assert inputs.unreported_images == ["ORPHAN"]


def test_long_reports_and_missing_tracer_column_are_read(tmp_path):
    (tmp_path / "images").mkdir()
    long_text = "Right lung nodule SUVmax 5.1, image 40. " * 10_000  # 400 kB, beyond csv's default field limit
    reports = _csv(tmp_path / "r.csv", ["exam_id", "report_text"], [["X", long_text]])
    inputs = collect_inputs(reports, tmp_path / "images")
    assert inputs.exams[0].report == long_text and inputs.exams[0].tracer == ""


@pytest.mark.parametrize("header", [["id", "text"], ["exam_id", "tracer"]])
def test_a_csv_without_the_needed_columns_says_which(tmp_path, header):
    (tmp_path / "images").mkdir()
    reports = _csv(tmp_path / "r.csv", header, [["A", "B"]])
    with pytest.raises(ReportError, match="exam_id, report_text"):
        collect_inputs(reports, tmp_path / "images")


def test_missing_inputs_raise_with_what_to_do(tmp_path):
    with pytest.raises(ReportError, match="images folder not found"):
        collect_inputs(tmp_path / "r.csv", tmp_path / "nope")
    (tmp_path / "images").mkdir()
    with pytest.raises(ReportError, match="reports file not found"):
        collect_inputs(tmp_path / "r.csv", tmp_path / "images")


def test_case_ids():
    assert is_valid_case_id("PET_001") and is_valid_case_id("1.2.840.1234")
    for bad in ("", "a/b", "..", "a..b", "-x", "x y", "é", "a" * 129):
        assert not is_valid_case_id(bad), bad


def test_funnel_table_adds_up_by_tracer():
    funnel = Funnel()
    a = empty_counts() | {"reports": 1, "sentences": 10, "sentences_with_numbers": 3, "findings": 4,
                          "numbered": 3, "matched": 2, "no_match": 1}
    b = empty_counts() | {"reports": 1, "sentences": 5, "sentences_with_numbers": 1, "findings": 1,
                          "numbered": 1, "ambiguous": 1}
    funnel.add_case("FDG", a)
    funnel.add_case("PSMA", b)
    funnel.add_failure("FDG")
    assert funnel.consistent
    assert funnel.total.to_dict()["exams"] == 3 and funnel.total.counts["matched"] == 2
    text = format_funnel(funnel).splitlines()
    stages = {line.strip().rsplit(None, 1)[0] if "%" not in line else line.split()[0]: line for line in text[:14]}
    assert stages["exams"].split()[-1] == "3" and "50.0 %" in stages["matched"]  # 2 of 4 numbered findings
    table = text[text.index(next(t for t in text if t.startswith("tracer"))):]
    assert [line.split()[0] for line in table[2:]] == ["FDG", "PSMA", "all"]
    assert table[-1].split()[-1] == "50.0"
    funnel.add_case("FDG", empty_counts() | {"numbered": 2, "matched": 1})  # a status went missing
    assert not funnel.consistent
