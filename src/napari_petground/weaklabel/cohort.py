"""Weak labels for a whole cohort on Dask: reports CSV + one image folder per exam -> training dataset.

``run_cohort`` reads the inputs, skips exams already finished in the output (their items file exists), and
sends the rest to Dask: by default a ``distributed.LocalCluster`` of single-threaded worker processes, or an
existing scheduler by address (its workers must see the same paths), or ``"synchronous"`` to run in this
process (tests, debugging). Each exam is written atomically by its worker, items file last, so a killed run
loses at most the exams in flight and a rerun picks up where it stopped. At the end the dataset is finalised
(dataset.json, sentences.jsonl) and ``summary.json`` holds the funnel of the whole dataset.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic import atomic_write_bytes
from ..dataset.layout import DatasetWriter
from ..errors import WeakLabelError
from .cohort_exam import MAX_REPORT_CHARS, ExamOutcome, ExamTask, describe_error, process_exam
from .cohort_inputs import collect_inputs
from .funnel import Funnel, dataset_funnel, format_funnel

SYNCHRONOUS = "synchronous"
SUMMARY_FILE = "summary.json"
_WORKER_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
               "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS": "1"}


@dataclass
class CohortRun:
    """What one run did, and the funnel of the whole dataset after it."""

    out: Path
    listed: int = 0  # exams named by the CSV (valid, distinct)
    skipped: int = 0  # already finished before this run
    processed: int = 0  # finished by this run
    failed: int = 0  # failed in this run
    seconds: float = 0.0
    startup_seconds: float = 0.0  # reading inputs and starting the cluster, before the first exam is sent
    exam_cpu_seconds: float = 0.0  # CPU time the workers spent on this run's exams, summed
    workers: int = 1
    scheduler: str = "local"
    funnel: Funnel = field(default_factory=Funnel)
    failures: dict[str, str] = field(default_factory=dict)  # case -> reason, this run
    rejected_rows: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unreported_images: int = 0

    @property
    def exams_per_minute(self) -> float:
        """Throughput over the whole run, start-up included."""
        attempted = self.processed + self.failed
        return 60.0 * attempted / self.seconds if self.seconds > 0 and attempted else 0.0

    @property
    def labeling_exams_per_minute(self) -> float:
        """Throughput once the workers are up (what adding workers or exams scales)."""
        attempted = self.processed + self.failed
        busy = self.seconds - self.startup_seconds
        return 60.0 * attempted / busy if busy > 0 and attempted else 0.0

    def to_dict(self) -> dict:
        return {
            "run": {"listed": self.listed, "skipped": self.skipped, "processed": self.processed,
                    "failed": self.failed, "seconds": round(self.seconds, 3),
                    "startup_seconds": round(self.startup_seconds, 3),
                    "exam_cpu_seconds": round(self.exam_cpu_seconds, 3),
                    "exams_per_minute": round(self.exams_per_minute, 3),
                    "labeling_exams_per_minute": round(self.labeling_exams_per_minute, 3), "workers": self.workers,
                    "scheduler": self.scheduler, "rejected_rows": self.rejected_rows,
                    "unreported_image_folders": self.unreported_images, "warnings": self.warnings,
                    "failures": self.failures},
            "funnel": self.funnel.to_dict(),
        }

    def format(self) -> str:
        lines = [
            f"dataset: {self.out}",
            f"exams: {self.listed} listed, {self.skipped} already done, {self.processed} labeled, "
            f"{self.failed} failed in {self.seconds:.1f} s ({self.exams_per_minute:.1f} exams/min; "
            f"{self.startup_seconds:.1f} s start-up; {self.workers} worker(s), {self.scheduler})",
        ]
        if self.rejected_rows:
            lines.append(f"CSV rows set aside: {len(self.rejected_rows)} (see {SUMMARY_FILE})")
        for case, reason in list(self.failures.items())[:10]:
            lines.append(f"  failed {case}: {reason}")
        if len(self.failures) > 10:
            lines.append(f"  ... {len(self.failures) - 10} more failures in {self.out / 'failures'}")
        lines += ["", "funnel of the whole dataset (reports -> sentences -> with numbers -> status):",
                  format_funnel(self.funnel)]
        return "\n".join(lines)


def _progress(outcomes: Iterator[ExamOutcome], total: int, show: bool) -> Iterator[ExamOutcome]:
    if not show:
        yield from outcomes
        return
    from tqdm.auto import tqdm

    with tqdm(total=total, unit="exam", desc="weak labels", dynamic_ncols=True) as bar:
        failed = 0
        for outcome in outcomes:
            failed += outcome.state == "failed"
            bar.set_postfix(failed=failed, refresh=False)
            bar.update(1)
            yield outcome


def _run_synchronous(tasks: list[ExamTask], on_ready: Callable[[], None]) -> Iterator[ExamOutcome]:
    on_ready()
    for task in tasks:
        yield process_exam(task)


def _connect(scheduler: str):
    from distributed import Client

    try:
        return Client(scheduler, timeout="20s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise WeakLabelError(
            f"cannot reach the Dask scheduler at {scheduler} ({exc}); start one (`dask scheduler`, then "
            "`dask worker ADDRESS --nthreads 1`) or leave out --scheduler for a local cluster"
        ) from exc


def _run_dask(tasks: list[ExamTask], workers: int, scheduler: str | None, on_ready: Callable[[], None],
              exam_fn: Callable[[ExamTask], ExamOutcome] = process_exam) -> Iterator[ExamOutcome]:
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler:
        client = _connect(scheduler)
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               env=dict(_WORKER_ENV))
        client = Client(cluster)
    on_ready()
    try:
        token = uuid.uuid4().hex[:8]  # runs sharing a scheduler must not share task keys
        futures = client.map(exam_fn, tasks, pure=False, key=[f"exam-{t.case}-{token}" for t in tasks])
        by_key = {f.key: t for f, t in zip(futures, tasks, strict=True)}
        lost: list[ExamTask] = []
        for future in as_completed(futures):
            try:
                yield future.result()
            except Exception:  # the worker died (memory, crash); exams queued beside the culprit die with it
                lost.append(by_key[future.key])
            future.release()
        # run each lost exam again on its own, so that only the exam that really kills its worker is recorded
        for task in lost:
            future = client.submit(exam_fn, task, pure=False, key=f"exam-{task.case}-{token}-alone")
            try:
                yield future.result()
            except Exception as exc:
                reason = f"worker lost while labeling: {describe_error(exc)}"
                DatasetWriter(task.out).write_failure(task.case, reason, {"tracer": task.tracer})
                yield ExamOutcome(task.case, "failed", task.tracer, reason=reason)
            future.release()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


LOCK_FILE = ".weak-label.lock"


def _holder_alive(holder: dict) -> bool:
    if holder.get("host") != socket.gethostname():
        return True  # cannot tell from here: assume the other machine's run is alive
    try:
        os.kill(int(holder.get("pid", -1)), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


@contextmanager
def run_lock(out: Path) -> Iterator[None]:
    """One run per dataset at a time; a lock left by a run that died is taken over."""
    path = Path(out) / LOCK_FILE
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                holder = json.loads(path.read_text(encoding="utf-8") or "{}")
            except (OSError, ValueError):
                holder = {}
            if holder and _holder_alive(holder):
                raise WeakLabelError(
                    f"another weak-label run (pid {holder.get('pid')} on {holder.get('host')}) is writing {out}; "
                    f"wait for it to finish, or delete {path} if it is gone"
                ) from None
            path.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}, handle)
        break
    else:
        raise WeakLabelError(f"cannot take the lock {path}; delete it if no run is writing {out}")
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def run_cohort(reports: str | Path, images: str | Path, out: str | Path, *, workers: int = 1,
               scheduler: str | None = None, tracer_default: str = "FDG", config=None, progress: bool = True,
               max_report_chars: int = MAX_REPORT_CHARS, limit: int | None = None,
               on_outcome: Callable[[ExamOutcome], None] | None = None) -> CohortRun:
    """Weak-label every exam of ``reports`` with images under ``images/<exam_id>/`` into the dataset ``out``.

    ``scheduler``: None = a local cluster of ``workers`` processes; ``"synchronous"`` = this process; else a
    Dask scheduler address. ``limit`` stops after that many new exams (for trial runs).
    """
    start = time.perf_counter()
    out = Path(out)
    inputs = collect_inputs(reports, images)
    writer = DatasetWriter(out, name=out.name, description=f"weak labels from {Path(reports).name}")
    run = CohortRun(out=out, listed=len(inputs.exams), workers=workers,
                    scheduler=scheduler or "local", warnings=list(inputs.warnings),
                    rejected_rows=[r.__dict__ for r in inputs.rejected],
                    unreported_images=len(inputs.unreported_images))
    with run_lock(out):
        for case, reason in inputs.duplicates.items():
            writer.write_failure(case, reason)
            run.failures[case] = reason
            run.failed += 1
        todo = [e for e in inputs.exams if not writer.is_done(e.case)]
        run.skipped = len(inputs.exams) - len(todo)
        if limit is not None:
            todo = todo[: max(0, limit)]
        tasks = [ExamTask(e.case, e.report, str(e.images), str(out), e.tracer, tracer_default, config,
                          max_report_chars) for e in todo]
        run.startup_seconds = time.perf_counter() - start

        def ready() -> None:
            run.startup_seconds = time.perf_counter() - start

        if tasks:
            if scheduler == SYNCHRONOUS:
                outcomes: Iterable[ExamOutcome] = _run_synchronous(tasks, ready)
            else:
                outcomes = _run_dask(tasks, max(1, int(workers)), scheduler, ready)
            for outcome in _progress(iter(outcomes), len(tasks), progress):
                run.exam_cpu_seconds += outcome.cpu_seconds
                if outcome.state == "done":
                    run.processed += 1
                else:
                    run.failed += 1
                    run.failures[outcome.case] = outcome.reason
                if on_outcome is not None:
                    on_outcome(outcome)
        run.seconds = time.perf_counter() - start
        run.funnel = dataset_funnel(out)
        writer.finalize(extra={"cohort": {"reports": str(reports), "images": str(images),
                                          "tracer_default": tracer_default}})
        atomic_write_bytes(out / SUMMARY_FILE, json.dumps(run.to_dict(), indent=2).encode("utf-8"))
    return run
