"""``petground phantom`` writes phantoms and datasets; the demo sample is a cached FDG study with twins."""

from __future__ import annotations

import json

import numpy as np

from napari_petground.cli import main
from napari_petground.dataset import Dataset


def test_cli_writes_nifti_phantoms(tmp_path, capsys):
    code = main(["phantom", "--n", "2", "--seed", "5", "--resolution", "10", "--format", "nifti",
                 "--out", str(tmp_path), "--no-progress"])
    assert code == 0
    folders = sorted(p.name for p in tmp_path.iterdir())
    assert folders == ["phantom_000005", "phantom_000006"]
    meta = json.loads((tmp_path / "phantom_000005" / "phantom.json").read_text())
    assert meta["seed"] == 5 and meta["report"].startswith("EXAMINATION")


def test_cli_writes_a_dataset(tmp_path):
    code = main(["phantom", "--n", "2", "--seed", "1", "--tracer", "mixed", "--resolution", "10",
                 "--format", "dataset", "--out", str(tmp_path / "ds"), "--no-progress"])
    assert code == 0
    assert len(Dataset(tmp_path / "ds").cases()) == 2


def test_cli_rejects_bad_counts(tmp_path, capsys):
    assert main(["phantom", "--n", "0", "--out", str(tmp_path), "--no-progress"]) == 2
    assert "--n must be at least 1" in capsys.readouterr().err


def test_demo_study_is_cached_and_has_a_twin_pair():
    from napari_petground.phantom.sample import demo_phantom, demo_study

    a, b = demo_study(), demo_study()
    assert a.pet.data is b.pet.data and a is not b  # arrays shared, study objects separate
    assert not a.pet.data.flags.writeable
    assert a.pet.spacing == (4.0, 4.0, 4.0) and a.tracer == "FDG" and a.source_kind == "phantom"
    ph = demo_phantom()
    assert 4 <= len(ph.lesions) <= 5
    twins = [les for les in ph.lesions if les.kind == "twin"]
    assert {les.laterality for les in twins} == {"left", "right"}
    assert a.report == ph.report and "FINDINGS" in a.report
    assert np.array_equal(a.extras["lesion_labels"], ph.lesion_labels)
