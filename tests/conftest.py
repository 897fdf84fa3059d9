"""Shared fixtures: the real sarcoma PET/CT sample and a headless-safe Qt setup."""

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
    """Folder of the four IBSI soft-tissue-sarcoma PET/CT patients; skips when it is not beside the repo."""
    if not (IBSI_DIR / "STS_002").is_dir():
        pytest.skip(f"real PET/CT sample not found at {IBSI_DIR} (set PETGROUND_IBSI_DIR)")
    return IBSI_DIR
