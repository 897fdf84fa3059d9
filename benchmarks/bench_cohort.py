"""Cohort weak labeling: throughput on Dask with 1 and 2 workers, and accuracy against phantom truth.

Run: python benchmarks/bench_cohort.py [--exams 16] [--resolution 4] [--workers 1 2] [--keep DIR]

1. Generates a phantom cohort (phantom.make_phantom, tracers mixed, ~4 mm grid) and writes each exam as a
   CT/PET NIfTI pair under images/<exam_id>/ with its report in reports.csv (tracer column left empty for
   every fourth exam, so the tracer comes from the report text). Truth stays in memory. Two bad exams are
   added: one without images, one with an empty report.
2. Runs ``run_cohort`` (the code behind ``petground weak-label``) on a fresh output with a local Dask
   cluster of 1 and of 2 single-threaded worker processes; prints exams/minute with and without the
   cluster start-up.
3. Scores the dataset against the phantoms: for every numbered finding that describes a simulated lesion,
   does the weak mask lie on that lesion (most of the mask's lesion voxels belong to it), and the Dice of
   the mask against the lesion's true mask. Targets: >= 98 % of masks on the true lesion, median Dice >= 0.8.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from napari_petground.dataset import Dataset
from napari_petground.dataset.layout import write_nifti
from napari_petground.phantom import Phantom, make_phantom
from napari_petground.weaklabel.cohort import run_cohort
from napari_petground.weaklabel.funnel import format_funnel

TRACERS = ("FDG", "FDG", "PSMA", "FDG", "DOTATATE", "FDG", "PSMA", "FLUCICLOVINE")


def make_cohort(root: Path, n: int, resolution: float) -> dict[str, Phantom]:
    images = root / "images"
    phantoms: dict[str, Phantom] = {}
    rows = []
    for i in range(n):
        seed = 1000 + i
        tracer = TRACERS[i % len(TRACERS)]
        phantom = make_phantom(seed, tracer=tracer, resolution_mm=resolution, n_lesions=3 + i % 5)
        case = f"PH{seed}"
        ct, pet = phantom.study.ct, phantom.study.pet
        write_nifti(images / case / "ct.nii.gz", ct.data.astype(np.int16), ct.spacing, ct.origin)
        write_nifti(images / case / "pet_suv.nii.gz", pet.data.astype(np.float32), pet.spacing, pet.origin)
        rows.append((case, phantom.report, "" if i % 4 == 3 else tracer))
        phantoms[case] = phantom
    # two bad exams, to show they are recorded and the rest goes on: no images, and an empty report
    rows.append(("MISSING", rows[0][1], rows[0][2]))
    shutil.copytree(images / rows[0][0], images / "NOREPORT", dirs_exist_ok=True)
    rows.append(("NOREPORT", "", rows[0][2]))
    with (root / "reports.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["exam_id", "report_text", "tracer"])
        writer.writerows(rows)
    return phantoms


def _truth_lesion(phantom: Phantom, finding: dict) -> int | None:
    """The simulated lesion a finding describes: its sentence's lesion with the stated numbers."""
    start = int(finding.get("sentence_start", 0))
    end = start + len(finding.get("sentence", ""))

    def overlap(s) -> int:
        return min(end, s.start + len(s.text)) - max(start, s.start)

    sentence = max(phantom.sentences, key=overlap, default=None)
    if sentence is None or overlap(sentence) <= 0:
        return None
    ids = list(sentence.lesion_ids) or ([sentence.lesion_id] if sentence.lesion_id is not None else [])
    if len(ids) <= 1:
        return ids[0] if ids else None
    for lesion_id in ids:  # several lesions in one sentence: the one whose numbers the finding states
        lesion = phantom.lesion(lesion_id)
        if finding.get("slice") == lesion.image_number and (
                finding.get("suvmax") is None or abs(finding["suvmax"] - lesion.suvmax) < 0.06):
            return lesion_id
    return None


