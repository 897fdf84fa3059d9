"""Training the coarse head of a checkpoint (model.decoding) by distillation from its own frozen network.

For phantom exams in every field of view, each window is encoded and decoded as grounding does it; for a
few sentences per exam (its lesions' sentences, a negative one and one about a lesion of another exam) the
deep decoder features of every window are kept together with the target: the full decoder's probability,
max-pooled to the coarse cells (so a cell is positive when the answer reaches into it anywhere). The head
(two 1×1×1 convolutions plus the network's location prior read at the cells) learns that target with a
binary cross-entropy in which cells the full decoder marks (p ≥ 0.1) weigh more.

The floor is chosen for recall, not accuracy: half the lowest coarse maximum of any training window whose
full decoding reaches p = 0.1 (``answer``: the faintest region select ever offers), so that every such
window is decoded in full; held-out exams measure the window-level recall at that floor for p = 0.5, 0.2
and 0.1 (and, if one were missed at ``answer``, the floor is lowered to cover it too and the record says
so) and the share of windows still decoded in full, also for the floors the other levels would give.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import ModelError
from .decoding import CoarseHead, CoarseHeadConfig, coarse_target
from .npz import read_npz

ANSWER = 0.5  # a window "holds an answer" when its full decoding reaches this probability (select's threshold)
LEVELS = (0.5, 0.2, 0.1)  # select's thresholds: regions, fainter ones tried with numbers, the faint answer
FIELDS = ("whole_body", "neck_to_thighs", "chest", "abdomen_pelvis", "neck_chest", "head_neck")
LESION_KINDS = ("numbers", "no_numbers", "prior", "impression")


@dataclass
class CoarseTrainSettings:
    stages: int | None = None  # decoder stages before the head (None: all but the last two)
    hidden: int = 16
    kernel: int = 1
    positive_weight: float = 9.0  # extra weight of cells the full decoder marks (p >= 0.1)
    steps: int = 600
    batch: int = 32
    lr: float = 3e-3
    margin: float = 0.5  # floor = margin × the lowest coarse maximum of a training window holding an answer
    answer: float = 0.1  # what "holding an answer" means: select's faintest threshold, so no region it could
    # offer, faint ones included, lies in a skipped window
    sentences: int = 4  # lesion sentences per exam (plus one negative and one of another exam)
    seed: int = 0


@dataclass
class Samples:
    """One row per (sentence, window): deep features, the prior at the cells, the max-pooled target (windows
    of small studies are smaller than the network input, so each row keeps its own shape)."""

    features: list[torch.Tensor]  # (1, C, z, y, x) float16
    prior: list[torch.Tensor]  # (1, 1, z, y, x) float32 (zeros for a network without a prior)
    target: list[torch.Tensor]  # (1, 1, z, y, x) float32
    full_max: np.ndarray  # (N,) the full decoding's maximum probability per window
    exams: int = 0
    sentences: int = 0


def default_stages(network) -> int:
    """All decoder stages but the last two: the head reads features at a quarter of the model grid's
    resolution, past a fifth of the decoder's work (benchmarks/bench_flops.py)."""
    return max(1, len(network.decoder.stages) - 2)


def _phantoms(first_seed: int, count: int, tracers: tuple[str, ...], resolution_mm: float, version: int):
    """``count`` phantoms over the fields of view (a seed whose cut holds no lesion is passed over)."""
    from ..errors import PhantomError
    from ..phantom.fields import phantom_in_field

    seed = first_seed
    made = 0
    while made < count:
        field = FIELDS[made % len(FIELDS)]
        try:
            phantom = phantom_in_field(seed, field, rng=np.random.default_rng([seed, 3]),
                                       tracer=tracers[made % len(tracers)], resolution_mm=resolution_mm,
                                       version=version)
        except PhantomError:
            seed += 1
            continue
        yield phantom
        made += 1
        seed += 1


def _sentences(phantom, other, rng: np.random.Generator, per_exam: int) -> list[str]:
    lesion = [s.text for s in phantom.sentences if s.lesion_id is not None and s.kind in LESION_KINDS]
    negative = [s.text for s in phantom.sentences if s.lesion_id is None]
    absent = [s.text for s in other.sentences if s.lesion_id is not None] if other is not None else []
    picked = list(rng.choice(lesion, min(per_exam, len(lesion)), replace=False)) if lesion else []
    for pool in (negative, absent):
        if pool:
            picked.append(str(rng.choice(pool)))
    return picked


