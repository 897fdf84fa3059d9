"""Coarse-to-fine decoding of a study's windows, and the device choices of inference.

A second sentence on a study runs only the decoder, but the decoder runs over every window, and its last
(full-resolution) stages hold most of its work (benchmarks/bench_flops.py). Most windows of a whole-body
study cannot hold the answer to one sentence. So the decoder's deep stages run over every window
(``GroundingNet.decode_coarse``), a small *coarse head* reads their low-resolution features and says how
likely an answer is in each cell, and the fine stages (``decode_fine``) run only in windows whose coarse
maximum reaches the head's floor, or that hold the slices of the image number the finding states.

A window that is skipped counts as probability 0 in the Gaussian blend (its weight still counts): the
coarse head was trained (model.coarse_train) so that every window whose full decoding reaches p = 0.5 passes
the floor, so what a skipped window would have said is below the floor, and a zero never makes a region out
of nothing. With floor 0, or without a head, every window is decoded in full and the answer is the one of
full decoding, bit for bit (``decode`` is ``decode_fine(decode_coarse(...))``; tests/test_model_decoding.py).

The head is stored beside its checkpoint (``coarse_head.safetensors`` + ``coarse_head.json``, with the hash
of the checkpoint's weights it was trained for: a head of other weights is not used).
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
from collections.abc import Generator, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..atomic import atomic_write_bytes
from ..errors import CheckpointError
from .config import PRECISIONS

HEAD_WEIGHTS = "coarse_head.safetensors"
HEAD_CONFIG = "coarse_head.json"
HEAD_VERSION = 1
STATED_MARGIN_MM = 16.0  # a window "holds the stated image" when that slice lies this far inside it, or more


@dataclass(frozen=True)
class Decoding:
    """How the grounder decodes windows: coarse-to-fine with the checkpoint's head (``floor`` None: the floor
    the head was trained with), or every window in full."""

    coarse: bool = True
    floor: float | None = None
    stated_image: bool = True  # windows holding the finding's image number are always decoded in full

    def full(self) -> Decoding:
        """Every window through the whole decoder (the reference the coarse path is checked against)."""
        return replace(self, coarse=False)


@dataclass
class CoarseHeadConfig:
    stages: int  # decoder stages run before the head reads the features
    width: int  # channels of those features
    hidden: int = 16
    floor: float = 0.0  # coarse probability from which a window is decoded in full
    kernel: int = 1  # of the first convolution (3: each cell also sees its neighbours)
    checkpoint: str = ""  # checkpoint_id of the weights the head was trained for
    training: dict = field(default_factory=dict)
    version: int = HEAD_VERSION

    def to_dict(self) -> dict:
        return {"version": self.version, "stages": self.stages, "width": self.width, "hidden": self.hidden,
                "floor": self.floor, "kernel": self.kernel, "checkpoint": self.checkpoint, "training": self.training}

    @classmethod
    def from_dict(cls, data: dict) -> CoarseHeadConfig:
        if int(data.get("version", -1)) != HEAD_VERSION:
            raise CheckpointError(f"coarse head version {data.get('version')} is not {HEAD_VERSION}; retrain it "
                                  "with `petground coarse-train`")
        return cls(int(data["stages"]), int(data["width"]), int(data["hidden"]), float(data["floor"]),
                   int(data.get("kernel", 1)), str(data.get("checkpoint", "")), dict(data.get("training", {})))


class CoarseHead(nn.Module):
    """Logits of "the full decoder answers somewhere in this cell" from the deep decoder features, plus the
    network's own location prior read at the cells' centres (the full decoder adds it to its logits too)."""

    def __init__(self, config: CoarseHeadConfig) -> None:
        super().__init__()
        self.config = config
        self.hidden = nn.Conv3d(config.width, config.hidden, config.kernel, padding=config.kernel // 2)
        self.out = nn.Conv3d(config.hidden, 1, 1)
        self.prior_weight = nn.Parameter(torch.tensor(1.0))

    def forward(self, features: torch.Tensor, tokens: torch.Tensor | None, mask: torch.Tensor | None,
                positions: torch.Tensor | None, location: nn.Module | None) -> torch.Tensor:
        prior = None
        if location is not None and positions is not None and tokens is not None:
            cells = F.adaptive_avg_pool3d(positions.float(), features.shape[2:])
            prior = location(tokens, mask, cells)
        return self.combine(features, prior)

    def combine(self, features: torch.Tensor, prior: torch.Tensor | None) -> torch.Tensor:
        """Logits from the features and the prior already read at the cells (training keeps those)."""
        features = features.to(self.out.weight.dtype)
        logits = self.out(F.leaky_relu(self.hidden(features), 0.01))
        return logits if prior is None else logits + self.prior_weight * prior.to(logits.dtype)


def coarse_target(probability: torch.Tensor, features_shape: tuple[int, ...]) -> torch.Tensor:
    """The full decoder's probability (B, 1, Z, Y, X) as its maximum over each coarse cell."""
    kernel = tuple(p // c for p, c in zip(probability.shape[2:], features_shape[-3:], strict=True))
    return F.max_pool3d(probability, kernel, kernel)


def save_coarse_head(folder: str | Path, head: CoarseHead) -> Path:
    """Write the head into a checkpoint folder (two files, each atomically)."""
    from safetensors.torch import save

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().float().contiguous() for k, v in head.state_dict().items()}
    atomic_write_bytes(folder / HEAD_WEIGHTS, save(state, metadata={"format": "napari-petground coarse head"}))
    atomic_write_bytes(folder / HEAD_CONFIG, json.dumps(head.config.to_dict(), indent=1).encode("utf-8"))
    return folder


