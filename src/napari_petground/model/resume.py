"""Resumable training state without pickle: weights, optimizer moments (safetensors) and counters (JSON)."""

from __future__ import annotations

import json
from pathlib import Path

from ..atomic import atomic_write_bytes
from ..errors import ModelError
from .checkpoint import _unique_state


def save_resume(folder: Path, network, optimizer, state: dict) -> None:
    from safetensors.torch import save

    folder.mkdir(parents=True, exist_ok=True)
    weights = {k: v.detach().cpu().contiguous() for k, v in _unique_state(network).items()}
    opt = optimizer.state_dict()
    tensors = {}
    for index, values in opt["state"].items():
        for name, value in values.items():
            tensors[f"{index}.{name}"] = value.detach().cpu().contiguous().reshape(value.shape)
    groups = [{k: v for k, v in g.items()} for g in opt["param_groups"]]
    atomic_write_bytes(folder / "weights.safetensors", save(weights))
    atomic_write_bytes(folder / "optimizer.safetensors", save(tensors) if tensors else save({}))
    atomic_write_bytes(folder / "state.json", json.dumps({**state, "param_groups": groups}).encode("utf-8"))


def load_resume(folder: Path, network, optimizer) -> dict:
    """Restore weights and optimizer; returns the saved counters (step, elapsed, best, history)."""
    import torch
    from safetensors.torch import load_file

    try:
        state = json.loads((folder / "state.json").read_text())
        weights = load_file(str(folder / "weights.safetensors"))
        moments = load_file(str(folder / "optimizer.safetensors"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot resume from {folder}: {exc}; delete it to start afresh") from exc
    expected = _unique_state(network)
    if set(expected) != set(weights):
        raise ModelError(f"the run in {folder.parent} was trained with another architecture; use a new --out")
    with torch.no_grad():
        for key, tensor in expected.items():
            tensor.copy_(weights[key])
    opt_state: dict = {}
    for key, value in moments.items():
        index, name = key.split(".", 1)
        opt_state.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": opt_state, "param_groups": state.pop("param_groups")})
    return state
