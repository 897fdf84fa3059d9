"""ConTEXTual Net 3D: ground a report sentence to the lesion it describes on a PET/CT study.

Heavy parts (torch, transformers) load lazily; ``from napari_petground.model import Grounder`` is cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["Grounder", "Grounding", "ModelConfig", "load_checkpoint", "save_checkpoint", "shipped_checkpoint"]

_WHERE = {
    "Grounder": "grounder", "Grounding": "grounder", "ModelConfig": "config",
    "load_checkpoint": "checkpoint", "save_checkpoint": "checkpoint", "shipped_checkpoint": "checkpoint",
}

if TYPE_CHECKING:
    from .checkpoint import load_checkpoint, save_checkpoint, shipped_checkpoint
    from .config import ModelConfig
    from .grounder import Grounder, Grounding


def __getattr__(name: str):
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
