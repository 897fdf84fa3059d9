"""A Study as napari layer data: CT in grey with a window preset, PET colour-mapped and blended on top.

Plain tuples ``(data, kwargs, "image")`` so this module needs no napari import; the npe2 reader and the
``petground view`` command both use it. Both layers carry ``metadata["petground"] = {"study", "role"}`` so
docks find the study, and physical ``scale``/``translate`` so grids of different spacing overlay.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .study import Study

LayerData = tuple[Any, dict, str]

# CT windows as (width, level) in HU, the usual radiology presets
WINDOW_PRESETS: dict[str, tuple[float, float]] = {
    "soft_tissue": (400.0, 40.0),
    "lung": (1500.0, -600.0),
    "bone": (1800.0, 400.0),
    "brain": (80.0, 40.0),
}
PET_COLORMAP = "inferno"
PET_OPACITY = 0.6
PET_BLENDING = "additive"


def window_limits(width: float, level: float) -> tuple[float, float]:
    """(low, high) contrast limits of a CT window."""
    return level - width / 2.0, level + width / 2.0


def ct_contrast(preset: str) -> tuple[float, float]:
    """Contrast limits of a named window preset; ValueError names the known presets."""
    try:
        width, level = WINDOW_PRESETS[preset]
    except KeyError:
        raise ValueError(f"unknown CT window {preset!r}; known: {', '.join(WINDOW_PRESETS)}") from None
    return window_limits(width, level)


def pet_contrast(study: Study, suv_range: tuple[float, float]) -> tuple[float, float]:
    """SUV range for SUV data; for stored units (no SUV) 0 .. the 99.9th percentile, never a fake SUV scale."""
    if study.pet_is_suv:
        return float(suv_range[0]), float(suv_range[1])
    high = float(np.percentile(study.pet.data, 99.9)) if study.pet.data.size else 1.0
    return 0.0, high if high > 0 else 1.0


def study_layers(study: Study, ct_window: str = "soft_tissue",
                 suv_range: tuple[float, float] = (0.0, 10.0)) -> list[LayerData]:
    """Layer data for napari: CT (if any) first, then PET blended over it."""
    layers: list[LayerData] = []
    pet_units = "SUV" if study.pet_is_suv else study.pet_units
    common_metadata = {"report": study.report, "warnings": list(study.warnings)}
    if study.ct is not None:
        ct = study.ct
        layers.append((
            ct.data,
            {
                "name": f"{study.name} CT",
                "scale": ct.spacing,
                "translate": ct.origin,
                "colormap": "gray",
                "contrast_limits": ct_contrast(ct_window),
                "blending": "translucent",
                "metadata": {"petground": {"study": study, "role": "ct"}, "units": "HU", **common_metadata},
            },
            "image",
        ))
    pet = study.pet
    layers.append((
        pet.data,
        {
            "name": f"{study.name} PET",
            "scale": pet.spacing,
            "translate": pet.origin,
            "colormap": PET_COLORMAP,
            "contrast_limits": pet_contrast(study, suv_range),
            "opacity": PET_OPACITY if study.ct is not None else 1.0,
            "blending": PET_BLENDING if study.ct is not None else "translucent",
            "metadata": {"petground": {"study": study, "role": "pet"}, "units": pet_units, **common_metadata},
        },
        "image",
    ))
    return layers
