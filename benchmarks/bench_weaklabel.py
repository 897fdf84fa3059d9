"""Weak labeling: lesion-growing methods on real and synthetic lesions, candidate matching, and speed.

Run: python benchmarks/bench_weaklabel.py [--phantoms N]
1. IBSI sarcoma patients (real DICOM PET, physician GTV from the PET RTSTRUCT rasterised on the PET grid):
   Dice of every growing method, seeded at the tumour's SUVmax voxel.
2. Synthetic spheres (10–40 mm, contrast 3–12, 6 mm FWHM blur, noise), Dice against the true sphere.
3. Phantom cohort (phantom.make_phantom): for every report sentence with both numbers, does weak_label
   pick the described lesion, and the Dice of its mask against the simulated lesion.
4. Time of one weak_label on a 200 × 200 × 350 PET.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

from napari_petground.report import extract_findings
from napari_petground.study import Convention, ImageNumbering, Study, Volume
from napari_petground.weaklabel import weak_label
from napari_petground.weaklabel.grow import METHODS, grow_lesion

IBSI = Path(os.environ.get("PETGROUND_IBSI_DIR", Path(__file__).resolve().parents[2] / "shared" / "data" / "ibsi-sts"))


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return float(2 * (a & b).sum() / max(a.sum() + b.sum(), 1))


def ibsi_table() -> None:
    from napari_petground.study import load_study
    from napari_petground.weaklabel.rtstruct import rasterize_rtstruct

    if not (IBSI / "STS_002").is_dir():
        print(f"IBSI data not found at {IBSI}; skipped")
        return
    patients = sorted(p.name for p in IBSI.iterdir() if p.name.startswith("STS_"))
    rows = {m: [] for m in METHODS}
    volumes = []
    for name in patients:
        study = load_study(IBSI / name)
        gtv = rasterize_rtstruct(IBSI / name / "PET" / "mask" / "RS.dcm", study.pet)
        volumes.append(gtv.sum() * study.pet.voxel_volume_ml)
        pet = study.pet.data
        seed = np.unravel_index(int(np.argmax(pet)), pet.shape)
        for m in METHODS:
            rows[m].append(dice(grow_lesion(pet, seed, study.pet.spacing, m).mask, gtv))
    print("IBSI soft-tissue sarcoma, Dice vs physician GTV (PET RTSTRUCT) on the PET grid")
    print(f"| method | {' | '.join(patients)} | mean |")
    print(f"|---|{'---|' * len(patients)}---|")
    print(f"| GTV volume (ml) | {' | '.join(f'{v:.1f}' for v in volumes)} | |")
    for m, ds in rows.items():
        print(f"| {m}{' (default)' if m == 'adaptive' else ''} | {' | '.join(f'{d:.3f}' for d in ds)} | {np.mean(ds):.3f} |")


def sphere_table(n: int = 40) -> None:
    rng = np.random.default_rng(0)
    cases = []
    size = 48
    for _ in range(n):
        d, c, bg = rng.uniform(10, 40), rng.uniform(3, 12), rng.uniform(0.8, 2.0)
        ss = 3
        g = (np.mgrid[: size * ss, : size * ss, : size * ss] + 0.5) * (4.0 / ss)
        ctr = np.array([96.0, 96.0, 96.0]) + rng.uniform(-2, 2, 3)
        inside = ((g - ctr[:, None, None, None]) ** 2).sum(axis=0) <= (d / 2) ** 2
        frac = inside.reshape(size, ss, size, ss, size, ss).mean(axis=(1, 3, 5))
        centres = (np.mgrid[:size, :size, :size] + 0.5) * 4.0
        truth = ((centres - ctr[:, None, None, None]) ** 2).sum(axis=0) <= (d / 2) ** 2
        img = ndi.gaussian_filter(bg + (c - 1) * bg * frac, 6 / 2.3548 / 4.0)
        img = np.clip(img + rng.normal(0, 0.1 * bg, img.shape), 0, None).astype(np.float32)
        cases.append((img, truth, d))
    print(f"\nSynthetic spheres ({n}, 10–40 mm, contrast 3–12, 4 mm voxels, 6 mm FWHM, 10 % noise): Dice vs sphere")
    print("| method | median | mean | median < 20 mm | min |")
    print("|---|---|---|---|---|")
    for m in METHODS:
        ds, small = [], []
        for img, truth, d in cases:
            seed = np.unravel_index(int(np.argmax(np.where(truth, img, -1))), img.shape)
            ds.append(dice(grow_lesion(img, seed, (4.0, 4.0, 4.0), m).mask, truth))
            if d < 20:
                small.append(ds[-1])
        print(f"| {m} | {np.median(ds):.3f} | {np.mean(ds):.3f} | {np.median(small):.3f} | {np.min(ds):.3f} |")


def phantom_cohort(n: int) -> None:
    try:
        from napari_petground.phantom import make_phantom
    except ImportError:
        print("\nphantom generator not available; skipped")
        return
    right = total = 0
    dices, times = [], []
    statuses: dict[str, int] = {}
    for seed in range(n):
        ph = make_phantom(seed)
        for f in extract_findings(ph.report, tracer=ph.tracer):
            end = f.sentence_start + len(f.sentence)
            truth = next((s for s in ph.sentences if f.sentence_start <= s.start < end
                          or s.start <= f.sentence_start < s.start + len(s.text)), None)
            if (not f.has_numbers or truth is None or truth.lesion_id is None or truth.suvmax is None
                    or truth.kind == "multi"):
                continue
            total += 1
            t0 = time.perf_counter()
            label = weak_label(ph.study, f)
            times.append(time.perf_counter() - t0)
            statuses[label.status] = statuses.get(label.status, 0) + 1
            lesion = ph.lesion_labels == truth.lesion_id
            if label.status == "matched" and (label.mask & lesion).any():
                right += 1
                dices.append(dice(label.mask, lesion))
    if total == 0:
        print("\nphantom cohort: no numbered sentences")
        return
    print(f"\nPhantom cohort ({n} phantoms, {total} sentences with both numbers):")
    print(f"right lesion {right / total:.1%}, statuses {statuses}, median Dice {np.median(dices):.3f}, "
          f"median time {np.median(times) * 1000:.0f} ms")


def speed() -> None:
    rng = np.random.default_rng(1)
    shape = (350, 200, 200)
    pet = np.full(shape, 1.0, np.float32)
    pet += rng.normal(0, 0.1, shape).astype(np.float32)
    zz, yy, xx = np.ogrid[: shape[0], : shape[1], : shape[2]]
    for z, y, x, r, s in [(100, 90, 60, 4, 8.0), (200, 110, 150, 6, 5.0), (300, 100, 100, 3, 12.0)]:
        pet[(zz - z) ** 2 + (yy - y) ** 2 + (xx - x) ** 2 <= r * r] = s
    numbering = ImageNumbering.from_convention(shape[0], Convention.HEAD_FIRST)
    study = Study(pet=Volume(pet, (3.0, 3.0, 3.0), (0.0, -300.0, -300.0)), ct=None, numbering=numbering)
    image = numbering.image_for_index(200)
    suv = round(float(pet[190:211, 100:121, 140:161].max()), 1)
    f = extract_findings(f"Left adrenal nodule SUVmax {suv}, image {image}.")[0]
    weak_label(study, f)  # the midline is computed once per study and cached
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        label = weak_label(study, f)
        times.append(time.perf_counter() - t0)
    print(f"\nOne finding on a 200 × 200 × 350 PET: {np.median(times):.3f} s (median of 5; status {label.status}; "
          f"first call with body midline {times[0]:.3f} s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--phantoms", type=int, default=6)
    args = parser.parse_args()
    ibsi_table()
    sphere_table()
    phantom_cohort(args.phantoms)
    speed()
