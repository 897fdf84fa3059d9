"""Random damage to the headers of a valid PET/CT series: a clear StudyError, or the same geometry.

A small PET and CT series is written by the package's own exporter; each example changes one to three
header values (in every image or in one), copies or removes a file, then opens the folder. The reader must
either refuse with a StudyError (SuvError included) or give the volume the undamaged series gives: same
grid within a tenth of a voxel, finite values, an image number per slice, and values called SUV only when
they are plausible SUV (and the very same SUV when the damage did not touch what SUV depends on). Any other
exception, or another geometry, fails.

``PETGROUND_FUZZ_EXAMPLES`` sets how many examples run (100 by default; the run is derandomised so a
failure repeats).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.tag import Tag

from napari_petground.errors import StudyError
from napari_petground.study import load_study
from napari_petground.study.export import export_dicom
from napari_petground.study.suv import MAX_SUV
from napari_petground.study.synthetic import synthetic_study

EXAMPLES = int(os.environ.get("PETGROUND_FUZZ_EXAMPLES", "100"))
DELETE = object()
N_SLICES = {"PET": 8, "CT": 12}


@dataclass(frozen=True)
class Mutation:
    """One change to the files of a series; ``neutral``: SUV values must not change if still called SUV."""

    series: str
    where: int | None  # file index (slice order) or None for every image
    action: str  # "set" (header value), "item" (radiopharmaceutical item), "copy", "remove", "syntax"
    keyword: str = ""
    value: object = None
    neutral: bool = True

    def __repr__(self) -> str:
        where = "all" if self.where is None else f"#{self.where}"
        value = "DELETE" if self.value is DELETE else repr(self.value)
        return f"{self.series}[{where}] {self.action} {self.keyword}={value}"


def _put(ds, keyword: str, value) -> None:
    tag = tag_for_keyword(keyword)
    if value is DELETE:
        if tag in ds:
            del ds[tag]
    elif isinstance(value, bytes):  # raw bytes: written as they are, even when pydicom would refuse them
        data = value + (b" " if len(value) % 2 else b"")
        ds[tag] = RawDataElement(Tag(tag), dictionary_VR(tag), len(data), data, 0, False, True)
    else:
        setattr(ds, keyword, value)


def apply(root: Path, mutation: Mutation) -> None:
    files = sorted((root / mutation.series).glob("*.dcm"))
    prefix = "PT" if mutation.series == "PET" else "CT"
    targets = files if mutation.where is None else [root / mutation.series / f"{prefix}{mutation.where:04d}.dcm"]
    if not all(t.exists() for t in targets):
        return  # removed by an earlier change
    if mutation.action == "remove":
        targets[0].unlink()
        return
    if mutation.action == "copy":
        copy = targets[0].with_name(f"{targets[0].stem}_copy.dcm")
        shutil.copy(targets[0], copy)
        if mutation.value == "new uid":
            ds = pydicom.dcmread(copy)
            ds.SOPInstanceUID = pydicom.uid.generate_uid()
            ds.save_as(copy)
        return
    if mutation.action == "syntax":  # patched in the bytes: pydicom would not write such a file
        for path in targets:
            raw = path.read_bytes()
            path.write_bytes(raw.replace(b"1.2.840.10008.1.2.1\0", mutation.value.encode() + b"\0", 1))
        return
    for path in targets:
        ds = pydicom.dcmread(path)
        if mutation.action == "set":
            _put(ds, mutation.keyword, mutation.value)
        elif mutation.action == "item":
            _put(ds.RadiopharmaceuticalInformationSequence[0], mutation.keyword, mutation.value)
        elif mutation.action == "shift":
            try:
                position = [float(v) for v in ds.ImagePositionPatient]
            except (AttributeError, TypeError, ValueError):
                continue  # damaged by an earlier change already
            if len(position) == 3:
                ds.ImagePositionPatient = [f"{p + d:.4f}" for p, d in zip(position, mutation.value, strict=True)]
        elif mutation.action == "uid of first":
            ds.SOPInstanceUID = pydicom.dcmread(files[0], stop_before_pixels=True).SOPInstanceUID
        ds.save_as(path)


BAD_NUMBER = [b"0", b"-1", b"nan", b"inf", b"-inf", b"abc", b"1e999"]
BAD_PAIR = [b"0\\0", b"-1\\1", b"nan\\1", b"inf\\inf", b"abc\\1", b"1", b"1\\1\\1", b"", DELETE]
BAD_ORIENTATION = [b"0\\0\\0\\0\\0\\0", b"1\\0\\0\\1\\0\\0", b"2\\0\\0\\0\\1\\0", b"nan\\0\\0\\0\\1\\0",
                   b"1\\0\\0", b"x", b"", DELETE]
BAD_POSITION = [b"nan\\0\\0", b"abc\\0\\0", b"1\\2", b"", DELETE]
SERIES = st.sampled_from(["PET", "CT"])


def _where(series: str, allow_all: bool = True):
    one = st.integers(0, N_SLICES[series] - 1)
    return st.one_of(st.none(), one) if allow_all else one


@st.composite
def mutations(draw) -> Mutation:
    series = draw(SERIES)
    kind = draw(st.sampled_from([
        "spacing", "orientation", "position", "shift", "slope", "intercept", "size", "bits", "frames",
        "instance", "units", "decay", "weight", "corrected", "dose", "copy", "remove", "syntax", "uid",
        "samples", "times",
    ]))
    if kind in ("units", "decay", "weight", "corrected", "dose", "times"):
        series = "PET"
    where = draw(_where(series))
    if kind == "spacing":
        value = draw(st.sampled_from(BAD_PAIR + ([b"2.5\\2.5"] if where is not None else [])))
        return Mutation(series, where, "set", "PixelSpacing", value)
    if kind == "orientation":
        value = draw(st.sampled_from(BAD_ORIENTATION + ([b"1\\0\\0\\0\\0\\-1"] if where is not None else [])))
        return Mutation(series, where, "set", "ImageOrientationPatient", value)
    if kind == "position":
        return Mutation(series, where, "set", "ImagePositionPatient", draw(st.sampled_from(BAD_POSITION)))
    if kind == "shift":  # one image moved: sideways, or along the normal by less than half a slice
        spacing = 400.0 / N_SLICES[series]
        sideways = st.one_of(st.just(0.0), st.floats(-4.0, 4.0))
        along = st.one_of(st.just(0.0), st.floats(-0.45 * spacing, 0.45 * spacing))
        delta = (draw(sideways), draw(sideways), draw(along))
        return Mutation(series, draw(_where(series, allow_all=False)), "shift", "ImagePositionPatient", delta)
    if kind == "slope":
        value = draw(st.sampled_from(BAD_NUMBER + [b"", DELETE, b"1e-300", b"1e30"]))
        return Mutation(series, where, "set", "RescaleSlope", value, neutral=False)
    if kind == "intercept":
        return Mutation(series, where, "set", "RescaleIntercept", draw(st.sampled_from(BAD_NUMBER[2:] + [b""])))
    if kind == "size":
        keyword = draw(st.sampled_from(["Rows", "Columns"]))
        return Mutation(series, where, "set", keyword, draw(st.sampled_from([0, 1, 15, 17, 23, 25])))
    if kind == "bits":
        keyword = draw(st.sampled_from(["BitsAllocated", "BitsStored"]))
        return Mutation(series, where, "set", keyword, draw(st.sampled_from([0, 1, 8, 12, 17, 32, 64])),
                        neutral=False)
    if kind == "frames":
        return Mutation(series, where, "set", "NumberOfFrames", draw(st.sampled_from([b"2", b"abc", b"0"])))
    if kind == "samples":
        return Mutation(series, where, "set", "SamplesPerPixel", 3)
    if kind == "instance":
        value = draw(st.sampled_from([b"abc", b"", DELETE, b"1", b"-7"]))
        return Mutation(series, where, "set", "InstanceNumber", value)
    if kind == "units":
        return Mutation(series, where, "set", "Units", draw(st.sampled_from([b"", b"GML", b"CNTS", b"XYZ"])))
    if kind == "decay":
        value = draw(st.sampled_from([b"", b"FOO", b"START", b"NONE"]))
        return Mutation(series, where, "set", "DecayCorrection", value, neutral=value in (b"", b"FOO"))
    if kind == "weight":
        value = draw(st.sampled_from([b"0", b"-5", b"nan", b"1e6", b"abc", b"", DELETE]))
        return Mutation(series, where, "set", "PatientWeight", value)
    if kind == "times":  # used once DecayCorrection is START or NONE (another change may set it)
        keyword = draw(st.sampled_from(["SeriesTime", "AcquisitionTime", "SeriesDate", "AcquisitionDate"]))
        return Mutation(series, where, "set", keyword, draw(st.sampled_from([b"abc", b"", b"250000", b"999999",
                                                                              b"20240101", DELETE])))
    if kind == "corrected":
        return Mutation(series, where, "set", "CorrectedImage", draw(st.sampled_from([b"DECY", b"", b"ATTN"])))
    if kind == "dose":
        keyword = draw(st.sampled_from(["RadionuclideTotalDose", "RadionuclideHalfLife",
                                        "RadiopharmaceuticalStartDateTime"]))
        return Mutation(series, where, "item", keyword, draw(st.sampled_from([b"0", b"nan", b"370", b"abc",
                                                                               b"1e12", b"", DELETE])))
    if kind == "copy":
        value = draw(st.sampled_from(["same uid", "new uid"]))
        return Mutation(series, draw(_where(series, allow_all=False)), "copy", value=value)
    if kind == "remove":  # an inner image: the series keeps its extent
        return Mutation(series, draw(st.integers(1, N_SLICES[series] - 2)), "remove", neutral=False)
    if kind == "uid":
        return Mutation(series, draw(st.integers(1, N_SLICES[series] - 1)), "uid of first")
    # same length as explicit little endian's UID: RLE (pixel data not encoded so), and an unknown one
    syntax = draw(st.sampled_from(["1.2.840.10008.1.2.5", "1.2.840.10008.9.999"]))
    return Mutation(series, where, "syntax", value=syntax)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    study = synthetic_study(ct_shape=(N_SLICES["CT"], 24, 24), pet_shape=(N_SLICES["PET"], 16, 16))
    folder = export_dicom(study, tmp_path_factory.mktemp("fuzz") / "exam")
    return folder, load_study(folder)


def _same_grid(volume, reference) -> None:
    assert volume.shape == reference.shape
    spacing = np.asarray(reference.spacing)
    np.testing.assert_allclose(volume.origin, reference.origin, atol=0.1 * spacing.min())
    far = np.asarray(volume.origin) + (np.asarray(volume.shape) - 1) * np.asarray(volume.spacing)
    far_ref = np.asarray(reference.origin) + (np.asarray(reference.shape) - 1) * spacing
    np.testing.assert_allclose(far, far_ref, atol=0.1 * spacing.min())


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(changes=st.lists(mutations(), min_size=1, max_size=3))
def test_damaged_headers_give_a_clear_error_or_the_same_geometry(template, changes):
    folder, reference = template
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(shutil.copytree(folder, Path(scratch) / "exam"))
        for change in sorted(changes, key=lambda c: c.action == "syntax"):  # pydicom cannot rewrite those
            apply(root, change)
        try:
            study = load_study(root)
        except StudyError as exc:
            assert str(exc).strip(), "an error must say what is wrong"
            return
    _same_grid(study.pet, reference.pet)
    assert study.ct is not None
    _same_grid(study.ct, reference.ct)
    assert np.isfinite(study.pet.data).all()
    assert len(study.numbering.numbers) == study.pet.shape[0]
    if study.pet_is_suv:
        assert 0 < study.suvmax() <= MAX_SUV
        if all(c.neutral for c in changes if c.series == "PET"):
            np.testing.assert_allclose(study.pet.data, reference.pet.data, rtol=1e-4, atol=1e-4)


def _header(position, orientation, uid: str):
    from pydicom.dataset import Dataset

    ds = Dataset()
    ds.ImagePositionPatient = [f"{v:.6f}" for v in position]
    ds.ImageOrientationPatient = [f"{v:.8f}" for v in orientation]
    ds.PixelSpacing = ["2", "2"]
    ds.Rows = ds.Columns = 4
    ds.SOPInstanceUID = uid
    return ds


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None)
@given(n=st.integers(3, 40), spacing=st.floats(0.5, 6.0), angles=st.tuples(*[st.floats(-3.2, 3.2)] * 3),
       origin=st.tuples(*[st.floats(-500, 500)] * 3), data=st.data())
def test_slices_land_on_their_grid_places_whatever_the_file_order(n, spacing, angles, origin, data):
    from scipy.spatial.transform import Rotation

    from napari_petground.study.slices import MAX_FILLED, place_slices

    axes = Rotation.from_euler("xyz", angles).as_matrix()
    row, col, normal = axes[:, 0], axes[:, 1], axes[:, 2]
    # inner slices removed in runs of at most MAX_FILLED; positions jittered by under 1 % of a slice
    missing: set[int] = set()
    for start in data.draw(st.lists(st.integers(1, n - 2), max_size=3)):
        run = data.draw(st.integers(1, MAX_FILLED))
        missing.update(z for z in range(start, min(start + run, n - 1)))
    for z in sorted(missing):  # keep runs short after merging neighbouring draws
        if all(z - k in missing for k in range(1, MAX_FILLED + 1)):
            missing.discard(z)
    present = [z for z in range(n) if z not in missing]
    assume(1 in np.diff(present))  # else no step shows the slice spacing
    jitter = data.draw(st.lists(st.floats(-0.009, 0.009), min_size=len(present), max_size=len(present)))
    shuffled = data.draw(st.permutations(range(len(present))))
    headers, files, truth = [], [], []
    for k in shuffled:
        z = present[k]
        position = np.asarray(origin) + (z + jitter[k]) * spacing * normal
        headers.append(_header(position, np.concatenate([row, col]), f"1.2.3.{z}"))
        files.append(Path(f"IM{z:04d}.dcm"))
        truth.append(z)
    placement = place_slices(headers, files, "PET", "series")
    assert len(placement.slots) == n
    for slot, image in enumerate(placement.slots):
        if image >= 0:
            assert truth[placement.order[image]] == slot
    assert placement.filled == sorted(missing)
    assert placement.geometry.spacing[2] == pytest.approx(spacing, rel=0.01)
    np.testing.assert_allclose(placement.geometry.origin, origin, atol=0.01 * spacing + 1e-4)


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None)
@given(n=st.integers(4, 30), spacing=st.floats(0.5, 6.0), data=st.data())
def test_a_step_that_is_no_whole_number_of_slices_is_refused(n, spacing, data):
    from napari_petground.study.slices import place_slices

    at = data.draw(st.integers(1, n - 1))
    extra = data.draw(st.floats(0.25, 0.75)) + data.draw(st.integers(0, 2))
    headers, files = [], []
    for z in range(n):
        height = (z + (extra if z >= at else 0.0)) * spacing
        headers.append(_header((0.0, 0.0, height), (1, 0, 0, 0, 1, 0), f"1.2.3.{z}"))
        files.append(Path(f"IM{z:04d}.dcm"))
    with pytest.raises(StudyError, match="not evenly spaced"):
        place_slices(headers, files, "CT", "series")
