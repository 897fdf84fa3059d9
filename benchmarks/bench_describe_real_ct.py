"""Describe on a real body: hot spheres placed inside the labelled organs of a real CT.

    .venv/bin/python benchmarks/bench_describe_real_ct.py [--ct-dir ../shared/data/real-ct-abdomen]
        [--checkpoint DIR ...]

The phantoms are ours; a real patient's anatomy is not. This takes the real abdomen–pelvis CT with organ
labels (TotalSegmentator's, on its upper 30 slices), builds a PET on its grid from the CT's tissues (fat,
soft tissue, lung, bone, liver, spleen and kidneys at typical FDG levels, blurred to PET resolution), and puts
one hot sphere (SUVmax 8, at most 8 mm radius, kept inside the organ) at the deepest point of each organ,
bone or muscle the head's vocabulary names. Each sphere is described through the public path
(Describer.describe on its mask) and the named coarse site (organ, bone, station) and side are compared with
the label's. Several checkpoints (``--checkpoint``, repeatable; default: the shipped one) are measured on the
same study. The PET is synthetic, so this measures how the head reads a real body's anatomy, not real uptake.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

# TotalSegmentator label -> (coarse site of the vocabulary, side)
ORGANS = {
    1: ("spleen", ""), 2: ("kidney", "right"), 3: ("kidney", "left"), 4: ("gallbladder", ""), 5: ("liver", ""),
    6: ("stomach", ""), 7: ("pancreas", ""), 11: ("lung_lower_lobe", "left"), 14: ("lung_lower_lobe", "right"),
    30: ("vertebra", ""), 31: ("vertebra", ""), 32: ("vertebra", ""), 33: ("vertebra", ""),
    88: ("muscle", "left"), 89: ("muscle", "right"),
    **{label: ("rib", "left") for label in range(98, 104)}, **{label: ("rib", "right") for label in range(110, 116)},
}
LESION_SUV = 8.0
RADIUS_MM = 8.0


def synthetic_pet(ct: np.ndarray, organs: np.ndarray, spacing) -> np.ndarray:
    """FDG-like SUV from the CT's tissues and a few labelled organs, blurred to about 7 mm FWHM."""
    from scipy.ndimage import gaussian_filter

    pet = np.zeros(ct.shape, np.float32)
    pet[(ct > -950) & (ct <= -200)] = 0.5  # lung
    pet[(ct > -200) & (ct <= -30)] = 0.4  # fat
    pet[(ct > -30) & (ct <= 200)] = 1.0  # soft tissue
    pet[ct > 200] = 0.8  # bone
    for label, suv in ((5, 2.2), (1, 1.9), (2, 2.5), (3, 2.5)):  # liver, spleen, kidneys
        pet[organs == label] = suv
    sigma = [3.0 / s for s in spacing]  # 7 mm FWHM
    return gaussian_filter(pet, sigma).astype(np.float32)


def lesions(organs: np.ndarray, spacing) -> dict[int, np.ndarray]:
    """A sphere at the deepest point of each labelled organ the vocabulary names, clipped to the organ."""
    from scipy.ndimage import distance_transform_edt

    grid = np.indices(organs.shape, dtype=np.float32)
    out = {}
    for label in ORGANS:
        organ = organs == label
        if organ.sum() < 8:
            continue
        depth = distance_transform_edt(organ, sampling=spacing)
        centre = np.unravel_index(int(np.argmax(depth)), organ.shape)
        radius = min(RADIUS_MM, float(depth[centre]))
        dist2 = sum(((grid[a] - centre[a]) * spacing[a]) ** 2 for a in range(3))
        sphere = (dist2 <= radius ** 2) & organ
        if sphere.sum() >= 2:
            out[label] = sphere
    return out


def real_ct_study(ct_dir: Path):
    """The real CT with its synthetic PET and a hot sphere in each labelled organ: (Study, {label: sphere})."""
    from napari_petground.study.nifti import read_nifti
    from napari_petground.study.numbering import ImageNumbering
    from napari_petground.study.study import PatientInfo, Study
    from napari_petground.study.volume import Volume

    ct, _ = read_nifti(ct_dir / "ct.nii.gz")
    organs, _ = read_nifti(ct_dir / "organs.nii.gz", interpolation="nearest")
    labels = np.rint(organs.data).astype(np.int16)
    spheres = lesions(labels, ct.spacing)
    pet = synthetic_pet(np.asarray(ct.data, np.float32), labels, ct.spacing)
    for sphere in spheres.values():
        centre = np.argwhere(sphere).mean(axis=0)
        grid = np.indices(sphere.shape, dtype=np.float32)
        dist = np.sqrt(sum(((grid[a] - centre[a]) * ct.spacing[a]) ** 2 for a in range(3)))
        pet[sphere] = np.maximum(pet[sphere], LESION_SUV * np.exp(-0.5 * (dist[sphere] / RADIUS_MM) ** 2))
    study = Study(pet=Volume(pet, ct.spacing, ct.origin), ct=ct, numbering=ImageNumbering.from_convention(pet.shape[0]),
                  tracer="FDG", patient=PatientInfo(patient_id="REALCT", name="REALCT", weight_kg=75.0),
                  source_kind="nifti", title="real CT, synthetic PET")
    return study, spheres


def describe_spheres(describer, study, spheres: dict[int, np.ndarray]) -> dict[int, tuple[bool, bool | None, str]]:
    """{label: (coarse site right, side right or None for an unpaired organ, what was said)}."""
    from napari_petground.report.lexicon import coarse_of

    out = {}
    for label, sphere in spheres.items():
        d = describer.describe(study, sphere)
        want, want_side = ORGANS[label]
        ok = coarse_of(d.site) == want if d.site else False
        side = None
        if want_side:
            said = d.side or (d.body_side if d.body_side in ("left", "right") else "")
            side = said == want_side
        out[label] = (ok, side, f"{want} {want_side}".strip() + f" -> {d.site or 'unnamed'} ({d.note or d.phrase})")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = Path(__file__).resolve().parents[1]
    parser.add_argument("--ct-dir", type=Path, default=here.parent / "shared" / "data" / "real-ct-abdomen")
    parser.add_argument("--checkpoint", action="append", default=None, help="checkpoint folder (repeatable)")
    args = parser.parse_args(argv)
    if not (args.ct_dir / "ct.nii.gz").is_file():
        print(f"no real CT in {args.ct_dir} (ct.nii.gz and organs.nii.gz)", file=sys.stderr)
        return 2

    from napari_petground.model.checkpoint import shipped_checkpoint
    from napari_petground.model.describe import Describer

    study, spheres = real_ct_study(args.ct_dir)
    folders = args.checkpoint or [str(shipped_checkpoint())]
    print(f"{len(spheres)} spheres in labelled organs of {args.ct_dir / 'ct.nii.gz'}")
    for folder in folders:
        results = describe_spheres(Describer.from_checkpoint(Path(folder)), study, spheres)
        sided = [side for _, side, _ in results.values() if side is not None]
        print(f"{folder}: coarse {sum(ok for ok, _, _ in results.values())}/{len(spheres)}, "
              f"side {sum(sided)}/{len(sided)}")
        for ok, _, said in results.values():
            if not ok:
                print(f"  {said}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