def has_coarse_head(folder: str | Path | None) -> bool:
    return folder is not None and (Path(folder) / HEAD_CONFIG).is_file() and (Path(folder) / HEAD_WEIGHTS).is_file()


def load_coarse_head(folder: str | Path, checkpoint: str = "", network=None) -> CoarseHead:
    """The coarse head stored in ``folder``; CheckpointError when it is broken, does not fit ``network``, or
    was trained for other weights than ``checkpoint`` (a checkpoint_id)."""
    from .checkpoint import fill_head, read_head_files

    folder = Path(folder)
    config, stored = read_head_files(folder, HEAD_CONFIG, HEAD_WEIGHTS, CoarseHeadConfig.from_dict, "coarse head",
                                     "petground coarse-train")
    if checkpoint and config.checkpoint != checkpoint:
        raise CheckpointError(f"the coarse head in {folder} was trained for other weights ({config.checkpoint}, "
                              f"these are {checkpoint}); retrain it with `petground coarse-train`")
    if network is not None:
        stages = len(network.decoder.stages)
        widths = network.encoder.output_channels
        if not 0 < config.stages < stages or widths[-(config.stages + 1)] != config.width:
            raise CheckpointError(f"the coarse head in {folder} does not fit the network (stage {config.stages}, "
                                  f"width {config.width}); retrain it")
    return fill_head(CoarseHead(config), stored, folder, "coarse head")


def coarse_head_for(folder: str | Path | None, checkpoint: str, network, device: str) -> CoarseHead | None:
    """The folder's coarse head on ``device``, or None (none there, or one that cannot be used: logged, and
    grounding decodes every window in full, which is slower, never wrong)."""
    if not has_coarse_head(folder):
        return None
    try:
        return load_coarse_head(folder, checkpoint, network).to(device)
    except CheckpointError as exc:
        logging.getLogger(__name__).warning("coarse-to-fine decoding is off: %s", exc)
        return None


# -- device choices ---------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def cpu_computes_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Does this CPU have bfloat16 instructions (x86 AVX512-BF16 or AMX)? Only there is bfloat16 faster than
    float32 for the network's small convolutions; elsewhere it is emulated, and slower. Unknown (not Linux,
    unreadable): no."""
    try:
        text = Path(cpuinfo).read_text(errors="ignore")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.partition(":")[2].split())
            return bool(flags & {"avx512_bf16", "amx_bf16"})
    return False


def autocast_dtype(device: str, bf16_supported: bool | None = None, precision: str = "auto") -> torch.dtype | None:
    """The reduced precision inference runs in on ``device``, or None for float32.

    - a GPU: bfloat16 where it supports it (same range as float32, no overflow in the attention logits),
      float16 on older GPUs;
    - the CPU: bfloat16 on CPUs with bfloat16 instructions (``cpu_computes_bf16``): the decoder takes about
      half the time, and the masks were the float32 ones on 255 of 257 evaluation sentences (docs/model.md);
      float32 elsewhere;
    - ``precision="float32"``: never (the checkpoint's float32 answer, e.g. to compare numbers exactly).
    ``bf16_supported`` overrides what the device is found to support."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}: use {' or '.join(PRECISIONS)}")
    if precision == "float32":
        return None
    kind = str(device).split(":")[0]
    if kind == "cpu":
        if bf16_supported is None:  # without oneDNN, torch's own bfloat16 convolutions are slower than float32
            bf16_supported = cpu_computes_bf16() and torch.backends.mkldnn.is_available()
        return torch.bfloat16 if bf16_supported else None
    if kind != "cuda":
        return None
    if bf16_supported is None:
        bf16_supported = bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    return torch.bfloat16 if bf16_supported else torch.float16


def device_label(device: str, precision: str = "auto") -> str:
    """The device and, when not float32, the precision answers are computed in ("cpu, bfloat16"): what a
    study's encoder features are kept under (grounder and describer share them) and what a result records."""
    dtype = autocast_dtype(device, precision=precision)
    return str(device) + (f", {str(dtype).removeprefix('torch.')}" if dtype is not None else "")


