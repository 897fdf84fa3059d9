"""One exam of a cohort: read the study, weak-label every numbered finding of its report, write the case.

``process_exam`` is what a Dask worker runs. It never raises: an exam that cannot be used (no images, PET
not in SUV, unreadable files, anything unexpected) is recorded with ``DatasetWriter.write_failure`` and
reported back as failed. Within a usable exam, a report or sentence that cannot be read, or a finding whose
labeling fails, becomes an item with status "error" and its reason; the other items go on.

Labels: every matched item gets its own value in ``labelsTr/{case}.nii.gz``. Two sentences describing the
same lesion (findings and impression) share one value (flag ``same_lesion``); where two different masks
touch, the earlier item keeps the shared voxels (flag ``overlap_trimmed``). Ambiguous items keep their
candidate masks in ``candidates/{case}_{index:03d}.nii.gz`` (value j+1 = candidate j).
"""

from __future__ import annotations

import re
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..dataset.labels import paint_item
from ..dataset.layout import DatasetItem, DatasetWriter
from ..errors import PetGroundError, SuvError, WeakLabelError
from ..report.finding import Finding
from ..study.study import Study
from .funnel import FUNNEL_DIR, STATUSES, empty_counts, write_case_counts

MAX_REPORT_CHARS = 100_000  # a long whole-body report is ~10 kB; far more is a paste or export accident


@dataclass
class ExamTask:
    """Everything a worker needs for one exam (plain values: it travels to other processes)."""

    case: str
    report: str
    images: str
    out: str
    tracer: str = ""  # from the reports CSV
    tracer_default: str = "FDG"
    config: object | None = None  # WeakLabelConfig; None = its defaults
    max_report_chars: int = MAX_REPORT_CHARS


@dataclass
class ExamOutcome:
    case: str
    state: str  # "done" | "failed"
    tracer: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    reason: str = ""
    seconds: float = 0.0  # wall time in the worker
    cpu_seconds: float = 0.0  # CPU time of the worker process for this exam (load-independent cost)


@dataclass
class CaseLabels:
    """A case ready to write: its items, label map and the candidate masks of ambiguous items."""

    items: list[DatasetItem]
    labels: np.ndarray
    candidate_masks: dict[int, list[np.ndarray]]
    counts: dict[str, int]


def resolve_tracer(csv_tracer: str, report: str, study: Study | None, default: str) -> str:
    """Tracer of an exam: the CSV's, else the one the report names, else the DICOM's, else ``default``."""
    from ..report.parse import tracer_in
    from ..study.suv import normalise_tracer

    for value in (csv_tracer, tracer_in(report[:4000]) if isinstance(report, str) else ""):
        if value and (name := normalise_tracer(value) or value.strip().upper()):
            return name
    if study is not None and study.tracer:
        return study.tracer
    return normalise_tracer(default) or default.strip().upper()


def describe_error(exc: BaseException) -> str:
    """A one-line reason: the message of the package's own errors, type and place for anything else."""
    if isinstance(exc, PetGroundError):
        return f"{type(exc).__name__}: {exc}"
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return f"unexpected {type(exc).__name__}: {exc}{where}"


def _jsonable(value):
    """Candidates/flags as JSON: masks dropped, numpy scalars and tuples made plain."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items() if not isinstance(v, np.ndarray) or v.ndim == 0}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    return value


def _as_dict(obj) -> dict:
    if isinstance(obj, dict):
        return _jsonable(obj)
    if hasattr(obj, "to_dict"):
        return _jsonable(obj.to_dict())
    if hasattr(obj, "__dataclass_fields__"):
        return _jsonable({k: getattr(obj, k) for k in obj.__dataclass_fields__})
    return {"value": str(obj)}


def _candidate_masks(result) -> list[np.ndarray]:
    """Grown masks of an ambiguous result's candidates (those that could be grown)."""
    return [np.asarray(c.mask, bool) for c in result.candidates if c.mask is not None]


def _findings(text: str, tracer: str, counts: dict) -> tuple[list[Finding], list[tuple[int, str, str]]]:
    """Findings of a report and the sentences that failed to parse, as (offset, sentence, reason)."""
    from ..report import extract_findings, split_sentences

    sentences = split_sentences(text)
    counts["sentences"] = len(sentences)
    try:
        return extract_findings(text, tracer=tracer), []
    except Exception:  # isolate the sentence that breaks the parser, keep the rest
        findings, errors = [], []
        for offset, sentence in sentences:
            try:
                found = extract_findings(sentence, tracer=tracer)
            except Exception as exc:
                errors.append((offset, sentence, describe_error(exc)))
                continue
            for f in found:
                f.sentence_start += offset
            findings.extend(found)
        return findings, errors


def is_numbered(finding: Finding) -> bool:
    """A finding the weak labeler can anchor: it states a current SUVmax or an image number."""
    return finding.suvmax is not None or finding.slice is not None


