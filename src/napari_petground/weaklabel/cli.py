"""``petground weak-label``: weak lesion labels for a cohort of exams and reports, written as a dataset."""

from __future__ import annotations

import argparse
import sys

from ..cli import writable_folder
from ..errors import WeakLabelError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "weak-label",
        help="weak-label a cohort: reports CSV + exam images -> dataset (nnU-Net layout + sentences.jsonl)",
        description="Match every numbered report sentence (SUVmax, image number) to a lesion mask on its exam's "
                    "PET and write a training dataset. Reruns skip finished exams.",
    )
    parser.add_argument("--reports", required=True, help="CSV with columns exam_id, report_text[, tracer]")
    parser.add_argument("--images", required=True,
                        help="folder holding one folder per exam_id (DICOM series or a CT/PET NIfTI pair)")
    parser.add_argument("--out", required=True, help="dataset folder to create or resume")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes of the local Dask cluster (default 1; one thread each)")
    parser.add_argument("--scheduler", default=None,
                        help="address of a running Dask scheduler (its workers must see the same paths), or "
                             "'synchronous' to run in this process")
    parser.add_argument("--tracer-default", default="FDG",
                        help="tracer of exams whose CSV row, report and DICOM name none (default FDG)")
    parser.add_argument("--limit", type=int, default=None, help="label at most this many new exams (trial run)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=_weak_label)


def _weak_label(args: argparse.Namespace) -> int:
    from .cohort import run_cohort

    if args.workers < 1:
        raise WeakLabelError(f"--workers must be at least 1, got {args.workers}")
    writable_folder(args.out, "--out")
    run = run_cohort(args.reports, args.images, args.out, workers=args.workers, scheduler=args.scheduler,
                     tracer_default=args.tracer_default, progress=not args.no_progress and sys.stderr.isatty(),
                     limit=args.limit)
    print(run.format())
    return 0