def collect(network, config, encoder, phantoms: list, stages: int, per_exam: int, seed: int,
            log: Callable[[str], None] = lambda _m: None) -> Samples:
    """Decode every window of every phantom for a few sentences each and keep the head's inputs and target."""
    from .features import encode_study

    rng = np.random.default_rng([seed, 17])
    features, priors, targets, full_max = [], [], [], []
    n_sentences = 0
    location = getattr(network, "location", None)
    for k, phantom in enumerate(phantoms):
        study_features = encode_study(network, config, phantom.study)
        other = phantoms[(k + 1) % len(phantoms)] if len(phantoms) > 1 else None
        for text in _sentences(phantom, other, rng, per_exam):
            emb, m = encoder.encode(text)
            tokens, mask = torch.from_numpy(emb[None]), torch.from_numpy(m[None])
            n_sentences += 1
            for _box, skips in study_features.windows:
                with torch.no_grad():  # not inference_mode: the kept tensors feed the head's training
                    x = network.decode_coarse(skips, tokens, mask, stages)
                    prob = torch.sigmoid(network.decode_fine(x, skips, tokens, mask, stages).float())
                    positions = getattr(skips, "positions", None)
                    if location is not None and positions is not None:
                        cells = torch.nn.functional.adaptive_avg_pool3d(positions.float(), x.shape[2:])
                        prior = location(tokens, mask, cells).float()
                    else:
                        prior = torch.zeros((1, 1, *x.shape[2:]))
                features.append(x.to(torch.float16))
                priors.append(prior)
                targets.append(coarse_target(prob, tuple(x.shape)))
                full_max.append(float(prob.max()))
        log(f"exam {k + 1}/{len(phantoms)}: {len(study_features.windows)} windows, {n_sentences} sentences so far")
    return Samples(features, priors, targets, np.asarray(full_max, np.float32), len(phantoms), n_sentences)


def save_samples(path, samples: Samples) -> None:
    """Keep collected samples (npz), so that head settings can be tried without decoding again."""
    arrays = {"full_max": samples.full_max, "counts": np.asarray([samples.exams, samples.sentences])}
    for i, (f, p, t) in enumerate(zip(samples.features, samples.prior, samples.target, strict=True)):
        arrays[f"f{i}"], arrays[f"p{i}"], arrays[f"t{i}"] = f.numpy(), p.numpy(), t.numpy()
    np.savez(path, **arrays)


def load_samples(path) -> Samples:
    data = read_npz(path, ("full_max", "counts"), "window samples", "`petground coarse-train --samples`")
    n = len(data["full_max"])
    needed = [f"{kind}{i}" for i in range(n) for kind in "fpt"]
    if any(key not in data for key in needed):
        raise ModelError(f"cannot read window samples from {path} (windows missing); it must be a file that "
                         "`petground coarse-train --samples` wrote")
    return Samples([torch.from_numpy(data[f"f{i}"]) for i in range(n)],
                   [torch.from_numpy(data[f"p{i}"]) for i in range(n)],
                   [torch.from_numpy(data[f"t{i}"]) for i in range(n)], data["full_max"],
                   int(data["counts"][0]), int(data["counts"][1]))


def coarse_max(head: CoarseHead, samples: Samples) -> np.ndarray:
    """The head's maximum probability per window."""
    with torch.inference_mode():
        out = [float(torch.sigmoid(head.combine(f.float(), p)).max()) for f, p in zip(samples.features,
                                                                                    samples.prior, strict=True)]
    return np.asarray(out, np.float32)


def recall(head_max: np.ndarray, full_max: np.ndarray, floor: float, answer: float = ANSWER) -> float | None:
    """Share of the windows whose full decoding reaches ``answer`` that the floor keeps (None: no such window)."""
    positive = full_max >= answer
    return float((head_max[positive] >= floor).mean()) if positive.any() else None


def fit(samples: Samples, width: int, stages: int, settings: CoarseTrainSettings, bias: float,
        log: Callable[[str], None] = lambda _m: None) -> CoarseHead:
    """A head trained on ``samples`` (its floor not yet chosen)."""
    torch.manual_seed(settings.seed)
    head = CoarseHead(CoarseHeadConfig(stages=stages, width=width, hidden=settings.hidden, kernel=settings.kernel))
    with torch.no_grad():
        head.out.bias.fill_(bias)
    optimiser = torch.optim.Adam(head.parameters(), lr=settings.lr)
    rng = np.random.default_rng(settings.seed)
    n = len(samples.full_max)
    for step in range(settings.steps):
        losses = []
        for i in rng.choice(n, min(settings.batch, n), replace=False):
            target = samples.target[i]
            logits = head.combine(samples.features[i].float(), samples.prior[i])
            weight = 1.0 + settings.positive_weight * (target >= 0.1).float()
            losses.append(torch.nn.functional.binary_cross_entropy_with_logits(logits, target, weight=weight))
        loss = torch.stack(losses).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step % 100 == 0 or step == settings.steps - 1:
            log(f"step {step}: loss {float(loss.detach()):.4f}")
    return head.eval()


