"""Weak labels from PET: find the region a report sentence describes and grow its mask.

Heavy parts load lazily; ``from napari_petground.weaklabel import weak_label`` is cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = [
    "Agreement", "ComponentStats", "GrowResult", "WeakLabel", "WeakLabelConfig", "check_agreement",
    "component_stats", "grow_lesion", "rank_components", "weak_label",
]

_WHERE = {
    "Agreement": "agreement", "check_agreement": "agreement", "rank_components": "agreement",
    "ComponentStats": "components", "component_stats": "components", "body_midline_x_mm": "components",
    "GrowResult": "grow", "grow_lesion": "grow",
    "WeakLabel": "label", "WeakLabelConfig": "label", "weak_label": "label",
}

if TYPE_CHECKING:
    from .agreement import Agreement, check_agreement, rank_components
    from .components import ComponentStats, component_stats
    from .grow import GrowResult, grow_lesion
    from .label import WeakLabel, WeakLabelConfig, weak_label


def __getattr__(name: str):
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
