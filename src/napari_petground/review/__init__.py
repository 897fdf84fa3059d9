"""The weak-label review queue: accept, fix or reject auto-generated lesion masks without losing work.

SQLite in the dataset folder (``review.sqlite``), leases so several annotators never share an item,
append-only decisions, fixed masks written durably before the decision that points at them, and an export
of the corrected dataset in the same layout with review statistics. No Qt here: the dock lives in _qt/.
"""

from .export import ExportResult, export_reviewed
from .masks import MaskProblem
from .queue import ReviewQueue
from .records import REJECT_REASONS, Decision, ImportResult, ItemFilter, Lease, ReviewItem
from .stats import format_stats, review_stats

__all__ = [
    "REJECT_REASONS",
    "Decision",
    "ExportResult",
    "ImportResult",
    "ItemFilter",
    "Lease",
    "MaskProblem",
    "ReviewItem",
    "ReviewQueue",
    "export_reviewed",
    "format_stats",
    "review_stats",
]
