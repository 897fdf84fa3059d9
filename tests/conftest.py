"""Shared fixtures: the real sarcoma PET/CT sample, a headless-safe Qt setup, a napari viewer with the widget
leak check raising, and the dock's settings in a file of the test's own."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO_ROOT = Path(__file__).resolve().parents[1]
IBSI_DIR = Path(os.environ.get("PETGROUND_IBSI_DIR", REPO_ROOT.parent / "shared" / "data" / "ibsi-sts"))
IBSI_PATIENTS = ("STS_002", "STS_008", "STS_019", "STS_025")


@pytest.fixture(scope="session")
def ibsi_dir() -> Path:
    """Folder of the IBSI soft-tissue-sarcoma PET/CT patients; skips when it is not beside the repo."""
    if not (IBSI_DIR / "STS_002").is_dir():
        pytest.skip(f"real PET/CT sample not found at {IBSI_DIR} (set PETGROUND_IBSI_DIR)")
    return IBSI_DIR


@pytest.fixture
def viewer(make_napari_viewer):
    """A real napari viewer from napari's fixture; a Qt widget left alive after the test fails it."""
    return make_napari_viewer(strict_qt="raise")


@pytest.fixture
def settings(tmp_path):
    """The plugin's QSettings in the test's own folder, so no test reads another's (or the user's) choices."""
    from qtpy.QtCore import QSettings

    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
