"""Properties of saved findings: any labels and sentences come back exactly; a save killed at any step leaves
one whole pair; any sidecar text either loads or is one clear error."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from napari_petground.errors import PetGroundError, WriteError
from napari_petground.findings import FindingRecord, load_findings, save_findings
from test_findings_pair import Killed, _kill_at, small_study

PROPERTY = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
                    database=None)
STUDY = small_study()
label_ids = st.lists(st.integers(1, 2**32 - 1), min_size=1, max_size=4, unique=True)
scalars = st.one_of(st.booleans(), st.integers(-(2**53), 2**53), st.text(max_size=20))
record_fields = st.fixed_dictionaries({
    "sentence": st.text(max_size=200),
    "edited": st.booleans(),
    "agreement": st.dictionaries(st.text(max_size=10), scalars, max_size=3),
    "model": st.dictionaries(st.text(max_size=10), scalars, max_size=3),
})


@st.composite
def findings(draw) -> tuple[np.ndarray, list[FindingRecord]]:
    """A labels array with some ids (small or up to 2**32 - 1) and sentences for some of them."""
    ids = draw(label_ids)
    seed = draw(st.integers(0, 2**32 - 1))
    choice = np.random.default_rng(seed).integers(0, len(ids) + 1, STUDY.pet.shape)
    labels = np.asarray([0, *ids], dtype=np.int64)[choice]
    present = sorted(int(v) for v in np.unique(labels) if v)
    records = [FindingRecord(label, **draw(record_fields), accepted_at=draw(st.text(max_size=25)))
               for label in present if draw(st.booleans())]
    return labels, records


def _same(loaded, labels, records) -> None:
    np.testing.assert_array_equal(loaded.labels, labels)
    got = [(r.label, r.sentence, r.edited, r.agreement, r.model, r.accepted_at) for r in loaded.records]
    assert got == [(r.label, r.sentence, r.edited, r.agreement, r.model, r.accepted_at) for r in records]


@settings(PROPERTY, max_examples=40)
@given(saved=findings(), suffix=st.sampled_from((".nii.gz", ".nii")))
def test_any_labels_and_sentences_round_trip_exactly(saved, suffix):
    labels, records = saved
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"f{suffix}"
        save_findings(path, labels, STUDY, records)
        loaded = load_findings(path, STUDY)
        assert loaded.notes == []
        _same(loaded, labels, records)


@settings(PROPERTY, max_examples=30)
@given(old=findings(), new=findings(),
       step=st.sampled_from(("writing labels", "before the sidecar", "before the rename", "after the rename")))
def test_a_save_killed_at_any_step_leaves_exactly_the_old_pair_or_the_new_one(old, new, step):
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        path = Path(folder) / "f.nii.gz"
        save_findings(path, old[0], STUDY, old[1])
        _kill_at(patch, step, path)
        with pytest.raises(Killed):
            save_findings(path, new[0], STUDY, new[1])
        patch.undo()
        loaded = load_findings(path, STUDY)
        _same(loaded, *(new if step in ("before the rename", "after the rename") else old))


json_values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                                     st.text(max_size=10)),
                           lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                   st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                           max_leaves=12)
row_keys = st.sampled_from(("label", "sentence", "finding", "stats", "edited", "agreement", "model", "accepted_at"))
rows = st.lists(st.dictionaries(row_keys, json_values, max_size=5), max_size=3)
documents = st.fixed_dictionaries(
    {"format": st.sampled_from(("napari-petground findings", "other"))},
    optional={"version": json_values, "findings": st.one_of(rows, json_values), "study": json_values,
              "labels_sha256": json_values, "labels_file_sha256": json_values, "pending_labels": json_values})


@settings(PROPERTY, max_examples=150)
@given(document=st.one_of(documents, json_values), raw=st.one_of(st.none(), st.binary(max_size=40)))
def test_any_sidecar_loads_or_is_one_clear_error(tmp_path_factory, document, raw):
    folder = tmp_path_factory.mktemp("sidecar")
    labels = np.zeros(STUDY.pet.shape, np.uint8)
    labels[1, 1, 1:3] = 2
    save_findings(folder / "f.nii.gz", labels, STUDY, [FindingRecord(2, "a lesion")])
    sidecar = folder / "f.nii.gz.json"
    sidecar.write_bytes(raw if raw is not None else json.dumps(document).encode("utf-8"))
    try:
        loaded = load_findings(folder / "f.nii.gz", STUDY)
    except PetGroundError as exc:
        assert str(exc) and "Traceback" not in str(exc)
        return
    np.testing.assert_array_equal(loaded.labels, labels)


@settings(PROPERTY, max_examples=40)
@given(value=st.one_of(st.floats(), st.integers(-(2**40), 2**40)))
def test_labels_are_saved_exactly_or_refused_never_cast(value):
    labels = np.zeros(STUDY.pet.shape, np.float64 if isinstance(value, float) else np.int64)
    labels[2, 2, 2] = value
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "f.nii.gz"
        try:
            save_findings(path, labels, STUDY, [])
        except WriteError:
            assert not path.exists()
            return
        np.testing.assert_array_equal(load_findings(path, STUDY).labels, labels)