def score(out: Path, phantoms: dict[str, Phantom]) -> dict:
    ds = Dataset(out)
    numbered = on_lesion = matched = wrong = ambiguous_with_truth = ambiguous = 0
    dice: list[float] = []
    misses: list[str] = []
    for case in ds.cases():
        if case not in phantoms:
            continue
        phantom = phantoms[case]
        labels = ds.load_labels(case)
        truth_labels = phantom.lesion_labels
        for item in ds.items(case):
            f = item.finding
            if not f or (f.get("suvmax") is None and f.get("slice") is None):
                continue
            lesion_id = _truth_lesion(phantom, f)
            if lesion_id is None:
                continue
            numbered += 1
            truth = truth_labels == lesion_id
            if item.status == "ambiguous":
                ambiguous += 1
                path = ds.candidates_path(case, item.index)
                if path.is_file():
                    from napari_petground.dataset.layout import read_nifti

                    stack = read_nifti(path).data
                    ambiguous_with_truth += bool((stack[truth] > 0).any())
            if item.status != "matched" or item.label is None:
                continue
            matched += 1
            mask = labels == item.label
            hits = truth_labels[mask]
            hits = hits[hits > 0]
            on = hits.size > 0 and np.bincount(hits).argmax() == lesion_id
            on_lesion += on
            if not on:
                wrong += 1
                misses.append(f"{case}:{item.index} {item.sentence[:90]!r}")
            d = 2.0 * (mask & truth).sum() / max(mask.sum() + truth.sum(), 1)
            dice.append(float(d))
    return {"numbered": numbered, "matched": matched, "on_lesion": on_lesion, "wrong": wrong,
            "ambiguous": ambiguous, "ambiguous_with_truth": ambiguous_with_truth,
            "dice_median": float(np.median(dice)) if dice else 0.0,
            "dice_p25": float(np.percentile(dice, 25)) if dice else 0.0,
            "dice_ge_08": float(np.mean(np.asarray(dice) >= 0.8)) if dice else 0.0, "misses": misses}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exams", type=int, default=16)
    parser.add_argument("--resolution", type=float, default=4.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--keep", type=Path, default=None, help="keep the cohort and datasets in this folder")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="petground-cohort-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        phantoms = make_cohort(root, args.exams, args.resolution)
        shape = next(iter(phantoms.values())).study.pet.shape
        print(f"generated {args.exams} phantom exams (PET {shape[0]}x{shape[1]}x{shape[2]} at "
              f"{args.resolution:g} mm) in {time.perf_counter() - t0:.1f} s")
        out = None
        for workers in args.workers:
            out = root / f"dataset_w{workers}"
            shutil.rmtree(out, ignore_errors=True)
            run = run_cohort(root / "reports.csv", root / "images", out, workers=workers, progress=False)
            print(f"{workers} worker(s): {run.processed} exams labeled, {run.failed} failed in {run.seconds:.1f} s "
                  f"-> {run.exams_per_minute:.1f} exams/min overall, {run.labeling_exams_per_minute:.1f} exams/min "
                  f"after the {run.startup_seconds:.1f} s cluster start-up; CPU per exam "
                  f"{run.exam_cpu_seconds / max(run.processed + run.failed, 1):.2f} s")
        assert out is not None
        print()
        print(format_funnel(run.funnel))
        s = score(out, phantoms)
        print()
        print(f"numbered findings describing a simulated lesion: {s['numbered']}")
        print(f"matched: {s['matched']} ({100 * s['matched'] / max(s['numbered'], 1):.1f} %); "
              f"ambiguous: {s['ambiguous']} (true lesion among candidates in {s['ambiguous_with_truth']})")
        print(f"matched masks on the true lesion: {s['on_lesion']}/{s['matched']} = "
              f"{100 * s['on_lesion'] / max(s['matched'], 1):.1f} % (target >= 98 %)")
        print(f"numbered findings with a mask on the true lesion: {s['on_lesion']}/{s['numbered']} = "
              f"{100 * s['on_lesion'] / max(s['numbered'], 1):.1f} %")
        print(f"Dice vs true lesion mask (matched): median {s['dice_median']:.3f}, 25th percentile "
              f"{s['dice_p25']:.3f}, share >= 0.8: {100 * s['dice_ge_08']:.1f} % (target median >= 0.8)")
        for miss in s["misses"][:10]:
            print(f"  off-lesion: {miss}")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