def label_report(study: Study, case: str, report: str, tracer: str, config=None,
                 max_report_chars: int = MAX_REPORT_CHARS) -> CaseLabels:
    """Items, label map and candidate masks of one exam's report (no files touched)."""
    from . import WeakLabelConfig, weak_label

    config = config if config is not None else WeakLabelConfig()
    counts = empty_counts()
    labels = np.zeros(study.pet.shape, np.uint16)
    items: list[DatasetItem] = []
    candidates: dict[int, list[np.ndarray]] = {}

    def error_item(sentence: str, reason: str, finding: dict | None = None) -> DatasetItem:
        item = DatasetItem(case, len(items), sentence, finding or {}, "error", None, tracer, reason=reason)
        items.append(item)
        return item

    problem = _report_problem(report, max_report_chars)
    if problem:
        counts["report_errors"] = 1
        error_item(report.strip()[:200] if isinstance(report, str) else "", problem)
        return CaseLabels(items, labels, candidates, counts)
    counts["reports"] = 1
    try:
        findings, broken = _findings(report, tracer, counts)
    except Exception as exc:  # the splitter itself failed: the whole report is one error
        counts["report_errors"], counts["reports"] = 1, 0
        error_item(report[:200], describe_error(exc))
        return CaseLabels(items, labels, candidates, counts)
    for _offset, sentence, reason in broken:
        counts["sentence_errors"] += 1
        error_item(sentence, reason)
    counts["findings"] = len(findings)
    numbered = [f for f in findings if is_numbered(f)]
    counts["numbered"] = len(numbered)
    counts["sentences_with_numbers"] = len({f.sentence_start for f in numbered})
    for finding in numbered:
        try:
            result = weak_label(study, finding, config)
        except Exception as exc:  # one item's failure must not cost the exam
            counts["error"] += 1
            error_item(finding.sentence, describe_error(exc), finding.to_dict())
            continue
        item = DatasetItem(case, len(items), finding.sentence, finding.to_dict(), str(result.status), None, tracer,
                           candidates=[_as_dict(c) for c in result.candidates],
                           flags=[str(f) for f in result.flags], reason=str(result.reason or ""))
        if item.status == "matched":
            paint_item(labels, np.asarray(result.mask, bool), item, items)
        elif item.status == "ambiguous":
            masks = _candidate_masks(result)
            if masks:
                candidates[item.index] = masks
        if item.status not in STATUSES:
            item.reason = f"unknown status {item.status!r}; {item.reason}".strip("; ")
            item.status = "error"
        counts[item.status] += 1
        items.append(item)
    return CaseLabels(items, labels, candidates, counts)


def _report_problem(report, limit: int) -> str:
    if not isinstance(report, str):
        return f"report text is {type(report).__name__}, not text"
    if not report.strip():
        return "report text is empty; give the exam's report in the report_text column"
    if len(report) > limit:
        return (f"report text is {len(report):,} characters (limit {limit:,}); it is probably several reports "
                "or an export accident — give one exam's report per row")
    return ""


def _ct_on_pet_grid(study: Study):
    from ..study.resample import resample_to_grid

    if study.ct is None:
        return None
    ct = resample_to_grid(study.ct, study.pet, interpolation="linear", fill=-1000.0)
    ct.data = np.clip(np.rint(ct.data), -32768, 32767).astype(np.int16)
    return ct


def remove_partial_case(root: Path, case: str) -> None:
    """Drop what an interrupted earlier attempt at ``case`` may have left (temporary files, old candidates)."""
    esc = re.escape(case)
    patterns = {
        "imagesTr": re.compile(rf"\.{esc}_000[01]\..*"),
        "labelsTr": re.compile(rf"\.{esc}\..*"),
        "candidates": re.compile(rf"\.?{esc}_\d{{3}}\..*"),
        "items": re.compile(rf"\.{esc}\.jsonl\..*"),
        FUNNEL_DIR: re.compile(rf"\.{esc}\.json\..*"),
    }
    for sub, pattern in patterns.items():
        folder = root / sub
        if folder.is_dir():
            for path in folder.iterdir():
                if pattern.fullmatch(path.name):
                    path.unlink(missing_ok=True)


def _load(task: ExamTask) -> Study:
    from ..study import load_study

    folder = Path(task.images)
    if not folder.is_dir():
        raise WeakLabelError(f"no images for exam {task.case}: {folder} is not a folder; put the exam's DICOM "
                             "series or CT/PET NIfTI pair in <images>/<exam_id>/")
    study = load_study(folder)
    if not study.pet_is_suv:
        units = study.pet_units if study.pet_units not in ("", "unknown") else "unknown units"
        raise SuvError(f"PET of exam {task.case} is in {units}, not SUV; "
                       "SUVmax in the report cannot be matched (give DICOM with dose/weight tags, or SUV NIfTI)")
    return study


def process_exam(task: ExamTask) -> ExamOutcome:
    """Label one exam and write it into the dataset; failures are recorded, never raised."""
    start, cpu = time.perf_counter(), time.process_time()
    writer = DatasetWriter(task.out)
    tracer = ""
    try:
        tracer = resolve_tracer(task.tracer, task.report, None, task.tracer_default)
        study = _load(task)
        tracer = resolve_tracer(task.tracer, task.report, study, task.tracer_default)
        if not study.tracer:
            study.tracer = tracer
        case = label_report(study, task.case, task.report, tracer, task.config, task.max_report_chars)
        root = Path(task.out)
        remove_partial_case(root, task.case)
        write_case_counts(root, task.case, tracer, case.counts)
        writer.write_case(task.case, _ct_on_pet_grid(study), study.pet, case.labels, case.items,
                          case.candidate_masks, numbering=study.numbering)
        return ExamOutcome(task.case, "done", tracer, case.counts, seconds=time.perf_counter() - start,
                           cpu_seconds=time.process_time() - cpu)
    except Exception as exc:  # one bad exam is recorded and skipped, never fatal
        reason = describe_error(exc)
        try:
            writer.write_failure(task.case, reason, {"tracer": tracer})
        except OSError as write_exc:
            reason += f" (and the failure could not be recorded: {write_exc})"
        return ExamOutcome(task.case, "failed", tracer, reason=reason, seconds=time.perf_counter() - start,
                           cpu_seconds=time.process_time() - cpu)

