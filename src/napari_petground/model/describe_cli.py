"""``petground describe`` (name a lesion and draft its sentence) and ``petground describe-train`` (train the
describe head of a grounding checkpoint on phantom lesions and/or a dataset)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..cli import writable_folder
from ..errors import ModelError
from .describe_features import INPUTS


def register_describe(subparsers) -> None:
    describe = subparsers.add_parser(
        "describe", help="describe a lesion mask (site, side, SUVmax, image, volume) as a drafted report sentence")
    describe.add_argument("--study", nargs="+", required=True,
                          help="DICOM folder, or CT and PET NIfTI files, or a folder of them")
    source = describe.add_mutually_exclusive_group(required=True)
    source.add_argument("--mask", help="lesion labels on the study (NIfTI .nii.gz or DICOM SEG .dcm)")
    source.add_argument("--point", help="PET voxel z,y,x of a hot spot: the lesion is grown from there")
    describe.add_argument("--label", type=int, default=None,
                          help="label value to describe (default: every label, as a findings paragraph)")
    describe.add_argument("--checkpoint", default=None, help="grounding checkpoint folder (default: shipped demo)")
    describe.add_argument("--top", type=int, default=3, help="number of alternatives to list")
    describe.add_argument("--json", action="store_true", help="print JSON instead of text")
    describe.set_defaults(func=_describe)

    train = subparsers.add_parser(
        "describe-train", help="train the describe head of a grounding checkpoint (written into its folder)")
    train.add_argument("--checkpoint", default=None, help="grounding checkpoint folder (default: shipped demo)")
    train.add_argument("--out", default=None, help="folder to write the head into (default: the checkpoint's)")
    train.add_argument("--phantoms", type=int, default=200, help="phantom exams to learn from")
    train.add_argument("--first-seed", type=int, default=100000, help="seed of the first training phantom")
    train.add_argument("--val-phantoms", type=int, default=40, help="held-out phantom exams to measure on")
    train.add_argument("--resolution", type=float, default=4.0, help="phantom voxel size (mm)")
    train.add_argument("--tracers", default="FDG,FDG,FDG,PSMA,DOTATATE,FLUCICLOVINE", help="phantom tracers, cycled over the seeds")
    train.add_argument("--dataset", default=None, help="also learn from a dataset folder's items with masks")
    train.add_argument("--exams", default=None,
                       help="also learn from the exams a grounding training run cached (its cache folder)")
    train.add_argument("--phantom-version", type=int, default=2, choices=(1, 2),
                       help="phantom generator: 2 = lesions at every fine site of the vocabulary (default), "
                            "1 = the first generator's 27 sites")
    train.add_argument("--extents", default="neck_to_thighs,whole_body",
                       help="phantom fields of view, cycled over the seeds (whole_body holds brain and limbs)")
    train.add_argument("--lesions", type=int, default=0, help="lesions per phantom (0: 1-6 at random)")
    train.add_argument("--samples", default=None,
                       help="keep the lesion samples of the phantoms and --exams in this .npz (reused when it exists; several "
                            "comma-separated files are read together)")
    train.add_argument("--steps", type=int, default=1500)
    train.add_argument("--bins", type=int, default=12, help="soft bins per position and tissue number")
    train.add_argument("--inputs", default=None, choices=INPUTS,
                       help="what the head reads of a lesion's features (default: 'anatomy' for a checkpoint with "
                            "anatomical coordinates, else 'tabular'; describe_features.INPUTS)")
    train.add_argument("--forest-trees", type=int, default=200,
                       help="trees of the site forest trained beside the head on the same inputs (0: none); it draws "
                            "the sharp borders between neighbouring sites (model.describe_forest)")
    train.add_argument("--threads", type=int, default=1, help="torch threads (1 leaves the machine to others)")
    train.set_defaults(func=_train)


def _describe(args) -> int:
    from ..study import load_study
    from ..study.writers import load_labels
    from .describe import Describer, describe_labels, draft_findings, grow_from_click

    study = load_study(args.study if len(args.study) > 1 else args.study[0])
    describer = Describer.from_checkpoint(args.checkpoint)
    if args.point:
        try:
            point = [int(v) for v in args.point.split(",")]
        except ValueError:
            point = []
        if len(point) != 3:
            raise ModelError(f"--point takes a PET voxel as z,y,x (three integers), got {args.point!r}")
        descriptions = {1: describer.describe(study, grow_from_click(study, point).mask, top=args.top)}
    else:
        labels = np.asarray(load_labels(args.mask, study))
        if args.label is not None:
            if not np.any(labels == args.label):
                present = sorted(int(v) for v in np.unique(labels) if v)
                raise ModelError(f"label {args.label} is not in {args.mask}; labels present: {present}")
            descriptions = {args.label: describer.describe(study, labels == args.label, top=args.top)}
        else:
            descriptions = describe_labels(describer, study, labels)
            if not descriptions:
                raise ModelError(f"{args.mask} holds no labels; give a mask with at least one lesion")
    if args.json:
        print(json.dumps({str(k): d.to_dict() for k, d in descriptions.items()}, indent=1))
        return 0
    for label, d in descriptions.items():
        print(f"[{label}] {d.sentence}")
        for a in d.alternatives:
            print(f"      {a.score:6.1%}  {a.phrase}  ({a.region})")
        if d.note:
            print(f"      note: {d.note}")
    if len(descriptions) > 1:
        print("\nFindings: " + draft_findings(descriptions))
    return 0


def _train(args) -> int:
    import torch

    from .checkpoint import load_checkpoint, shipped_checkpoint
    from .describe_head import save_head
    from .describe_train import MIN_STEPS, HeadTrainSettings, default_inputs, fit_describe_head

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.forest_trees < 0:
        raise ModelError(f"--forest-trees is a number of trees (0 for none), got {args.forest_trees}")
    if args.steps < MIN_STEPS:
        raise ModelError(f"--steps must be at least {MIN_STEPS}, got {args.steps}")
    folder = shipped_checkpoint() if args.checkpoint is None else Path(args.checkpoint)
    writable_folder(args.out or folder, "--out" if args.out else "the checkpoint folder")
    network, config = load_checkpoint(folder)
    tracers = tuple(t.strip() for t in args.tracers.split(",") if t.strip())
    head, metrics = fit_describe_head(
        network, config, phantoms=args.phantoms, first_seed=args.first_seed, tracers=tracers,
        resolution_mm=args.resolution, val_phantoms=args.val_phantoms, dataset=args.dataset, exam_cache=args.exams,
        settings=HeadTrainSettings(steps=args.steps, bins=args.bins, inputs=args.inputs or default_inputs(config),
                                   forest_trees=args.forest_trees),
        version=args.phantom_version,
        extents=tuple(e.strip() for e in args.extents.split(",") if e.strip()), n_lesions=args.lesions or None,
        samples_file=args.samples, log=lambda m: print(m, flush=True))
    out = save_head(args.out or folder, head)
    print(json.dumps(metrics))
    print(f"describe head written to {out}")
    return 0
