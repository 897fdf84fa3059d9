"""``petground ground | train | evaluate``: the model's command-line jobs."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from ..cli import writable_file, writable_folder
from ..errors import ModelError, PhantomError, ReportError
from ..phantom.fields import FIELDS
from .config import PRECISIONS

_DEVICES = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
_TRAIN_OPTIONS = {"preprocess.spacing_mm": "--spacing", "preprocess.patch_size": "--patch",
                  "preprocess.suv_clip": "--suv-window", "network.features": "--features",
                  "network.strides": "--features"}


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole numbers separated by commas, got {text!r}") from None


def _window(text: str) -> tuple[float, float]:
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        values = ()
    if len(values) != 2:
        raise argparse.ArgumentTypeError(f"expected two numbers LOW,HIGH (e.g. 0,30), got {text!r}")
    return values  # type: ignore[return-value]


def _device(text: str) -> str:
    if not _DEVICES.match(text.strip()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a device: use auto, cpu, cuda, cuda:N or mps")
    return text.strip()


def _check_device(device: str) -> None:
    """Refuse a device this machine does not have before anything is loaded."""
    import torch

    if device.startswith("cuda"):
        index = int(device.split(":", 1)[1]) if ":" in device else 0
        if not torch.cuda.is_available() or index >= torch.cuda.device_count():
            raise ModelError(f"--device {device}: no such CUDA device on this machine; use --device cpu or auto")
    if device == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ModelError("--device mps: Apple's GPU is not available here; use --device cpu or auto")


def _sentence(text: str) -> str:
    """The sentence argument, refused before any work when it is empty or not valid text."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ReportError(
            f"the sentence holds a character that is not text at position {exc.start + 1} (a lone surrogate: "
            "the terminal or file it came from is not UTF-8); retype the sentence or convert it to UTF-8"
        ) from None
    if not text.strip():
        raise ReportError("the sentence is empty; give the report sentence that describes the lesion")
    return text


def register(subparsers) -> None:
    _register_ground(subparsers)
    _register_train(subparsers)
    _register_evaluate(subparsers)
    from .coarse_cli import register_coarse  # the head of coarse-to-fine decoding

    register_coarse(subparsers)
    try:
        from . import describe_cli  # the lesion describer's commands
    except ImportError:
        return
    hook = getattr(describe_cli, "register_describe", None) or getattr(describe_cli, "register", None)
    if hook is not None:
        hook(subparsers)


