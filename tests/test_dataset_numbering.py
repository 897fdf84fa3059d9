"""A dataset keeps each exam's image numbering, so "image N" in a report still names the slice it meant when
the dataset is reviewed, exported and evaluated: here a DICOM exam numbered from the feet, starting at 201."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from napari_petground.dataset import Dataset
from napari_petground.report import extract_findings
from napari_petground.study import load_study
from napari_petground.study.export import export_dicom
from napari_petground.study.numbering import Convention, ImageNumbering
from napari_petground.study.synthetic import HOT_SUV, synthetic_study
from napari_petground.weaklabel.agreement import check_agreement
from napari_petground.weaklabel.cohort import run_cohort

PET_SHAPE = (24, 32, 32)
CASE = "FEET1"


@pytest.fixture(scope="module")
def feet_first(tmp_path_factory) -> dict:
    """A DICOM exam numbered feet first from 201, a report citing the lesion's image, the weak-label dataset."""
    root = tmp_path_factory.mktemp("feet")
    study = synthetic_study(ct_shape=(24, 48, 48), pet_shape=PET_SHAPE, name=CASE)
    numbers = tuple(range(201, 201 + PET_SHAPE[0]))  # z index 0 is the most inferior slice: image 201
    study.numbering = ImageNumbering(numbers, Convention.FEET_FIRST)
    export_dicom(study, root / "images" / CASE)
    loaded = load_study(root / "images" / CASE)
    assert loaded.numbering.numbers == numbers  # the files say it
    z = int(round(loaded.pet.world_to_index(study.extras["hot_centre_zyx_mm"])[0]))
    image = numbers[z]
    assert ImageNumbering.from_convention(PET_SHAPE[0]).index_for_image(image) != z  # head-first would miss
    report = f"FINDINGS: Intensely FDG-avid right lung nodule, SUVmax {HOT_SUV:.1f}, image {image}."
    with (root / "reports.csv").open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["exam_id", "report_text", "tracer"], [CASE, report, "FDG"]])
    run_cohort(root / "reports.csv", root / "images", root / "dataset", scheduler="synchronous")
    return {"root": root, "out": root / "dataset", "numbers": numbers, "image": image, "report": report}


def _slice_agrees(study, mask: np.ndarray, sentence: str) -> bool | None:
    from napari_petground.findings import lesion_stats

    return check_agreement(lesion_stats(study, mask), extract_findings(sentence, tracer="FDG")[0]).slice_ok


def test_the_dataset_records_the_exams_numbering(feet_first):
    dataset = Dataset(feet_first["out"])
    assert dataset.numbering(CASE, PET_SHAPE[0]) == ImageNumbering(feet_first["numbers"], Convention.DICOM)
    (item,) = [i for i in dataset.items(CASE) if i.label is not None]
    assert item.status == "matched" and item.finding["slice"] == feet_first["image"]


def test_review_shows_the_case_with_the_reports_image_numbers(feet_first, tmp_path):
    import shutil

    from napari_petground._qt.review_layers import case_study
    from napari_petground._qt.review_loader import ReviewLoader
    from napari_petground.review import ReviewQueue
    from napari_petground.review.export import export_reviewed

    root = shutil.copytree(feet_first["out"], tmp_path / "dataset")
    loader = ReviewLoader(root)
    try:
        case = loader.case(CASE)
    finally:
        loader.close()
    study = case_study(case, "FDG")
    assert study.numbering.numbers == feet_first["numbers"]
    (item,) = [i for i in Dataset(root).items(CASE) if i.label is not None]
    mask = case.labels == item.label
    assert _slice_agrees(study, mask, item.sentence) is True
    with ReviewQueue(root) as queue:  # accepted as it is, exported: the numbering goes along
        queue.import_dataset()
        result = export_reviewed(queue, tmp_path / "reviewed", include_unreviewed=True)
    assert result.items >= 1
    assert Dataset(tmp_path / "reviewed").numbering(CASE, PET_SHAPE[0]).numbers == feet_first["numbers"]


def test_evaluation_checks_image_numbers_against_the_slices_the_report_meant(feet_first, tmp_path):
    import shutil

    from napari_petground.model.evaluate import dataset_cases

    (case,) = list(dataset_cases(feet_first["out"]))
    assert case.study.numbering.numbers == feet_first["numbers"]
    (label,) = case.masks
    assert _slice_agrees(case.study, case.masks[label], feet_first["report"]) is True

    # a dataset written before numbering was recorded: head-first numbers, the same sentence disagrees
    old = shutil.copytree(feet_first["out"], tmp_path / "old")
    (Path(old) / "numbering" / f"{CASE}.json").unlink()
    (old_case,) = list(dataset_cases(old))
    assert _slice_agrees(old_case.study, old_case.masks[label], feet_first["report"]) is False
