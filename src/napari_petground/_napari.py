"""Thin npe2 entry points: each one delegates to the core and turns a Study into napari layer data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

LayerData = tuple[Any, dict, str]


def get_reader(path: str | list[str]) -> Callable[[str | list[str]], list[LayerData]] | None:
    """Return a reader when ``path`` looks like a PET/CT study (DICOM folder/files or NIfTI pair)."""
    from .study.io import can_read

    return _read_study if can_read(path) else None


def _read_study(path: str | list[str]) -> list[LayerData]:
    from .session import StudySession, session_layers
    from .study import load_study

    return session_layers(StudySession(load_study(path)))


def write_labels(path: str, data: Any, attributes: dict) -> list[str]:
    """Write a Labels layer back in the geometry of the study it was drawn on.

    A layer of a study session (findings, prediction, a label drawn there) is saved as findings are: the
    labels and the JSON sidecar with the sentence of each label (none for a layer other than "findings").
    A Labels layer made by hand carries no study and is written on its own grid (study.writers).
    """
    from .session import role_of, session_of

    session = session_of(attributes)
    if session is None:
        from .study.writers import write_labels_layer

        return [str(p) for p in write_labels_layer(Path(path), data, attributes)]
    from .findings.io import save_findings

    records = session.findings.records if role_of(attributes) == "findings" else []
    return [str(p) for p in save_findings(path, data, session.study, records)]


def demo_study() -> list[LayerData]:
    """The synthetic demo PET/CT in a StudySession, with its report in the layers' metadata."""
    from .phantom.sample import demo_study as make_demo
    from .session import StudySession, session_layers

    return session_layers(StudySession(make_demo()))