def autocast_for(device: str, precision: str = "auto"):
    """A context manager: autocast at ``autocast_dtype(device, precision=precision)``, or nothing."""
    dtype = autocast_dtype(device, precision=precision)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(str(device).split(":")[0], dtype=dtype)


def to_device(tensor: torch.Tensor, device: str) -> torch.Tensor:
    """``tensor`` on ``device``; to a GPU through pinned (page-locked) host memory, so the copy is a direct
    transfer that does not block the host. On the CPU: the tensor itself, no copy."""
    if not str(device).startswith("cuda"):
        return tensor if str(tensor.device) == str(torch.device(device)) else tensor.to(device)
    return tensor.pin_memory().to(device, non_blocking=True)


# -- which windows are decoded in full --------------------------------------------------------------------


def stated_z(study, finding) -> float | None:
    """The z (mm) of the slice the finding's image number names, or None."""
    number = getattr(finding, "slice", None)
    if number is None or study is None or getattr(study, "pet", None) is None:
        return None
    index = study.numbering.index_for_image(int(number))
    if index is None:
        return None
    return float(study.pet.origin[0] + index * study.pet.spacing[0])


def stated_windows(boxes: Iterable[tuple[slice, ...]], prepared, z_mm: float | None,
                   margin_mm: float = STATED_MARGIN_MM) -> set[int]:
    """Indices of the windows whose z range holds ``z_mm`` (with ``margin_mm`` around it)."""
    if z_mm is None:
        return set()
    lo = (z_mm - margin_mm - prepared.origin[0]) / prepared.spacing[0]
    hi = (z_mm + margin_mm - prepared.origin[0]) / prepared.spacing[0]
    return {i for i, box in enumerate(boxes) if box[0].start - 0.5 <= hi and lo <= box[0].stop - 0.5}


# -- decoding ---------------------------------------------------------------------------------------------


@dataclass
class DecodeStats:
    windows: int = 0
    fine: int = 0
    coarse_max: list[float] = field(default_factory=list)


def staged(stage: str, fractions: Generator[float, None, object]) -> Generator[tuple[str, float], None, object]:
    """(stage, fraction) progress from a generator of fractions, returning what it returns."""
    while True:
        try:
            fraction = next(fractions)
        except StopIteration as stop:
            return stop.value
        yield (stage, fraction)


@functools.lru_cache(maxsize=8)
def gaussian_weights(shape: tuple[int, ...], sigma_scale: float = 0.125) -> np.ndarray:
    """Importance map that trusts window centres more than borders (nnU-Net's sliding-window blend).

    Read-only and kept per window shape: every sentence blends the same windows, and filtering the map took
    a few per cent of a second sentence."""
    from scipy.ndimage import gaussian_filter

    impulse = np.zeros(shape, np.float32)
    impulse[tuple(s // 2 for s in shape)] = 1.0
    weights = gaussian_filter(impulse, [s * sigma_scale for s in shape], mode="constant")
    weights /= weights.max()
    weights = np.maximum(weights, 1e-3).astype(np.float32)
    weights.flags.writeable = False
    return weights


def decode_windows(network, windows: list, tokens, mask, shape: tuple[int, int, int], *,
                   head: CoarseHead | None = None, floor: float = 0.0, always: set[int] | None = None,
                   autocast=None, stats: DecodeStats | None = None) -> Generator[float, None, np.ndarray]:
    """Yield the fraction of windows done; return the blended probability on the model grid (``shape``).

    With a ``head``, a window is decoded in full only when its coarse maximum reaches ``floor`` (always, at
    floor 0) or its index is in ``always``; a skipped window counts as probability 0 (module docstring).
    Without one, every window goes through ``network.decode``."""
    stats = stats if stats is not None else DecodeStats()
    stats.windows = len(windows)
    gate = head is not None
    stages = head.config.stages if head is not None else 0
    location = getattr(network, "location", None)
    always = always or set()
    total = weight = importance = None
    for i, (box, skips) in enumerate(windows):
        yield i / len(windows)
        with torch.inference_mode(), (autocast or contextlib.nullcontext()):
            if gate:
                x = network.decode_coarse(skips, tokens, mask, stages)
                coarse = torch.sigmoid(head(x, tokens, mask, getattr(skips, "positions", None),
                                            location).float())
                stats.coarse_max.append(float(coarse.max()))
                keep = i in always or stats.coarse_max[-1] >= floor
                logits = network.decode_fine(x, skips, tokens, mask, stages) if keep else None
            else:
                logits = network.decode(skips, tokens, mask)
            prob = None
            if logits is not None:
                prob = torch.sigmoid(logits.float())[0, 0].cpu().numpy()
                stats.fine += 1
        if len(windows) == 1:
            return prob if prob is not None else np.zeros(shape, np.float32)
        if total is None:
            total, weight = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
            importance = gaussian_weights(tuple(b.stop - b.start for b in box))
        if prob is not None:
            total[box] += prob * importance
        weight[box] += importance
    return total / np.maximum(weight, 1e-6)
