"""The cohort's inputs: a reports CSV (exam_id, report_text, tracer) and one image folder per exam.

Reading is forgiving row by row: a row that cannot be used (no exam id, an id that cannot name files,
two different reports for one exam) is set aside with the reason, and the rest of the cohort goes on.
Only a file that is not a reports CSV at all stops the run, with a message that says what it needs.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ReportError

REQUIRED_COLUMNS = ("exam_id", "report_text")
OPTIONAL_COLUMNS = ("tracer",)
_CASE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_FIELD_LIMIT = 1 << 28  # csv's default (128 kB) would make one long report fatal for the whole file


@dataclass
class ExamRequest:
    """One exam to label: its id (the dataset case name), report text, tracer from the CSV, image folder."""

    case: str
    report: str
    tracer: str = ""
    images: Path = Path()
    row: int = 0  # 1-based data row in the CSV, for messages


@dataclass
class RejectedRow:
    """A CSV row that names no usable exam (nothing can be written for it under a case name)."""

    row: int
    exam_id: str
    reason: str


@dataclass
class CohortInputs:
    exams: list[ExamRequest] = field(default_factory=list)
    duplicates: dict[str, str] = field(default_factory=dict)  # case -> reason (recorded as failures)
    rejected: list[RejectedRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unreported_images: list[str] = field(default_factory=list)  # image folders no CSV row names


def is_valid_case_id(exam_id: str) -> bool:
    """An id that is safe as a file name on every platform and as an nnU-Net case name."""
    return bool(_CASE_ID.fullmatch(exam_id)) and ".." not in exam_id


def _decode(payload: bytes, path: Path) -> tuple[str, list[str]]:
    try:
        return payload.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        text = payload.decode("cp1252", errors="replace")
        return text, [f"{path.name} is not UTF-8 (byte {exc.start}); read as Windows-1252, check accented text"]


def read_reports_csv(path: str | Path) -> tuple[list[dict], list[str]]:
    """Rows of a reports CSV as dicts with the canonical column names, and notes on how it was read."""
    path = Path(path)
    if not path.is_file():
        raise ReportError(f"reports file not found: {path}; give a CSV with columns exam_id, report_text, tracer")
    text, notes = _decode(path.read_bytes(), path)
    old_limit = csv.field_size_limit()
    csv.field_size_limit(max(old_limit, _FIELD_LIMIT))
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = [(name or "").strip().lower() for name in (reader.fieldnames or [])]
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise ReportError(
                f"{path.name} lacks column(s) {', '.join(missing)} (found: {', '.join(header) or 'none'}); "
                "the reports CSV needs a header row with exam_id, report_text and optionally tracer"
            )
        rows = []
        for raw in reader:
            row = {(k or "").strip().lower(): v for k, v in raw.items() if k is not None}
            rows.append({c: (row.get(c) or "") for c in REQUIRED_COLUMNS + OPTIONAL_COLUMNS})
    except csv.Error as exc:
        raise ReportError(f"{path.name} is not a readable CSV ({exc}); quote report texts that hold commas "
                          "or line breaks") from exc
    finally:
        csv.field_size_limit(old_limit)
    return rows, notes


def collect_inputs(reports_csv: str | Path, images_dir: str | Path) -> CohortInputs:
    """Exams to process from the CSV, with their image folders ``images_dir/<exam_id>/``."""
    images_dir = Path(images_dir)
    if not images_dir.is_dir():
        raise ReportError(f"images folder not found: {images_dir}; it should hold one folder per exam_id")
    rows, notes = read_reports_csv(reports_csv)
    out = CohortInputs(warnings=notes)
    by_case: dict[str, ExamRequest] = {}
    for number, row in enumerate(rows, start=1):
        exam_id = row["exam_id"].strip()
        if not exam_id:
            out.rejected.append(RejectedRow(number, "", "no exam_id"))
            continue
        if not is_valid_case_id(exam_id):
            out.rejected.append(RejectedRow(
                number, exam_id[:80], "exam_id must be letters, digits, '.', '_' or '-' (at most 128)"))
            continue
        request = ExamRequest(exam_id, row["report_text"], row["tracer"].strip(), images_dir / exam_id, number)
        if exam_id in by_case:
            first = by_case[exam_id]
            if (first.report, first.tracer) != (request.report, request.tracer):
                out.duplicates[exam_id] = (
                    f"exam_id {exam_id} has different reports in CSV rows {first.row} and {number}; "
                    "join them into one row (or give them distinct ids)"
                )
            continue
        by_case[exam_id] = request
    out.exams = [r for case, r in by_case.items() if case not in out.duplicates]
    named = set(by_case)
    out.unreported_images = sorted(p.name for p in images_dir.iterdir() if p.is_dir() and p.name not in named)
    return out
