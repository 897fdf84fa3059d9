"""``petground review import|status|export|open|demo``: the review queue from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from ..cli import writable_folder
from ..errors import ReviewError


def register(subparsers) -> None:
    review = subparsers.add_parser("review", help="review weak labels: import a dataset, status, export")
    sub = review.add_subparsers(dest="review_command", metavar="ACTION", required=True)

    imp = sub.add_parser("import", help="load a dataset's items into its review queue (safe to repeat)")
    imp.add_argument("dataset", type=Path, help="dataset folder (made by `petground weak-label`)")
    imp.add_argument("--all", action="store_true", dest="include_unmatched",
                     help="also queue items without a weak mask or candidates (to draw a mask or reject)")
    imp.set_defaults(func=_import)

    status = sub.add_parser("status", help="progress and statistics of the review")
    status.add_argument("dataset", type=Path)
    status.add_argument("--json", action="store_true", help="print the statistics as JSON")
    status.set_defaults(func=_status)

    export = sub.add_parser("export", help="write the corrected dataset (same layout) with review statistics")
    export.add_argument("dataset", type=Path)
    export.add_argument("--out", type=Path, required=True, help="output folder (not inside the dataset)")
    export.add_argument("--include-unreviewed", action="store_true",
                        help="keep items nobody reviewed yet, with their weak labels (flag review:pending)")
    export.set_defaults(func=_export)

    open_ = sub.add_parser("open", help="open napari with the review dock on a dataset")
    open_.add_argument("dataset", type=Path)
    open_.add_argument("--annotator", default="", help="your name (remembered for next time)")
    open_.set_defaults(func=_open)

    demo = sub.add_parser("demo", help="write a small synthetic weak-label dataset to try the review on")
    demo.add_argument("out", type=Path)
    demo.add_argument("--cases", type=int, default=2)
    demo.set_defaults(func=_demo)


def _import(args) -> int:
    from .queue import ReviewQueue

    with ReviewQueue(args.dataset) as queue:
        result = queue.import_dataset(include_unmatched=args.include_unmatched)
        counts = queue.counts()
    print(f"{args.dataset}: {result.added} added, {result.updated} updated, {result.unchanged} unchanged "
          f"({result.not_reviewable} items without mask or candidates not queued); queue holds "
          f"{counts['total']} items, {counts['done']} done")
    if result.flagged:
        print(f"flagged: {', '.join(result.flagged[:20])}{' ...' if len(result.flagged) > 20 else ''}")
    return 0


def _status(args) -> int:
    from .queue import ReviewQueue
    from .stats import format_stats, review_stats

    with ReviewQueue(args.dataset) as queue:
        reopened = queue.check_masks()
        stats = review_stats(queue)
    if args.json:
        print(json.dumps({**stats, "reopened": [list(r) for r in reopened]}, indent=2))
    else:
        for item_id, problem in reopened:
            print(f"{item_id}: {problem}; the item is back in the queue")
        print(format_stats(stats))
    return 0


def _export(args) -> int:
    from .export import export_reviewed
    from .queue import ReviewQueue
    from .stats import format_stats

    writable_folder(args.out, "--out")
    with ReviewQueue(args.dataset) as queue:
        result = export_reviewed(queue, args.out, include_unreviewed=args.include_unreviewed)
    print(f"wrote {result.items} items of {len(result.cases)} cases to {result.out}"
          + (" (it replaced the earlier export of this dataset there)" if result.replaced else ""))
    for what, why in result.left_out:
        print(f"left out {what}: {why}")
    print(format_stats(result.stats))
    return 0


def _open(args) -> int:
    from .._qt.review_dock import open_review

    return open_review(args.dataset, annotator=args.annotator)


def _demo(args) -> int:
    from .demo import make_demo_dataset

    if args.cases < 1:
        raise ReviewError(f"--cases must be at least 1, got {args.cases}")
    writable_folder(args.out, "the output folder")
    root = make_demo_dataset(args.out, n_cases=args.cases)
    print(f"wrote a demo dataset to {root}; next: petground review open {root}")
    return 0
