"""Checkpoints: a folder with ``weights.safetensors`` and ``config.json``; loading runs no pickle.

``config.json`` is a ModelConfig (preprocessing, architecture, text encoder name, dimension and fingerprint,
training record). Loading checks the config field by field, builds the network from it and refuses, with CheckpointError
saying why, weights that do not fit the architecture or hold NaN or infinite values, and encoders that are
not the one the model was trained with (a checkpoint without an encoder fingerprint cannot show that).
Weights may be stored as float16 to keep the shipped demo small; they are used as float32.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..atomic import atomic_write_bytes
from ..errors import CheckpointError
from .config import ModelConfig

WEIGHTS = "weights.safetensors"
CONFIG = "config.json"
SHIPPED = {"demo": "demo", "blind": "demo-blind"}  # names of the checkpoints shipped in the package


def shipped_checkpoint(name: str = "demo") -> Path:
    """Folder of a checkpoint shipped with the package ("demo" or "blind")."""
    folder = Path(__file__).resolve().parent.parent / "checkpoints" / SHIPPED.get(name, name)
    if not (folder / CONFIG).is_file():
        raise CheckpointError(
            f"no {name!r} checkpoint is shipped in {folder.parent}: train one with `petground train` "
            "(docs/model.md) and choose its folder in the dock's checkpoint picker or with --checkpoint"
        )
    return folder


def _unique_state(module) -> dict:
    """State dict with one key per tensor storage (nnU-Net blocks register each conv twice)."""
    seen: set[int] = set()
    out = {}
    for key, tensor in module.state_dict().items():
        ptr = tensor.untyped_storage().data_ptr() if tensor.numel() else id(tensor)
        if ptr in seen:
            continue
        seen.add(ptr)
        out[key] = tensor
    return out


def save_checkpoint(folder: str | Path, network, config: ModelConfig, *, half: bool = False) -> Path:
    """Write weights and config into ``folder`` (created), each atomically."""
    import torch
    from safetensors.torch import save

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {}
    for key, tensor in _unique_state(network).items():
        tensor = tensor.detach().cpu().contiguous()
        if half and tensor.is_floating_point():
            tensor = tensor.to(torch.float16)
        state[key] = tensor
    atomic_write_bytes(folder / WEIGHTS, save(state, metadata={"format": "napari-petground"}))
    atomic_write_bytes(folder / CONFIG, json.dumps(config.to_dict(), indent=2).encode("utf-8"))
    return folder


def read_config(folder: str | Path) -> ModelConfig:
    """The checkpoint's ModelConfig, checked field by field (CheckpointError naming the file and field)."""
    folder = Path(folder)
    path = folder / CONFIG
    if not path.is_file():
        raise CheckpointError(f"{folder} is not a checkpoint: {CONFIG} missing (expected {CONFIG} + {WEIGHTS})")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CheckpointError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path} is not valid JSON: {exc}") from exc
    try:
        return ModelConfig.from_dict(data)
    except CheckpointError as exc:
        raise CheckpointError(f"{path}: {exc}") from exc


