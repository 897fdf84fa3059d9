"""The cohort pipeline end to end: reports CSV + exam folders -> dataset, resumable, failures isolated."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from napari_petground.cli import main
from napari_petground.dataset import Dataset
from napari_petground.study import load_study
from napari_petground.study.export import export_dicom, export_nifti
from napari_petground.study.synthetic import HOT_SUV, synthetic_study
from napari_petground.weaklabel.cohort import SUMMARY_FILE, run_cohort
from napari_petground.weaklabel.funnel import STATUSES

PET_SHAPE = (24, 32, 32)
CT_SHAPE = (24, 48, 48)


def _hot_image(study) -> int:
    """Report image number of the slice through the hot lesion (head-first numbering of the NIfTI)."""
    z = int(round(study.pet.world_to_index(study.extras["hot_centre_zyx_mm"])[0]))
    return study.numbering.image_for_index(z)


def _hot_mask(study) -> np.ndarray:
    """The synthetic lesion: the sphere (radius 2.5 PET voxels) around the hot centre."""
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in study.pet.shape], indexing="ij"), axis=-1)
    position = study.pet.index_to_world(grid)
    distance = np.linalg.norm(position - np.asarray(study.extras["hot_centre_zyx_mm"]), axis=-1)
    return distance <= 2.5 * max(study.pet.spacing)


def _write_exam(images: Path, case: str, pet_scale: float = 1.0):
    study = synthetic_study(ct_shape=CT_SHAPE, pet_shape=PET_SHAPE, name=case)
    study.pet.data = study.pet.data * pet_scale
    export_nifti(study, images / case, layout="nnunet", case=case)
    return study


def _write_csv(path: Path, rows: list[tuple[str, str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["exam_id", "report_text", "tracer"])
        writer.writerows(rows)


@pytest.fixture(scope="module")
def exams(tmp_path_factory) -> dict:
    """Exam folders made once: NIfTI pairs, one DICOM exam, a PET in Bq/ml (not SUV), an unreadable file."""
    images = tmp_path_factory.mktemp("exams")
    studies = {case: _write_exam(images, case) for case in ("EX1", "EX2", "EX3", "EMPTY")}
    _write_exam(images, "BQML", pet_scale=5000.0)  # Bq/ml-like values: not SUV
    dicom = synthetic_study(ct_shape=CT_SHAPE, pet_shape=PET_SHAPE, name="DCM1")
    export_dicom(dicom, images / "DCM1")
    (images / "BROKEN").mkdir()
    (images / "BROKEN" / "BROKEN_0001.nii.gz").write_bytes(b"\x1f\x8b not really a NIfTI")
    loaded = load_study(images / "DCM1")  # image numbers as the DICOM's InstanceNumbers say
    z = int(round(loaded.pet.world_to_index(dicom.extras["hot_centre_zyx_mm"])[0]))
    return {"images": images, "studies": studies, "dicom_image": loaded.numbering.image_for_index(z)}


@pytest.fixture()
def cohort(tmp_path: Path, exams: dict) -> dict:
    """Four good exams (one DICOM), one with an empty report, and three bad exams: no images, a PET that is
    not in SUV, an unreadable file."""
    images = tmp_path / "images"
    shutil.copytree(exams["images"], images)
    studies = exams["studies"]
    image = _hot_image(studies["EX1"])
    good = (f"FINDINGS: Intensely FDG-avid right lung nodule, SUVmax {HOT_SUV:.1f}, image {image}. "
            "Liver background SUVmax 2.1. No other abnormal uptake.")
    rows = [
        ("EX1", good, "FDG"),
        ("EX2", good + f" Right lung nodule (SUVmax {HOT_SUV:.1f} on image {image}) again noted.", ""),
        ("EX3", f"Héterogène nodule ≈ droit — SUVₘₐₓ 9999, image 100000. Right lung nodule SUVmax 12, "
                f"image {image}.", "PSMA"),
        ("DCM1", f"Right lung mass, SUVmax {HOT_SUV:.1f} (image {exams['dicom_image']}).", ""),
        ("EMPTY", "   ", "FDG"),
        ("BQML", good, "FDG"),
        ("NOIMG", good, "FDG"),
        ("BROKEN", good, "FDG"),
    ]
    reports = tmp_path / "reports.csv"
    _write_csv(reports, rows)
    return {"reports": reports, "images": images, "out": tmp_path / "dataset", "studies": studies,
            "image": image}


def _cli(c: dict, *extra: str) -> int:
    return main(["weak-label", "--reports", str(c["reports"]), "--images", str(c["images"]), "--out",
                 str(c["out"]), "--scheduler", "synchronous", *extra])


def _mtimes(root: Path, case: str) -> dict[str, int]:
    paths = [root / "items" / f"{case}.jsonl", root / "labelsTr" / f"{case}.nii.gz",
             root / "imagesTr" / f"{case}_0000.nii.gz", root / "imagesTr" / f"{case}_0001.nii.gz"]
    return {p.name: p.stat().st_mtime_ns for p in paths}


def test_cohort_end_to_end_writes_dataset_and_isolates_bad_exams(cohort, capsys):
    assert _cli(cohort) == 0
    printed = capsys.readouterr().out
    assert "matched" in printed and "FDG" in printed
    out = cohort["out"]
    ds = Dataset(out)
    assert ds.cases() == ["DCM1", "EMPTY", "EX1", "EX2", "EX3"]
    failures = {p.stem: json.loads(p.read_text())["reason"] for p in (out / "failures").glob("*.json")}
    assert set(failures) == {"BQML", "NOIMG", "BROKEN"}
    assert "not SUV" in failures["BQML"] and "no images" in failures["NOIMG"]
    assert failures["BROKEN"].startswith("StudyError") and "BROKEN_0001" in failures["BROKEN"]

    study = cohort["studies"]["EX1"]
    truth = _hot_mask(study)
    ex1 = ds.items("EX1")
    assert [i.status for i in ex1] == ["matched"]
    mask = ds.item_mask(ex1[0])
    assert mask is not None and truth[mask].mean() > 0.95 and mask.sum() >= 0.2 * truth.sum()
    assert ex1[0].tracer == "FDG" and ex1[0].finding["suvmax"] == pytest.approx(HOT_SUV)
    ct, pet = ds.load_images("EX1")
    assert ct.shape == pet.shape == PET_SHAPE  # CT resampled onto the PET grid
    assert ct.data.min() <= -800 and pet.data.max() == pytest.approx(HOT_SUV, rel=1e-3)

    # the same lesion described twice shares one label value
    ex2 = ds.items("EX2")
    assert [i.status for i in ex2] == ["matched", "matched"]
    assert ex2[0].label == ex2[1].label and any(f.startswith("same_lesion") for f in ex2[1].flags)

    # absurd numbers and non-ASCII text do not stop the exam: its good sentence is still labeled
    ex3 = ds.items("EX3")
    assert ex3[-1].status == "matched" and ex3[-1].tracer == "PSMA"
    assert ex3[0].status in ("no_match", "rejected", "error") and ex3[0].reason
    assert truth[ds.item_mask(ex3[-1])].mean() > 0.95

    # DICOM exam: SUV from the tags, image numbers from InstanceNumber, tracer from the DICOM header
    dcm = ds.items("DCM1")
    assert [i.status for i in dcm] == ["matched"] and dcm[0].tracer == "FDG"
    _, dcm_pet = ds.load_images("DCM1")
    assert dcm_pet.data[ds.item_mask(dcm[0])].max() == pytest.approx(HOT_SUV, rel=0.01)

    empty = ds.items("EMPTY")
    assert [i.status for i in empty] == ["error"] and "empty" in empty[0].reason
    assert not ds.load_labels("EMPTY").any()

    rows = [json.loads(line) for line in (out / "sentences.jsonl").read_text().splitlines()]
    assert len(rows) == sum(len(ds.items(c)) for c in ds.cases())
    assert {"case", "sentence", "finding", "status", "candidates", "flags"} <= set(rows[0])


def test_funnel_adds_up_and_matches_items(cohort):
    run = run_cohort(cohort["reports"], cohort["images"], cohort["out"], scheduler="synchronous", progress=False)
    summary = json.loads((cohort["out"] / SUMMARY_FILE).read_text())
    total = summary["funnel"]["total"]
    assert run.funnel.consistent
    assert total["exams"] == 8 and total["failed"] == 3
    assert total["reports"] == 4 and total["report_errors"] == 1
    assert total["numbered"] == sum(total[s] for s in STATUSES)
    rows = [json.loads(line) for line in (cohort["out"] / "sentences.jsonl").read_text().splitlines()]
    for status in ("matched", "ambiguous", "no_match", "rejected"):
        assert total[status] == sum(r["status"] == status for r in rows)
    assert total["matched"] == 5
    by_tracer = summary["funnel"]["by_tracer"]
    assert set(by_tracer) == {"FDG", "PSMA"}
    assert by_tracer["PSMA"]["matched"] == 1 and by_tracer["FDG"]["failed"] == 3
    assert sum(r["exams"] for r in by_tracer.values()) == total["exams"]
    assert summary["run"]["processed"] == 5 and summary["run"]["failed"] == 3


def test_rerun_skips_finished_exams_and_retries_failed_ones(cohort):
    run_cohort(cohort["reports"], cohort["images"], cohort["out"], scheduler="synchronous", progress=False)
    before = {case: _mtimes(cohort["out"], case) for case in ("EX1", "EX2", "EX3")}
    _write_exam(cohort["images"], "NOIMG")  # the missing exam arrives
    run = run_cohort(cohort["reports"], cohort["images"], cohort["out"], scheduler="synchronous", progress=False)
    assert run.skipped == 5 and run.processed == 1 and run.failed == 2  # BQML and BROKEN still fail
    assert {case: _mtimes(cohort["out"], case) for case in before} == before
    assert Dataset(cohort["out"]).items("NOIMG")[0].status == "matched"
    assert not (cohort["out"] / "failures" / "NOIMG.json").exists()
    assert run.funnel.total.exams == 8 and run.funnel.total.failed == 2


def test_killed_run_leaves_no_half_case(cohort):
    run_cohort(cohort["reports"], cohort["images"], cohort["out"], scheduler="synchronous", progress=False)
    out = cohort["out"]
    kept = _mtimes(out, "EX1")
    # a run killed while writing EX2: images and labels on disk, a temporary file, but no items file
    (out / "items" / "EX2.jsonl").unlink()
    leftover = out / "labelsTr" / ".EX2.abc123.nii.gz"
    leftover.write_bytes(b"partial")
    assert "EX2" not in Dataset(out).cases()
    run = run_cohort(cohort["reports"], cohort["images"], out, scheduler="synchronous", progress=False)
    assert run.processed == 1 and run.skipped == 4
    assert not leftover.exists()
    assert [i.status for i in Dataset(out).items("EX2")] == ["matched", "matched"]
    assert _mtimes(out, "EX1") == kept


def test_local_cluster_gives_the_same_dataset(cohort, tmp_path):
    reports = tmp_path / "two.csv"
    with cohort["reports"].open(newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["exam_id"] in ("EX1", "NOIMG")]
    _write_csv(reports, [(r["exam_id"], r["report_text"], r["tracer"]) for r in rows])
    out = tmp_path / "dask"
    code = main(["weak-label", "--reports", str(reports), "--images", str(cohort["images"]), "--out", str(out),
                 "--workers", "1", "--no-progress"])
    assert code == 0
    ds = Dataset(out)
    assert ds.cases() == ["EX1"] and (out / "failures" / "NOIMG.json").is_file()
    run_cohort(reports, cohort["images"], tmp_path / "sync", scheduler="synchronous", progress=False)
    assert np.array_equal(ds.load_labels("EX1"), Dataset(tmp_path / "sync").load_labels("EX1"))


def test_huge_and_oddly_encoded_reports_become_error_items(tmp_path):
    images = tmp_path / "images"
    study = _write_exam(images, "BIG")
    _write_exam(images, "LATIN")
    image = _hot_image(study)
    reports = tmp_path / "reports.csv"
    huge = "Right lung nodule SUVmax 12.0, image 3. " * 26_000  # ~1 MB
    latin = f"Nodule pulmonaire droit, SUVmax 12.0, image {image}, décrit."
    reports.write_bytes(("exam_id,report_text,tracer\n"
                         f'BIG,"{huge}",FDG\n'
                         f'LATIN,"{latin}",\n').encode("cp1252"))
    run = run_cohort(reports, images, tmp_path / "out", scheduler="synchronous", progress=False)
    assert run.processed == 2 and run.failed == 0
    assert any("not UTF-8" in w for w in run.warnings)
    ds = Dataset(tmp_path / "out")
    big = ds.items("BIG")
    assert [i.status for i in big] == ["error"] and "characters" in big[0].reason
    latin_items = ds.items("LATIN")
    assert latin_items[0].status == "matched" and "décrit" in latin_items[0].sentence


def test_cli_reports_a_csv_without_the_needed_columns(tmp_path, capsys):
    (tmp_path / "images").mkdir()
    bad = tmp_path / "reports.csv"
    bad.write_text("id,text\nA,hello\n")
    code = main(["weak-label", "--reports", str(bad), "--images", str(tmp_path / "images"), "--out",
                 str(tmp_path / "out"), "--scheduler", "synchronous"])
    assert code == 2
    assert "exam_id" in capsys.readouterr().err



def test_run_interrupted_while_writing_a_case_is_completed_by_the_next_run(cohort, monkeypatch):
    import napari_petground.dataset.layout as layout

    real_write = layout.atomic_write_bytes

    def killed_at_ex2_items(path, payload):
        if Path(path).name == "EX2.jsonl" and Path(path).parent.name == "items":
            raise KeyboardInterrupt  # the run is stopped after EX2's images and labels landed
        real_write(path, payload)

    monkeypatch.setattr(layout, "atomic_write_bytes", killed_at_ex2_items)
    with pytest.raises(KeyboardInterrupt):
        run_cohort(cohort["reports"], cohort["images"], cohort["out"], scheduler="synchronous", progress=False)
    out = cohort["out"]
    assert (out / "labelsTr" / "EX2.nii.gz").is_file() and Dataset(out).cases() == ["EX1"]
    kept = _mtimes(out, "EX1")
    monkeypatch.setattr(layout, "atomic_write_bytes", real_write)
    run = run_cohort(cohort["reports"], cohort["images"], out, scheduler="synchronous", progress=False)
    assert run.skipped == 1 and run.processed == 4
    assert Dataset(out).cases() == ["DCM1", "EMPTY", "EX1", "EX2", "EX3"] and _mtimes(out, "EX1") == kept
    assert not list(out.rglob(".*.tmp")) and run.funnel.consistent


def test_a_second_run_on_the_same_dataset_is_refused_and_a_dead_runs_lock_is_taken_over(cohort):
    import socket
    import subprocess
    import sys

    from napari_petground.errors import WeakLabelError
    from napari_petground.weaklabel.cohort import LOCK_FILE

    out = cohort["out"]
    out.mkdir()
    lock = out / LOCK_FILE
    lock.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))  # a live run
    with pytest.raises(WeakLabelError, match="another weak-label run"):
        run_cohort(cohort["reports"], cohort["images"], out, scheduler="synchronous", progress=False)
    assert Dataset(out).cases() == []
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock.write_text(json.dumps({"pid": int(dead.stdout), "host": socket.gethostname()}))  # a run that died
    run = run_cohort(cohort["reports"], cohort["images"], out, scheduler="synchronous", progress=False)
    assert run.processed == 5 and not lock.exists()


def _dies_on_ex2(task):
    """Stands for an exam that takes its worker process down (a crash in a native library, out of memory)."""
    from napari_petground.weaklabel.cohort_exam import process_exam

    if task.case == "EX2":
        os._exit(3)
    return process_exam(task)


def test_an_exam_that_kills_its_worker_is_recorded_and_the_rest_finishes(cohort):
    import sys

    import cloudpickle
    import dask

    from napari_petground.weaklabel.cohort import _run_dask
    from napari_petground.weaklabel.cohort_exam import ExamTask

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this test module
    out = cohort["out"]
    tasks = [ExamTask(case, f"Right lung nodule SUVmax 12.0, image {cohort['image']}.",
                      str(cohort["images"] / case), str(out), "FDG") for case in ("EX1", "EX2", "EX3")]
    # exams merely queued beside the dying one are run again on their own; only the culprit is recorded
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        outcomes = {o.case: o for o in _run_dask(tasks, 1, None, lambda: None, exam_fn=_dies_on_ex2)}
    assert outcomes["EX2"].state == "failed" and "worker lost" in outcomes["EX2"].reason
    assert outcomes["EX1"].state == outcomes["EX3"].state == "done"
    assert "worker lost" in json.loads((out / "failures" / "EX2.json").read_text())["reason"]
    assert Dataset(out).cases() == ["EX1", "EX3"]


def test_ambiguous_findings_keep_every_candidate_mask_for_review(tmp_path):
    study = synthetic_study(ct_shape=CT_SHAPE, pet_shape=PET_SHAPE, name="TWIN")
    study.pet.data = np.maximum(study.pet.data, study.pet.data[:, :, ::-1])  # the same nodule in both lungs
    export_nifti(study, tmp_path / "images" / "TWIN", layout="nnunet", case="TWIN")
    image = _hot_image(study)
    reports = tmp_path / "reports.csv"
    _write_csv(reports, [("TWIN", f"Lung nodule, SUVmax {HOT_SUV:.1f}, image {image}. "
                                  f"Right lung nodule, SUVmax {HOT_SUV:.1f}, image {image}.", "FDG")])
    run = run_cohort(reports, tmp_path / "images", tmp_path / "out", scheduler="synchronous", progress=False)
    assert run.funnel.total.counts["ambiguous"] == 1 and run.funnel.total.counts["matched"] == 1
    ds = Dataset(tmp_path / "out")
    ambiguous, matched = ds.items("TWIN")
    assert ambiguous.status == "ambiguous" and ambiguous.label is None and len(ambiguous.candidates) == 2
    from napari_petground.dataset.layout import read_nifti

    stack = read_nifti(ds.candidates_path("TWIN", ambiguous.index)).data
    assert set(np.unique(stack)) == {0, 1, 2}
    right = _hot_mask(study)
    left = right[:, :, ::-1]
    sides = {("right" if right[stack == v].all() else "left" if left[stack == v].all() else "both") for v in (1, 2)}
    assert sides == {"right", "left"}  # one candidate per lung, each wholly inside its nodule
    # the sentence that names the side is matched to the right lung's nodule only
    mask = ds.item_mask(matched)
    assert matched.status == "matched" and right[mask].mean() > 0.95 and not (mask & left).any()
