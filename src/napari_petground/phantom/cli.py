"""``petground phantom``: write synthetic PET/CT phantoms (NIfTI, DICOM or a training dataset)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..cli import writable_folder
from ..errors import PhantomError
from ..wording import plural

TRACER_CHOICES = ("FDG", "PSMA", "DOTATATE", "FLUCICLOVINE", "mixed")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "phantom", help="write synthetic PET/CT phantoms with lesions and matching report sentences",
        description="Write N seeded phantoms (seeds S..S+N-1). 'nifti' and 'dicom' write one folder per "
        "phantom with phantom.json (report, sentences, truth); 'dataset' writes the training layout.",
    )
    p.add_argument("--n", type=int, default=1, help="number of phantoms (default 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the first phantom (default 0)")
    p.add_argument("--tracer", default="FDG", type=_tracer, help="FDG, PSMA, DOTATATE, FLUCICLOVINE or mixed")
    p.add_argument("--resolution", type=float, default=4.0, help="voxel size in mm (default 4)")
    p.add_argument("--pet-resolution", type=float, default=None, help="coarser PET voxel size in mm (default: same)")
    p.add_argument("--extent", default="neck_to_thighs", choices=["neck_to_thighs", "whole_body"])
    p.add_argument("--lesions", type=int, default=None, help="lesions per phantom (default: 1-6 at random)")
    p.add_argument("--variants", type=int, default=0,
                   help="dataset only: extra phrasings per lesion added as items (default 0)")
    p.add_argument("--format", default="nifti", choices=["nifti", "dicom", "dataset"])
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)


def _tracer(text: str) -> str:
    for choice in TRACER_CHOICES:
        if text.lower() == choice.lower():
            return choice
    raise argparse.ArgumentTypeError(f"choose one of {', '.join(TRACER_CHOICES)}")


def _run(args) -> int:
    from tqdm.auto import tqdm

    if args.n < 1:
        raise PhantomError("--n must be at least 1")
    if args.seed < 0:
        raise PhantomError(f"--seed must be 0 or more, got {args.seed}")
    if args.pet_resolution is not None and not args.pet_resolution > 0:
        raise PhantomError(f"--pet-resolution must be a voxel size above 0 mm, got {args.pet_resolution:g}")
    if args.variants < 0:
        raise PhantomError(f"--variants must be 0 or more, got {args.variants}")
    writable_folder(args.out, "--out")
    bar = tqdm(total=args.n, desc="phantoms", unit="exam", disable=args.no_progress)
    try:
        if args.format == "dataset":
            from .io import save_cohort_dataset

            def progress(done: int, total: int) -> None:
                bar.update(done - bar.n)

            rows = save_cohort_dataset(args.n, args.seed, args.out, tracer=args.tracer,
                                       resolution_mm=args.resolution, extent=args.extent,
                                       pet_resolution_mm=args.pet_resolution, variants_per_lesion=args.variants,
                                       progress=progress)
            bar.close()
            print(f"wrote {args.n} cases to {args.out} ({rows.name})")
            return 0
        import numpy as np

        from .generate import make_phantom
        from .io import _tracer_for, save_phantom

        for i in range(args.n):
            seed = args.seed + i
            tracer = _tracer_for(args.tracer, np.random.default_rng([seed, 7919]))
            ph = make_phantom(seed, tracer=tracer, resolution_mm=args.resolution, n_lesions=args.lesions,
                              extent=args.extent, pet_resolution_mm=args.pet_resolution)
            folder = args.out if args.n == 1 else args.out / f"phantom_{seed:06d}"
            save_phantom(ph, folder, args.format)
            bar.update(1)
    finally:
        bar.close()
    print(f"wrote {plural(args.n, 'phantom')} to {args.out}")
    return 0
