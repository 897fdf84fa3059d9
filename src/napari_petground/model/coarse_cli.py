"""``petground coarse-train``: train the coarse head of a grounding checkpoint (model.decoding), which lets a
sentence run the decoder's full-resolution stages only in the windows that can hold its answer."""

from __future__ import annotations

import json
from pathlib import Path

from ..cli import writable_folder


def register_coarse(subparsers) -> None:
    train = subparsers.add_parser(
        "coarse-train", help="train the coarse head of a grounding checkpoint (coarse-to-fine decoding; written "
                             "into its folder)")
    train.add_argument("--checkpoint", default=None, help="grounding checkpoint folder (default: shipped demo)")
    train.add_argument("--out", default=None, help="folder to write the head into (default: the checkpoint's)")
    train.add_argument("--phantoms", type=int, default=24, help="phantom exams to learn from (fields of view cycled)")
    train.add_argument("--val-phantoms", type=int, default=8, help="held-out phantom exams to measure recall on")
    train.add_argument("--first-seed", type=int, default=700000, help="seed of the first training phantom")
    train.add_argument("--tracers", default="FDG,FDG,PSMA,DOTATATE", help="phantom tracers, cycled over the seeds")
    train.add_argument("--resolution", type=float, default=4.0, help="phantom voxel size (mm)")
    train.add_argument("--phantom-version", type=int, default=2, choices=(1, 2), help="phantom generator version")
    train.add_argument("--sentences", type=int, default=4, help="lesion sentences per exam")
    train.add_argument("--stages", type=int, default=None,
                       help="decoder stages before the head (default: all but the last two)")
    train.add_argument("--steps", type=int, default=600)
    train.add_argument("--margin", type=float, default=0.5,
                       help="floor = margin x the lowest coarse maximum of a training window holding an answer")
    train.add_argument("--answer", type=float, default=0.1,
                       help="a window holds an answer when its full decoding reaches this probability (default: "
                            "select's faintest threshold)")
    train.add_argument("--samples", default=None,
                       help="keep the decoded samples in this .npz (and FILE.val.npz); reused when it exists")
    train.add_argument("--threads", type=int, default=1, help="torch threads (1 leaves the machine to others)")
    train.set_defaults(func=_train)


def _train(args) -> int:
    import torch

    from .checkpoint import check_encoder, load_checkpoint, shipped_checkpoint
    from .coarse_train import CoarseTrainSettings, train_coarse_head
    from .decoding import save_coarse_head
    from .features import checkpoint_id
    from .text import TextEncoder

    if args.threads:
        torch.set_num_threads(args.threads)
    folder = shipped_checkpoint() if args.checkpoint is None else Path(args.checkpoint)
    out = writable_folder(args.out or folder, "--out" if args.out else "the checkpoint folder")
    network, config = load_checkpoint(folder)
    encoder = TextEncoder(config.text, device="cpu")
    check_encoder(config, encoder.dim, encoder.fingerprint())
    tracers = tuple(t.strip() for t in args.tracers.split(",") if t.strip())
    settings = CoarseTrainSettings(stages=args.stages, steps=args.steps, margin=args.margin,
                                   sentences=args.sentences, answer=args.answer)
    head, metrics = train_coarse_head(
        network, config, encoder, phantoms=args.phantoms, val_phantoms=args.val_phantoms,
        first_seed=args.first_seed, tracers=tracers, resolution_mm=args.resolution, version=args.phantom_version,
        settings=settings, checkpoint=checkpoint_id(folder), samples_file=args.samples,
        log=lambda m: print(m, flush=True))
    save_coarse_head(out, head)
    print(json.dumps(metrics))
    val = metrics["validation"]
    recalls = ", ".join(f"p >= {level}: {val[f'recall_p{level}']} of {val[f'windows_p{level}']}"
                        for level in ("0.5", "0.2", "0.1"))
    print(f"coarse head written to {out}: floor {metrics['floor']:.4g}; validation windows kept ({recalls}); "
          f"{val['decoded_in_full']:.0%} of {val['windows']} windows decoded in full")
    return 0