def choose_floor(train_max: np.ndarray, train_full: np.ndarray, margin: float, answer: float = ANSWER) -> float:
    """``margin`` × the lowest head maximum of a training window whose full decoding reaches ``answer`` (at
    most ``answer``; ``margin`` × ``answer`` when no training window reaches it)."""
    positive = train_full >= answer
    lowest = float(train_max[positive].min()) if positive.any() else answer
    return float(min(answer, margin * lowest))


def _measured(head_max: np.ndarray, full_max: np.ndarray, floor: float) -> dict:
    return {"windows": len(full_max), "decoded_in_full": round(float((head_max >= floor).mean()), 4),
            **{f"recall_p{level:g}": recall(head_max, full_max, floor, level) for level in LEVELS},
            **{f"windows_p{level:g}": int((full_max >= level).sum()) for level in LEVELS}}


def train_coarse_head(network, config, encoder, *, phantoms: int = 24, val_phantoms: int = 8,
                      first_seed: int = 700000, tracers: tuple[str, ...] = ("FDG",), resolution_mm: float = 4.0,
                      version: int = 2, settings: CoarseTrainSettings | None = None, checkpoint: str = "",
                      samples_file: str | None = None,
                      log: Callable[[str], None] = lambda _m: None) -> tuple[CoarseHead, dict]:
    """(head with its floor, metrics): distilled from ``network`` on phantoms (module docstring)."""
    import time

    settings = settings or CoarseTrainSettings()
    started = time.perf_counter()
    network = network.eval()
    stages = settings.stages if settings.stages is not None else default_stages(network)
    width = network.encoder.output_channels[-(stages + 1)]
    have = samples_file is not None and Path(samples_file).is_file()
    train_exams = [] if have else list(_phantoms(first_seed, phantoms, tracers, resolution_mm, version))
    val_exams = [] if have else list(_phantoms(first_seed + 100000, val_phantoms, tracers, resolution_mm, version))
    log(f"decoding {len(train_exams)} training and {len(val_exams)} validation exams (stage {stages}, width {width})")
    if have:
        train, val = load_samples(samples_file), load_samples(f"{samples_file}.val.npz")
        log(f"samples read from {samples_file}")
    else:
        train = collect(network, config, encoder, train_exams, stages, settings.sentences, settings.seed, log)
        val = collect(network, config, encoder, val_exams, stages, settings.sentences, settings.seed + 1, log)
        if samples_file:
            save_samples(samples_file, train)
            save_samples(f"{samples_file}.val.npz", val)
    bias = float(network.decoder.seg_layers[-1].bias.detach().float().mean())
    head = fit(train, width, stages, settings, bias, log)
    train_max, val_max = coarse_max(head, train), coarse_max(head, val)
    floor = choose_floor(train_max, train.full_max, settings.margin, settings.answer)
    val_recall = recall(val_max, val.full_max, floor, settings.answer)
    lowered = val_recall is not None and val_recall < 1.0
    if lowered:  # a held-out window was missed: cover it too (the record says so)
        floor = choose_floor(np.concatenate([train_max, val_max]), np.concatenate([train.full_max, val.full_max]),
                             settings.margin, settings.answer)
    alternatives = {f"p{level:g}": {"floor": round(f, 6), **_measured(val_max, val.full_max, f)}
                    for level in LEVELS for f in [choose_floor(train_max, train.full_max, settings.margin, level)]}
    metrics = {
        "floor": round(floor, 6), "answer": settings.answer, "stages": stages, "width": width,
        "train": {"exams": train.exams, "sentences": train.sentences, **_measured(train_max, train.full_max, floor)},
        "validation": {"exams": val.exams, "sentences": val.sentences, **_measured(val_max, val.full_max, floor),
                       "recall_before_lowering": val_recall},
        "floor_lowered_for_validation": lowered, "validation_at_other_answer_levels": alternatives,
        "seeds_from": first_seed, "tracers": list(tracers), "resolution_mm": resolution_mm,
        "phantom_version": version, "settings": asdict(settings),
        "minutes": round((time.perf_counter() - started) / 60, 2),
    }
    head.config.floor = floor
    head.config.checkpoint = checkpoint
    head.config.training = metrics
    return head, metrics