def _register_ground(subparsers) -> None:
    p = subparsers.add_parser("ground", help="segment the lesion a report sentence describes")
    p.add_argument("study", help="PET/CT study (DICOM folder, NIfTI pair or phantom:SEED)")
    p.add_argument("sentence", help="the report sentence")
    p.add_argument("--checkpoint", help="checkpoint folder (default: the shipped demo)")
    p.add_argument("--device", default="auto", type=_device, help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--out", help="write the mask here (.nii.gz, or .dcm DICOM SEG for a DICOM study)")
    _add_precision(p)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    shown = p.add_mutually_exclusive_group()
    shown.add_argument("--progress", action="store_true",
                       help="progress lines on stderr even when it is not a terminal (a log, a pipe)")
    shown.add_argument("--no-progress", action="store_true", help="no progress on stderr, not even on a terminal")
    p.set_defaults(func=_ground)


def _register_train(subparsers) -> None:
    p = subparsers.add_parser("train", help="train the grounding network (CPU, CUDA or torchrun DDP)")
    src = p.add_argument_group("data")
    src.add_argument("--dataset", help="dataset folder (napari_petground.dataset layout)")
    src.add_argument("--val-dataset", help="separate validation dataset (default: hold out --val-cases)")
    src.add_argument("--val-cases", type=int, default=16, help="cases held out for validation")
    src.add_argument("--phantoms", type=int, default=0, help="generate this many phantom exams instead")
    src.add_argument("--val-phantoms", type=int, default=16)
    src.add_argument("--tracers", default="FDG", help="phantom tracers, cycled (e.g. FDG,FDG,PSMA,DOTATATE)")
    src.add_argument("--resolution", type=float, default=4.0, help="phantom voxel size (mm)")
    src.add_argument("--variety", action="store_true",
                     help="phantoms in varied fields of view (whole body, neck to thighs, chest, abdomen and pelvis, "
                          "neck and chest, head and neck), voxel sizes 3-5 mm and noise levels")
    src.add_argument("--phantom-version", type=int, default=1, choices=(1, 2),
                     help="phantom generator: 1 = first lexicon, 2 = the whole anatomical vocabulary")
    src.add_argument("--workers", type=int, default=2, help="processes generating phantoms")
    p.add_argument("--out", required=True, help="run folder (resumes when it holds a run)")
    p.add_argument("--cache", help="folder of preprocessed exams to share between runs (default: OUT/cache)")
    p.add_argument("--minutes", type=float, default=0.0, help="wall-clock budget of the schedule")
    p.add_argument("--steps", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--blind", action="store_true", help="train the text-blind variant (no sentence)")
    net = p.add_argument_group("model")
    net.add_argument("--encoder", default=None, help="text encoder folder (default: shipped all-MiniLM-L6-v2)")
    net.add_argument("--backbone", default="PlainConvUNet", choices=("PlainConvUNet", "ResidualEncoderUNet"))
    net.add_argument("--features", type=_ints, default=(16, 32, 64, 128, 256))
    net.add_argument("--gated", type=_ints, default=(0, 1, 2), help="gated decoder stages (0 = deepest)")
    net.add_argument("--spacing", type=float, default=8.0, help="isotropic model spacing (mm)")
    net.add_argument("--patch", type=_ints, default=(48, 48, 64), help="network input z,y,x (voxels)")
    net.add_argument("--coords", default="x,y,z", help="coordinate channels, e.g. x,y,z or x or '' for none")
    net.add_argument("--coord-frame", default="box", choices=("box", "anatomy"),
                     help="coordinates relative to the body crop, or the anatomical frame read from the image")
    net.add_argument("--suv-window", type=_window, default=(0.0, 10.0), metavar="LOW,HIGH",
                     help="SUV range the PET channel spans (0..1; clipped outside). The default 0,10 saturates in "
                          "organs near SUV 10 (DOTATATE or PSMA liver), where lesions then vanish; e.g. 0,30")
    net.add_argument("--pet-peak-channel", action="store_true",
                     help="one more input channel: the hottest SUV within about one model voxel")
    net.add_argument("--location-pooling", default="attention", choices=("mean", "attention"),
                     help="how the location prior reads the sentence (mean of the tokens, or attention pools too)")
    opt = p.add_argument_group("optimisation")
    opt.add_argument("--lr", type=float, default=2e-3)
    opt.add_argument("--exams-per-step", type=int, default=2)
    opt.add_argument("--sentences-per-exam", type=int, default=2)
    opt.add_argument("--val-every", type=int, default=150)
    opt.add_argument("--where-weight", type=float, default=1.0, help="weight of the 'where' loss term")
    opt.add_argument("--location-warmup", type=int, default=600,
                     help="steps training the location prior alone before the network (0 = none)")
    opt.add_argument("--location-weight", type=float, default=0.5,
                     help="weight of the location prior's own loss in every step (0 = none)")
    opt.add_argument("--init-from", default="", help="start from this checkpoint's U-Net (e.g. a text-blind run)")
    opt.add_argument("--cpu-bf16", action="store_true",
                     help="on the CPU, compute in bfloat16 (faster on CPUs with bfloat16 units; weights stay float32)")
    opt.add_argument("--half", action="store_true", help="store checkpoints as float16")
    opt.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    opt.add_argument("--device", default="auto", type=_device, help="auto, cpu, cuda, cuda:N or mps")
    p.set_defaults(func=_train)


def _register_evaluate(subparsers) -> None:
    p = subparsers.add_parser("evaluate", help="lesion-level F1 of a checkpoint on a dataset or phantoms")
    p.add_argument("--checkpoint", help="checkpoint folder (default: the shipped demo)")
    p.add_argument("--blind-checkpoint", help="text-blind checkpoint for comparison (default: shipped)")
    p.add_argument("--dataset", help="dataset folder")
    p.add_argument("--phantoms", type=int, default=0, help="evaluate on this many fresh phantoms instead")
    p.add_argument("--seed", type=int, default=90000, help="first phantom seed")
    p.add_argument("--tracers", default="FDG")
    p.add_argument("--fov", default="neck_to_thighs", choices=FIELDS,
                   help="phantoms' field of view: generated neck to thighs or whole body, or cut to a part")
    p.add_argument("--resolution", type=float, default=4.0, help="phantom voxel size (mm)")
    p.add_argument("--phantom-version", type=int, default=1, choices=(1, 2),
                   help="phantom generator: 1 = first lexicon, 2 = the whole anatomical vocabulary")
    p.add_argument("--no-blind", action="store_true", help="skip the text-blind comparison")
    p.add_argument("--no-weak", action="store_true", help="skip the numbers-only weak-label heuristic")
    p.add_argument("--device", default="auto", type=_device, help="auto, cpu, cuda, cuda:N or mps")
    _add_precision(p)
    p.add_argument("--json", action="store_true")
    p.add_argument("--out", help="also write the JSON result here")
    p.set_defaults(func=_evaluate)


def _add_precision(p) -> None:
    p.add_argument("--precision", default="auto", choices=PRECISIONS,
                   help="auto: bfloat16 where the CPU or GPU computes it natively (about twice as fast, masks "
                        "almost always those of float32), float16 on older GPUs; float32: the checkpoint's exact "
                        "arithmetic")


def _model_config(args) -> object:
    from .config import DEFAULT_ENCODER, ModelConfig, NetworkConfig, PreprocessConfig, TextConfig

    coords = tuple(c.strip() for c in args.coords.split(",") if c.strip())
    bad = [c for c in coords if c not in ("x", "y", "z")]
    if bad:
        raise ModelError(f"unknown coordinate channels {bad}: use x, y and/or z")
    spacing = float(args.spacing)
    config = ModelConfig(
        preprocess=PreprocessConfig(spacing_mm=(spacing,) * 3, coord_channels=coords, patch_size=tuple(args.patch),
                                    pet_peak_channel=args.pet_peak_channel, coord_frame=args.coord_frame,
                                    suv_clip=tuple(args.suv_window)),
        network=NetworkConfig(backbone=args.backbone, features=tuple(args.features),
                              strides=(1,) + (2,) * max(0, len(args.features) - 1), gated_stages=tuple(args.gated),
                              text_attention=not args.blind, location_pooling=args.location_pooling),
        text=TextConfig(name=args.encoder or DEFAULT_ENCODER),
    )
    decoder_stages = len(config.network.features) - 1
    if not args.blind and any(not 0 <= s < decoder_stages for s in config.network.gated_stages):
        raise ModelError(f"--gated {','.join(map(str, config.network.gated_stages))}: a network with "
                         f"{len(config.network.features)} --features widths has decoder stages 0-{decoder_stages - 1}")
    problems = config.problems()
    if problems:
        for field, option in _TRAIN_OPTIONS.items():
            problems = [p.replace(field, option) for p in problems]
        raise ModelError("; ".join(dict.fromkeys(problems)))
    return config


def _train(args) -> int:
    import numpy as np

    from .data import dataset_exams, drop_unseen, first_sentences, phantom_exams
    from .text import TextEncoder, precompute
    from .train import TrainSettings, train

    if not args.dataset and args.phantoms <= 0:
        raise ModelError("give --dataset DIR or --phantoms N (N > 0)")
    config = _model_config(args)
    if args.device != "auto":
        _check_device(args.device)
    out = writable_folder(args.out, "--out")
    cache = writable_folder(args.cache, "--cache") if args.cache else out / "cache"
    out.mkdir(parents=True, exist_ok=True)
    encoder = TextEncoder(config.text)
    config.text.dim = encoder.dim
    config.network.text_dim = encoder.dim
    config.text.fingerprint = encoder.fingerprint()
    from .train import _dist

    rank, world = _dist()
    if world > 1 and rank != 0:  # under torchrun, rank 0 prepares (and caches) the exams first
        import torch.distributed as dist

        dist.barrier()
    if args.dataset:
        from ..dataset import Dataset

        cases = Dataset(args.dataset).cases()
        if args.val_dataset:
            train_exams = dataset_exams(args.dataset, config, cache=cache)
            val_exams = dataset_exams(args.val_dataset, config, cache=cache / "val")
        else:
            rng = np.random.default_rng(args.seed)
            held = set(rng.choice(cases, size=min(args.val_cases, len(cases) // 5), replace=False).tolist())
            train_exams = dataset_exams(args.dataset, config, [c for c in cases if c not in held], cache)
            val_exams = dataset_exams(args.dataset, config, sorted(held), cache)
        source = {"dataset": str(Path(args.dataset).resolve()), "val_dataset": args.val_dataset}
    elif args.phantoms > 0:
        tracers = tuple(t.strip() for t in args.tracers.split(",") if t.strip())
        base = 10000 * (args.seed + 1)
        if rank == 0:
            print(f"generating {args.phantoms} + {args.val_phantoms} phantom exams ...", file=sys.stderr, flush=True)
        kinds = {"resolution_mm": args.resolution, "variety": args.variety, "version": args.phantom_version}
        train_exams = phantom_exams(list(range(base, base + args.phantoms)), config, tracers=tracers, cache=cache,
                                    workers=args.workers, **kinds)
        val_exams = phantom_exams(list(range(base + 5000, base + 5000 + args.val_phantoms)), config,
                                  tracers=tracers, cache=cache, workers=args.workers, **kinds)
        source = {"phantoms": args.phantoms, "val_phantoms": args.val_phantoms, "seeds_from": base,
                  "tracers": list(tracers), **kinds}
    else:
        raise ModelError("give --dataset DIR or --phantoms N (N > 0)")
    if world > 1 and rank == 0:
        import torch.distributed as dist

        dist.barrier()
    train_exams = drop_unseen(train_exams)
    val_exams = first_sentences(drop_unseen(val_exams), per_lesion=2)
    if config.network.text_attention:
        precompute(encoder, [s.text for e in train_exams + val_exams for s in e.sentences])
    settings = TrainSettings(
        out=out, steps=args.steps, minutes=args.minutes, exams_per_step=args.exams_per_step,
        sentences_per_exam=args.sentences_per_exam, lr=args.lr, val_every=args.val_every, seed=args.seed,
        half=args.half, device=args.device, threads=args.threads, where_weight=args.where_weight,
        location_warmup=args.location_warmup, location_weight=args.location_weight, init_from=args.init_from,
        cpu_bf16=args.cpu_bf16,
        extra={"command": " ".join(sys.argv), **source,
               "train_exams": len(train_exams), "val_exams": len(val_exams),
               "train_sentences": sum(len(e.sentences) for e in train_exams)},
    )
    if rank == 0:
        print(f"training on {len(train_exams)} exams ({settings.extra['train_sentences']} sentences), "
          f"validating on {len(val_exams)}", file=sys.stderr, flush=True)
    final = train(config, train_exams, val_exams, settings, encoder=encoder)
    if rank == 0:
        print(f"checkpoints: {final} and {out / 'best'}")
    return 0


def _ground(args) -> int:
    from .progress import StageProgress, follow_grounding

    # everything that can be refused without the slow steps is checked first
    sentence = _sentence(args.sentence)
    _describes_a_finding(sentence)
    out = _mask_path(args.out) if args.out else None
    if args.study.startswith("phantom:"):
        _phantom_seed(args.study)
    progress = StageProgress(enabled=not args.no_progress, force=args.progress)
    progress.stage("starting (loading PyTorch)")
    import numpy as np

    from .checkpoint import read_config, shipped_checkpoint
    from .grounder import Grounder

    folder = Path(args.checkpoint) if args.checkpoint else shipped_checkpoint("demo")
    read_config(folder)
    if args.device != "auto":
        _check_device(args.device)
    progress.stage(f"loading the study {args.study}")
    study = _load_study(args.study)
    if out is not None and out.name.lower().endswith(".dcm") and study.source_kind != "dicom":
        from ..errors import WriteError

        raise WriteError(f"--out {out}: a DICOM SEG needs a study read from DICOM, {args.study} is not; "
                         "name the mask .nii.gz")
    progress.stage("loading the model (checkpoint and text encoder)")
    grounder = Grounder.from_checkpoint(folder, device=args.device, precision=args.precision)
    result = follow_grounding(progress, grounder.iter_ground(study, sentence))
    if out is not None:
        from ..study.writers import write_labels

        progress.stage(f"writing {out}")
        out.parent.mkdir(parents=True, exist_ok=True)
        write_labels(out, result.mask.astype(np.uint8), study)
    progress.close()
    if args.json:
        print(json.dumps(result.summary(), indent=2))
    else:
        print(result.describe())
    return 0


def _describes_a_finding(sentence: str) -> None:
    """Refuse what the grounding dock refuses: a text the report parser finds no finding in."""
    from ..report import extract_findings

    if not extract_findings(sentence):
        shown = sentence if len(sentence) <= 60 else sentence[:57] + "..."
        raise ReportError(f"“{shown}” describes no lesion (no finding read in it); give the report sentence "
                          "that describes the lesion, e.g. 'Left axillary lymph node, SUVmax 6.1'")


def _mask_path(text: str) -> Path:
    """The --out path of a mask: a NIfTI or DICOM SEG name in a place that can be written."""
    from ..errors import WriteError

    if not text.lower().endswith((".nii", ".nii.gz", ".dcm")):
        raise WriteError(f"--out {text}: name the mask file .nii.gz (NIfTI) or .dcm (DICOM SEG, DICOM studies)")
    return writable_file(text, "--out")


def _load_study(text: str):
    if text.startswith("phantom:"):
        from ..phantom import make_phantom

        return make_phantom(_phantom_seed(text)).study
    from ..study import load_study

    return load_study(text)


def _phantom_seed(text: str) -> int:
    seed = text.split(":", 1)[1].strip()
    if not seed.isdigit():
        raise PhantomError(f"{text!r} is not a phantom: write phantom:SEED with a whole number SEED >= 0, "
                           "e.g. phantom:7")
    return int(seed)


def _evaluate(args) -> int:
    from ..atomic import atomic_write_bytes
    from .evaluate import evaluate_cli

    out = writable_file(args.out, "--out") if args.out else None
    if args.device != "auto":
        _check_device(args.device)
    result = evaluate_cli(args)
    text = json.dumps(result, indent=2)
    if out is not None:
        atomic_write_bytes(out, text.encode("utf-8"))
    if args.json:
        print(text)
    else:
        from .evaluate import format_table

        print(format_table(result))
    return 0