def _read_weights(folder: Path) -> dict:
    """Tensors of ``weights.safetensors``; refuses a file that cannot be read or holds NaN or infinite values,
    which would otherwise load and only show up as a network that never finds anything."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = folder / WEIGHTS
    if not path.is_file():
        raise CheckpointError(f"{folder} has no {WEIGHTS}")
    try:
        stored = load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"cannot read {path}: {exc}") from exc
    bad = sorted(k for k, t in stored.items() if t.is_floating_point() and not bool(torch.isfinite(t).all()))
    if bad:
        raise CheckpointError(
            f"{path} holds NaN or infinite values in {len(bad)} weight tensor(s) (e.g. {bad[0]}): the training "
            "diverged or the file is damaged; use an earlier checkpoint of the run or retrain"
        )
    return stored


def load_checkpoint(folder: str | Path, device: str = "cpu"):
    """(network in eval mode, ModelConfig) from a checkpoint folder; CheckpointError when it does not fit."""
    import torch

    from .network import build_network

    folder = Path(folder)
    config = read_config(folder)
    try:
        network = build_network(config)
    except (ValueError, TypeError, AssertionError) as exc:
        raise CheckpointError(f"the architecture in {folder / CONFIG} cannot be built by this code: {exc}") from exc
    stored = _read_weights(folder)
    expected = _unique_state(network)
    missing = sorted(set(expected) - set(stored))
    unexpected = sorted(set(stored) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"the weights in {folder} do not fit the architecture in its config: "
            f"{len(missing)} missing (e.g. {missing[:2]}), {len(unexpected)} unexpected (e.g. {unexpected[:2]})"
        )
    for key, tensor in expected.items():
        if tuple(stored[key].shape) != tuple(tensor.shape):
            raise CheckpointError(
                f"weight {key} in {folder} has shape {tuple(stored[key].shape)}, the architecture needs "
                f"{tuple(tensor.shape)}"
            )
    with torch.no_grad():
        for key, tensor in expected.items():
            tensor.copy_(stored[key].to(tensor.dtype))
    return network.to(device).eval(), config


def load_backbone(network, folder: str | Path) -> int:
    """Copy into ``network`` every weight of the checkpoint in ``folder`` that it has under the same name and
    shape (the U-Net of a text-blind run into a grounding network); returns how many tensors were copied.

    The checkpoint's preprocessing must match the network's: the same weights on other inputs mean nothing.
    """
    import torch

    folder = Path(folder)
    source = read_config(folder)
    target = getattr(network, "config", None)
    if target is not None and source.preprocess != target.preprocess:
        raise CheckpointError(f"{folder} was trained on other inputs (preprocessing differs); cannot start from it")
    stored = _read_weights(folder)
    copied = 0
    with torch.no_grad():
        for key, tensor in _unique_state(network).items():
            if key in stored and tuple(stored[key].shape) == tuple(tensor.shape):
                tensor.copy_(stored[key].to(tensor.dtype))
                copied += 1
    if not copied:
        raise CheckpointError(f"no weight of {folder} fits this network (other architecture?)")
    return copied


def check_encoder(config: ModelConfig, dim: int, fingerprint: str) -> None:
    """Refuse an encoder whose width or weights differ from the one the checkpoint was trained with, and a
    checkpoint that records no fingerprint (then nothing would stop another encoder's embeddings)."""
    if dim != config.text.dim or dim != config.network.text_dim:
        raise CheckpointError(
            f"text encoder {config.text.name!r} gives {dim}-d tokens but the checkpoint was trained on "
            f"{config.text.dim}-d tokens; use the encoder it was trained with"
        )
    if not config.text.fingerprint:
        raise CheckpointError(
            f"the checkpoint records no text encoder fingerprint, so it cannot be checked that {config.text.name!r} "
            "is the encoder it was trained with; retrain it with `petground train`, or, if you know it was "
            f'trained with this encoder, set "fingerprint": "{fingerprint}" under "text" in its {CONFIG}'
        )
    if fingerprint != config.text.fingerprint:
        raise CheckpointError(
            f"text encoder {config.text.name!r} (fingerprint {fingerprint}) is not the encoder the checkpoint "
            f"was trained with (fingerprint {config.text.fingerprint}); its embeddings would mean something else"
        )


def read_head_files(folder: str | Path, config_name: str, weights_name: str, parse, what: str, command: str):
    """(parsed json, tensors) of a head stored beside a checkpoint's weights (describe head, coarse head);
    CheckpointError naming the head and the command that trains one when it is missing or unreadable.

    Why: every head travels as a json + safetensors pair in the checkpoint folder and fails the same way."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(folder)
    if not ((folder / config_name).is_file() and (folder / weights_name).is_file()):
        raise CheckpointError(f"{folder} carries no {what} ({config_name} + {weights_name}); train one with "
                              f"`{command}`")
    try:
        config = parse(json.loads((folder / config_name).read_text(encoding="utf-8")))
        stored = load_file(str(folder / weights_name))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, SafetensorError, OSError) as exc:
        raise CheckpointError(f"cannot read the {what} in {folder}: {exc}") from exc
    return config, stored


def fill_head(head, stored: dict, folder: str | Path, what: str):
    """``head`` (a torch module) with the ``stored`` tensors, in eval mode; CheckpointError when a tensor is NaN
    or infinite or the tensors do not fit the head's config (one rule for every head beside a checkpoint)."""
    import torch

    bad = [k for k, t in stored.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())]
    if bad:
        raise CheckpointError(f"the {what} in {folder} holds NaN or infinite values ({bad[0]}); retrain it")
    try:
        head.load_state_dict({k: v.float() for k, v in stored.items()}, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"the {what} weights in {folder} do not fit its config: {exc}") from exc
    return head.eval()
