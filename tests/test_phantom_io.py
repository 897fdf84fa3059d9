"""Phantoms on disk: NIfTI and DICOM round trips through the study reader, cohort datasets."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_petground.dataset import Dataset
from napari_petground.errors import PhantomError
from napari_petground.phantom import make_phantom
from napari_petground.phantom.io import load_phantom, save_cohort_dataset, save_phantom
from napari_petground.study.numbering import Convention


@pytest.fixture(scope="module")
def phantom():
    return make_phantom(21, resolution_mm=8.0, n_lesions=3, tracer="PSMA")


def test_nifti_round_trip(phantom, tmp_path):
    out = save_phantom(phantom, tmp_path / "p", "nifti")
    assert {p.name for p in out.iterdir()} >= {"ct.nii.gz", "pet_suv.nii.gz", "lesions.nii.gz", "sites.nii.gz",
                                                "phantom.json"}
    back = load_phantom(out)
    assert np.array_equal(back.study.ct.data, phantom.study.ct.data)
    assert np.allclose(back.study.pet.data, phantom.study.pet.data)
    assert np.array_equal(back.lesion_labels, phantom.lesion_labels)
    assert np.array_equal(back.site_map, phantom.site_map)
    assert back.report == phantom.report and back.tracer == "PSMA"
    assert [s.to_dict() for s in back.sentences] == [s.to_dict() for s in phantom.sentences]
    assert back.study.numbering.numbers == phantom.study.numbering.numbers
    meta = json.loads((out / "phantom.json").read_text())
    assert meta["lesions"][0]["suvmax"] == pytest.approx(phantom.lesions[0].suvmax)


def test_dicom_round_trip_reproduces_suv(phantom, tmp_path):
    pydicom = pytest.importorskip("pydicom")
    out = save_phantom(phantom, tmp_path / "d", "dicom")
    first = pydicom.dcmread(sorted((out / "PET").glob("*.dcm"))[0])
    assert first.Units == "BQML" and first.DecayCorrection == "START"
    info = first.RadiopharmaceuticalInformationSequence[0]
    assert float(info.RadionuclideHalfLife) == pytest.approx(6586.2)
    ct_first = pydicom.dcmread(sorted((out / "CT").glob("*.dcm"))[0])
    assert ct_first.FrameOfReferenceUID == first.FrameOfReferenceUID
    assert float(ct_first.RescaleIntercept) == -1024
    back = load_phantom(out)
    pet, ref = back.study.pet.data, phantom.study.pet.data
    assert back.study.pet_is_suv and back.study.pet.same_grid(phantom.study.pet)
    body = ref > 0.5
    assert np.max(np.abs(pet[body] - ref[body]) / ref[body]) < 0.01
    assert np.array_equal(back.study.ct.data, phantom.study.ct.data)
    # InstanceNumber counts from the head: image 1 is the most superior slice
    assert back.study.numbering.convention == Convention.DICOM
    assert back.study.numbering.numbers == phantom.study.numbering.numbers
    assert back.study.numbering.image_for_index(pet.shape[0] - 1) == 1
    for les in back.lesions:
        mask = back.lesion_labels == les.id
        assert round(float(pet[mask].max()), 1) == pytest.approx(round(les.suvmax, 1), abs=0.11)


def test_cohort_dataset(tmp_path):
    calls = []
    rows = save_cohort_dataset(3, 40, tmp_path / "ds", tracer="mixed", variants_per_lesion=2,
                               progress=lambda i, n: calls.append((i, n)))
    assert rows.is_file() and calls[-1] == (3, 3)
    ds = Dataset(tmp_path / "ds")
    assert ds.cases() == ["phantom_000040", "phantom_000041", "phantom_000042"]
    for case in ds.cases():
        labels = ds.load_labels(case)
        _, pet = ds.load_images(case)
        for item in ds.items(case):
            assert item.status == "truth"
            if item.label is None:
                continue
            mask = labels == item.label
            assert mask.any() and item.truth["lesion_id"] == item.label
            if item.finding["suvmax"] is not None:
                assert round(float(pet.data[mask].max()), 1) == item.finding["suvmax"]
                assert f"{item.finding['suvmax']:.1f}" in item.sentence
    kinds = {item.truth["kind"] for item in ds.items()}
    assert {"variant_numbers", "variant_no_numbers"} <= kinds
    # a rerun resumes: finished cases are not rewritten
    before = ds.pet_path("phantom_000040").stat().st_mtime_ns
    save_cohort_dataset(3, 40, tmp_path / "ds", tracer="mixed")
    assert ds.pet_path("phantom_000040").stat().st_mtime_ns == before


def test_load_phantom_without_json_says_what_is_missing(tmp_path):
    with pytest.raises(PhantomError, match="phantom.json"):
        load_phantom(tmp_path)
    with pytest.raises(PhantomError, match="format"):
        save_phantom(make_phantom(1, resolution_mm=10.0, n_lesions=1), tmp_path / "x", "png")
