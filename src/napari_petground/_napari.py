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
    from .study import load_study
    from .study.layers import study_layers

    return study_layers(load_study(path))


def write_labels(path: str, data: Any, attributes: dict) -> list[str]:
    """Write a Labels layer back in the geometry of the study it was drawn on."""
    from .study.writers import write_labels_layer

    return [str(p) for p in write_labels_layer(Path(path), data, attributes)]


def demo_study() -> list[LayerData]:
    """The synthetic demo PET/CT, with its report in the layers' metadata."""
    from .phantom.sample import demo_study as make_demo
    from .study.layers import study_layers

    return study_layers(make_demo())
