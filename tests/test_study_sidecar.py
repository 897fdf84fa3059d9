"""A phantom saved as NIfTI opens again with its tracer, report, image numbering and units (phantom.json)."""

from __future__ import annotations

import json

import pytest

from napari_petground.phantom import make_phantom
from napari_petground.phantom.io import save_phantom
from napari_petground.study import load_study
from napari_petground.study.nifti import SIDECAR_NAME, read_sidecar


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    phantom = make_phantom(5, resolution_mm=8.0, n_lesions=2, tracer="PSMA")
    folder = save_phantom(phantom, tmp_path_factory.mktemp("phantom"), format="nifti")
    return phantom, folder


def _copy_images(folder, target):
    target.mkdir()
    for name in ("ct.nii.gz", "pet_suv.nii.gz"):
        (target / name).write_bytes((folder / name).read_bytes())
    return target


@pytest.mark.parametrize("how", ["folder", "pair"])
def test_reopened_phantom_keeps_tracer_report_numbering_and_units(saved, how):
    phantom, folder = saved
    study = load_study(folder if how == "folder" else [folder / "ct.nii.gz", folder / "pet_suv.nii.gz"])
    assert study.tracer == "PSMA"
    assert study.report == phantom.report
    assert study.numbering == phantom.study.numbering
    assert study.pet_is_suv and study.pet_units == "SUVbw"
    assert not any("units" in w for w in study.warnings), study.warnings


def test_without_sidecar_the_values_decide_as_before(saved, tmp_path):
    _phantom, folder = saved
    study = load_study(_copy_images(folder, tmp_path / "bare"))
    assert study.tracer == "" and study.report == ""
    assert any("NIfTI has no units" in w for w in study.warnings)


@pytest.mark.parametrize("content", ["{not json", "[1, 2, 3]", '"text"', "\udcff"])
def test_a_damaged_sidecar_never_stops_the_images(saved, tmp_path, content):
    _phantom, folder = saved
    target = _copy_images(folder, tmp_path / "damaged")
    if content == "\udcff":
        (target / SIDECAR_NAME).write_bytes(b"\xff\xfe{")
    else:
        (target / SIDECAR_NAME).write_text(content, encoding="utf-8")
    study = load_study(target)
    assert study.tracer == "" and study.pet.shape == saved[0].study.pet.shape


def test_sidecar_fields_of_the_wrong_type_are_ignored(saved, tmp_path):
    _phantom, folder = saved
    target = _copy_images(folder, tmp_path / "odd")
    (target / SIDECAR_NAME).write_text(json.dumps({
        "tracer": 7, "report": ["x"], "numbering": {"convention": "sideways", "numbers": [1.5, True]},
        "pet_units": None}), encoding="utf-8")
    sidecar, notes = read_sidecar(target / "pet_suv.nii.gz")
    assert notes == []
    assert (sidecar.tracer, sidecar.report, sidecar.convention, sidecar.numbers) == ("", "", "", ())
    study = load_study(target)
    assert study.tracer == "" and study.numbering.convention.value == "head_first"


def test_only_the_sidecar_name_is_read(saved, tmp_path):
    _phantom, folder = saved
    target = _copy_images(folder, tmp_path / "other")
    (target / "other.json").write_text(json.dumps({"tracer": "FDG", "report": "x"}), encoding="utf-8")
    assert load_study(target).tracer == ""


def test_a_dicom_phantoms_sidecar_does_not_describe_nifti_files(saved, tmp_path):
    _phantom, folder = saved
    target = _copy_images(folder, tmp_path / "dicom_meta")
    meta = json.loads((folder / SIDECAR_NAME).read_text(encoding="utf-8"))
    meta["format"] = "dicom"
    (target / SIDECAR_NAME).write_text(json.dumps(meta), encoding="utf-8")
    assert load_study(target).tracer == ""
