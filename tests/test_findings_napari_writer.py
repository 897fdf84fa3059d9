"""The npe2 labels writer saves exactly the values it is given, or refuses: never a silent cast."""

from __future__ import annotations

import numpy as np
import pytest

from napari_petground._napari import write_labels
from napari_petground.dataset.layout import read_nifti
from napari_petground.errors import WriteError
from napari_petground.study import ImageNumbering, Study, Volume

SHAPE = (3, 4, 5)
BARE = {"scale": (3.0, 2.0, 2.0), "translate": (0.0, 0.0, 0.0), "metadata": {}}


def _study() -> Study:
    return Study(pet=Volume(np.ones(SHAPE, np.float32), (3.0, 2.0, 2.0), (0.0, 0.0, 0.0)), ct=None,
                 numbering=ImageNumbering.from_convention(SHAPE[0]), source_kind="phantom")


def _attached() -> dict:
    return {**BARE, "metadata": {"petground": {"study": _study()}}}


def _labels(value: float, dtype=np.float32) -> np.ndarray:
    data = np.zeros(SHAPE, dtype)
    data[1, 1, 1] = value
    return data


@pytest.mark.parametrize("attributes", [BARE, _attached()], ids=["bare layer", "layer of a study"])
@pytest.mark.parametrize(("data", "message"), [
    (_labels(-1.0), "must not be negative"),
    (_labels(2.5), "whole numbers"),
    (_labels(np.nan), "whole numbers"),
    (_labels(np.inf), "whole numbers"),
    (_labels(-1, np.int16), "must not be negative"),
    (_labels(2.0**33, np.float64), "too large"),
    (_labels(2**40, np.int64), "too large"),
    (np.full(SHAPE, "a"), "cannot be saved"),
])
def test_labels_that_would_change_when_stored_are_refused(tmp_path, attributes, data, message):
    with pytest.raises(WriteError, match=message):
        write_labels(str(tmp_path / "x.nii.gz"), data, attributes)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("attributes", [BARE, _attached()], ids=["bare layer", "layer of a study"])
@pytest.mark.parametrize(("value", "dtype"), [(3.0, np.float32), (300.0, np.float64), (70000.0, np.float64),
                                              (True, bool), (65535, np.int32)])
def test_whole_non_negative_labels_are_saved_exactly(tmp_path, attributes, value, dtype):
    data = _labels(value, dtype)
    (path,) = write_labels(str(tmp_path / "x.nii.gz"), data, attributes)
    stored = read_nifti(tmp_path / "x.nii.gz").data
    assert path.endswith("x.nii.gz") and np.issubdtype(stored.dtype, np.unsignedinteger)
    np.testing.assert_array_equal(stored, data.astype(np.int64))
