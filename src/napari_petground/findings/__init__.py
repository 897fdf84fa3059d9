"""Accepted findings of a study: records (label id <-> sentence), lesion statistics, save and reload.

Plain numpy; the grounding dock keeps a :class:`FindingsStore` beside its "findings" Labels layer and saves
both with :func:`save_findings` (NIfTI or DICOM SEG + JSON sidecar).
"""

from .io import LoadedFindings, load_findings, save_findings, sidecar_path
from .records import FindingRecord, FindingRow, FindingsStore, present_labels
from .stats import LesionStats, label_stats, lesion_stats, stats_from_dict

__all__ = [
    "FindingRecord",
    "FindingRow",
    "FindingsStore",
    "LesionStats",
    "LoadedFindings",
    "label_stats",
    "lesion_stats",
    "load_findings",
    "present_labels",
    "save_findings",
    "sidecar_path",
    "stats_from_dict",
]
