"""Training: Dice + BCE, AdamW, warm-up + cosine, AMP on CUDA, resume, torchrun DDP.

Each step takes a few exams and several sentences of each: the encoder runs once per exam and the decoder
once per sentence, so every step contrasts the described lesion with the other lesions of the same image
(same-image negatives). The text-blind variant learns every described lesion of an exam at once.
Volumes larger than ``patch_size`` are cropped around the first sentence's lesion (sometimes anywhere, so
the network also learns to answer "not here" inside a sliding window).
The schedule runs over a number of steps or over a wall-clock budget (``minutes``), whichever ends first.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ModelError
from .checkpoint import save_checkpoint
from .config import ModelConfig
from .data import Exam
from .location_train import location_examples, location_loss, location_rank1, warm_up_location
from .metrics import Counts, lesion_counts, most_confident_component


@dataclass
class TrainSettings:
    out: Path
    steps: int = 0  # 0 = no step limit (use minutes)
    minutes: float = 0.0  # 0 = no time limit (use steps)
    exams_per_step: int = 2
    sentences_per_exam: int = 2
    lr: float = 2e-3
    weight_decay: float = 1e-5
    warmup: int = 50
    absent_fraction: float = 0.1  # crops that may miss the lesion (only for volumes larger than patch_size)
    where_weight: float = 1.0  # weight of the "where" term of the loss (see loss_fn)
    location_warmup: int = 0  # steps training the location prior alone before the network (location_train)
    location_weight: float = 0.0  # weight of the prior's own "where" loss in every step (0: off)
    location_batch: int = 16  # sentences per step for that loss
    val_every: int = 100
    save_every: int = 100
    seed: int = 0
    init_from: str = ""  # checkpoint whose U-Net weights start the network (e.g. a text-blind run); gates open
    cpu_bf16: bool = False  # on the CPU, compute in bfloat16 where autocast allows (weights stay float32)
    half: bool = False  # store checkpoints as float16
    device: str = "auto"
    threads: int = 0  # 0 = leave torch's default
    extra: dict = field(default_factory=dict)  # recorded in the checkpoint's training info


WARMUP_LR = 3e-3  # the prior alone: measured to reach its plateau within ~500 steps of 32 sentences


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def lr_at(settings: TrainSettings, step: int, progress: float) -> float:
    warm = min(1.0, (step + 1) / max(1, settings.warmup))
    return settings.lr * warm * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def prior_logit(exams: list[Exam], patch, blind: bool) -> float:
    """Logit of the expected lesion fraction of a training input: where the output bias starts.

    A tiny lesion fills ~1e-4 of a whole-body input; starting at p = 0.5 (or even 0.02) makes the first
    hundreds of Adam steps do nothing but lower the background, at about lr per step.
    """
    fractions = []
    for exam in exams[:200]:
        size = float(np.prod([min(p, n) for p, n in zip(patch, exam.image.shape[1:], strict=True)]))
        if blind:
            fractions.append(float(exam.all_lesions.sum()) / size)
        else:
            fractions += [float(exam.targets[s.target].sum()) / size for s in exam.sentences]
    f = float(np.clip(np.mean(fractions) if fractions else 1e-3, 1e-6, 0.5))
    return float(np.clip(np.log(f / (1.0 - f)), -12.0, 0.0))


def loss_fn(logits, targets, where_weight: float = 1.0):
    """Mean over sentences of BCE + soft Dice + a "where" term (Dice and "where" only if the lesion is in view).

    BCE and Dice saturate while every voxel is near p = 0: a lesion of ten voxels in 150k gives its logits a
    gradient of ~1/N. The "where" term is a cross-entropy over voxels (softmax of all logits, target = the
    lesion's voxels): it is blind to the overall level and pulls the described lesion above everything else
    from the first step, which is the ranking the grounding needs; BCE and Dice then set the level (p > 0.5).
    """
    import torch
    import torch.nn.functional as F

    logits = logits.float()
    bce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none").flatten(1).mean(1)
    flat_logits = logits.flatten(1)
    prob = torch.sigmoid(flat_logits)
    flat = targets.flatten(1)
    inter = (prob * flat).sum(1)
    soft_dice = 1.0 - (2.0 * inter + 1.0) / (prob.sum(1) + flat.sum(1) + 1.0)
    present = (flat.sum(1) > 0).float()
    in_target = flat_logits.masked_fill(flat <= 0, float("-inf"))
    where = torch.logsumexp(flat_logits, 1) - torch.logsumexp(in_target, 1)
    where = torch.where(present > 0, where, torch.zeros_like(where))
    return (bce + (soft_dice + where_weight * where) * present).mean()


def _crop_box(shape, patch, lesion: np.ndarray | None, rng) -> tuple[slice, ...]:
    """A patch-sized box: anywhere that keeps the lesion's bounding box inside (uniformly, so the lesion is
    not always near the centre: a centred lesion teaches "pick the hot spot in the middle"), or anywhere
    at all when ``lesion`` is None."""
    box = []
    where = np.argwhere(lesion) if lesion is not None else np.zeros((0, 3), int)
    for axis, (n, p) in enumerate(zip(shape, patch, strict=True)):
        if n <= p:
            box.append(slice(0, n))
            continue
        lo_min, lo_max = 0, n - p
        if len(where):
            first, last = int(where[:, axis].min()), int(where[:, axis].max())
            lo_min, lo_max = max(0, last - p + 1), min(n - p, first)
            if lo_min > lo_max:  # the lesion is larger than the patch: centre it
                lo_min = lo_max = int(np.clip((first + last - p) // 2, 0, n - p))
        lo = int(rng.integers(lo_min, lo_max + 1))
        box.append(slice(lo, lo + p))
    return tuple(box)


def sample_step(exams: list[Exam], settings: TrainSettings, patch, rng, blind: bool):
    """(images, targets, sentence texts, exam index per sentence) for one step, padded to a common shape."""
    chosen = rng.choice(len(exams), size=min(settings.exams_per_step, len(exams)), replace=False)
    crops, targets, texts, index = [], [], [], []
    for e, exam_id in enumerate(chosen):
        exam = exams[int(exam_id)]
        order = rng.permutation(len(exam.sentences))
        first = exam.sentences[int(order[0])]
        shape = exam.image.shape[1:]
        lesion = None if rng.random() < settings.absent_fraction else exam.targets[first.target]
        box = _crop_box(shape, patch, lesion, rng)
        crops.append(exam.image[(slice(None), *box)])
        if blind:
            targets.append(exam.all_lesions[box][None])
            index.append(e)
            continue
        # other sentences: lesions other than the first one's, visible in the crop; the first lesion's twin
        # (same site, e.g. the other femur) goes first: it is the negative that teaches left from right
        picked, used = [first], {first.target}
        site = first.info.get("site")
        twins_first = sorted(order[1:], key=lambda i: not (site and exam.sentences[int(i)].info.get("site") == site))
        for i in twins_first:
            if len(picked) >= settings.sentences_per_exam:
                break
            s = exam.sentences[int(i)]
            if s.target not in used and exam.targets[s.target][box].any():
                picked.append(s)
                used.add(s.target)
        for s in picked:
            targets.append(exam.targets[s.target][box][None])
            texts.append(s.text)
            index.append(e)
    common = tuple(max(c.shape[1 + a] for c in crops) for a in range(3))
    images = np.stack([_pad(c, common) for c in crops])
    target = np.stack([_pad(t, common) for t in targets]).astype(np.float32)
    return images, target, texts, np.asarray(index)


def _pad(array: np.ndarray, shape) -> np.ndarray:
    pad = [(0, 0)] * (array.ndim - 3) + [(0, s - n) for s, n in zip(shape, array.shape[-3:], strict=True)]
    return np.pad(array, pad)


def validate(network, exams: list[Exam], encoder, device: str, blind: bool) -> dict:
    """Network-alone overlap and Dice>0.5 F1 on the model grid of held-out exams."""
    import torch

    counts = {"overlap": Counts(), "dice": Counts()}
    network.eval()
    with torch.no_grad():
        for exam in exams:
            image = torch.from_numpy(exam.image[None]).to(device)
            skips = network.encode(image)
            if blind:
                prob = torch.sigmoid(network.decode(skips)).float().cpu().numpy()[0, 0]
                probs = [prob] * len(exam.sentences)
            else:
                tokens, mask = encoder.encode_batch([s.text for s in exam.sentences])
                index = torch.zeros(len(exam.sentences), dtype=torch.long, device=device)
                logits = network.decode(skips, torch.from_numpy(tokens).to(device),
                                        torch.from_numpy(mask).to(device), index)
                probs = list(torch.sigmoid(logits).float().cpu().numpy()[:, 0])
            for s, prob in zip(exam.sentences, probs, strict=True):
                result = lesion_counts(most_confident_component(prob), exam.targets[s.target])
                for name in counts:
                    counts[name].add(result[name])
    network.train()
    out = {f"val_{k}_f1": round(v.f1, 4) for k, v in counts.items()} | {"val_sentences": counts["overlap"].n}
    if not blind and getattr(network, "location", None) is not None:
        out["val_location_rank1"] = round(location_rank1(network.location, encoder, exams, device), 4)
    return out


def _dist():
    """(rank, world size) under torchrun, initialising the process group once."""
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    if not dist.is_initialized():
        import torch

        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), world


def train(config: ModelConfig, train_exams: list[Exam], val_exams: list[Exam], settings: TrainSettings,
          encoder=None, progress: bool = True) -> Path:
    """Train and write ``out/best``, ``out/final`` (checkpoints) and ``out/resume``; returns ``out/final``."""
    import torch
    import torch.distributed as dist
    from tqdm import tqdm

    from .network import build_network
    from .resume import load_resume, save_resume

    if not train_exams:
        raise ModelError("no training exams: the dataset has no items with masks")
    if settings.steps <= 0 and settings.minutes <= 0:
        raise ModelError("give a number of steps or a time budget in minutes")
    rank, world = _dist()
    if settings.threads:
        torch.set_num_threads(settings.threads)
    device = resolve_device(settings.device)
    if device == "cuda" and world > 1:
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
        torch.cuda.set_device(device)
    blind = not config.network.text_attention
    torch.manual_seed(settings.seed)
    if not (Path(settings.out) / "resume").is_dir():
        config.network.output_bias = prior_logit(train_exams, config.preprocess.patch_size, blind)
    network = build_network(config)
    if settings.init_from and not (Path(settings.out) / "resume").is_dir():
        from .checkpoint import load_backbone

        copied = load_backbone(network, settings.init_from)
        if network.uses_text:
            network.open_gates()
        if rank == 0 and progress:
            print(f"started from {copied} tensors of {settings.init_from}", flush=True)
    network = network.to(device).train()
    optimizer = torch.optim.AdamW(network.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    out = Path(settings.out)
    state = load_resume(out / "resume", network, optimizer) if (out / "resume").is_dir() else {}
    step, elapsed0, best = int(state.get("step", 0)), float(state.get("elapsed", 0.0)), float(state.get("best", -1))
    # the output layer's starting bias is a property of the run: a resumed run must record the original one
    config.network.output_bias = float(state.get("output_bias", config.network.output_bias))
    history: list[dict] = list(state.get("history", []))
    model = network
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(network, device_ids=[device] if device.startswith("cuda") else None)
    prior = network.location if not blind else None
    examples = location_examples(train_exams, prior.axes) if prior is not None else []
    if examples and step == 0 and settings.location_warmup > 0:
        began = time.monotonic()
        warm_loss = warm_up_location(prior, encoder, examples, settings.location_warmup, WARMUP_LR, device,
                                     np.random.default_rng(settings.seed))
        elapsed0 += time.monotonic() - began
        record = {"step": 0, "elapsed_min": round(elapsed0 / 60, 2), "location_warmup_loss": round(warm_loss, 4)}
        if rank == 0 and val_exams:
            record["val_location_rank1"] = round(location_rank1(prior, encoder, val_exams, device), 4)
        history.append(record)
        if rank == 0 and progress:
            print(json.dumps(record), flush=True)
    use_amp = device.startswith("cuda")
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    # CPUs with bfloat16 units (AVX512-BF16, AMX): measured 1.3x faster steps on the demo network
    autocast = torch.autocast("cuda", enabled=True) if use_amp else torch.autocast(
        "cpu", dtype=torch.bfloat16, enabled=settings.cpu_bf16 and device == "cpu")
    rng = np.random.default_rng(settings.seed * 1000 + rank + step)
    patch = config.preprocess.patch_size
    started = time.monotonic()
    bar = tqdm(total=settings.steps or None, initial=step, disable=not progress or rank != 0, desc="train",
               dynamic_ncols=True)
    last_val: dict = history[-1] if history else {}
    running = None

    def counters() -> dict:
        return {"step": step, "elapsed": elapsed0 + time.monotonic() - started, "best": best, "history": history,
                "output_bias": config.network.output_bias}

    while True:
        elapsed = elapsed0 + time.monotonic() - started
        frac = max(step / settings.steps if settings.steps else 0.0,
                   elapsed / (settings.minutes * 60) if settings.minutes else 0.0)
        if world > 1:  # every rank follows the slowest clock: same learning rate, same last step
            shared = torch.tensor([frac], dtype=torch.float64)
            dist.all_reduce(shared, op=dist.ReduceOp.MAX)
            frac = float(shared.item())
        if frac >= 1.0:
            break
        lr = lr_at(settings, step, frac)
        for group in optimizer.param_groups:
            group["lr"] = lr
        images, targets, texts, index = sample_step(train_exams, settings, patch, rng, blind)
        images_t = torch.from_numpy(images).to(device)
        targets_t = torch.from_numpy(targets).to(device)
        with autocast:
            if blind:
                logits = model(images_t)
            else:
                tokens, mask = encoder.encode_batch(texts)
                logits = model(images_t, torch.from_numpy(tokens).to(device), torch.from_numpy(mask).to(device),
                               torch.from_numpy(index).to(device))
            loss = loss_fn(logits, targets_t, settings.where_weight)
            if examples and settings.location_weight > 0:
                chosen = [examples[int(i)] for i in rng.integers(0, len(examples), settings.location_batch)]
                loss = loss + settings.location_weight * location_loss(prior, encoder, chosen, device)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(network.parameters(), 12.0)
        scaler.step(optimizer)
        scaler.update()
        step += 1
        value = loss.item()
        running = value if running is None else 0.95 * running + 0.05 * value
        bar.update(1)
        bar.set_postfix(loss=f"{running:.3f}", lr=f"{lr:.1e}", **{"F1": last_val.get("val_overlap_f1", "-")})
        if rank == 0 and val_exams and step % settings.val_every == 0:
            last_val = {"step": step, "elapsed_min": round((elapsed0 + time.monotonic() - started) / 60, 2),
                        "loss": round(running, 4), **validate(network, val_exams, encoder, device, blind)}
            history.append(last_val)
            bar.write(json.dumps(last_val))
            if last_val["val_overlap_f1"] >= best:
                best = last_val["val_overlap_f1"]
                _save(out / "best", network, config, settings, step, history, best)
        if rank == 0 and step % settings.save_every == 0:
            save_resume(out / "resume", network, optimizer, counters())
    bar.close()
    if rank == 0:
        if val_exams and (not history or history[-1]["step"] != step):
            last_val = {"step": step, "elapsed_min": round((elapsed0 + time.monotonic() - started) / 60, 2),
                        "loss": round(running or 0.0, 4), **validate(network, val_exams, encoder, device, blind)}
            history.append(last_val)
            print(json.dumps(last_val), flush=True)
            if last_val["val_overlap_f1"] >= best:
                best = last_val["val_overlap_f1"]
                _save(out / "best", network, config, settings, step, history, best)
        save_resume(out / "resume", network, optimizer, counters())
        _save(out / "final", network, config, settings, step, history, best)
    if world > 1:
        dist.barrier()
    return out / "final"


def _save(folder: Path, network, config: ModelConfig, settings: TrainSettings, step: int, history: list,
          best: float) -> None:
    info = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(settings).items()}
    config.training = {"settings": info, "step": step, "best_val_overlap_f1": best,
                       "validation": history[-1] if history else {}, "history": history[-20:],
                       "saved": time.strftime("%Y-%m-%d %H:%M:%S")}
    save_checkpoint(folder, network, config, half=settings.half)
