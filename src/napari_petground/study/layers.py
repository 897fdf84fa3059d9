"""A Study as napari layer data: CT in grey with a window preset, PET colour-mapped and blended on top.

Plain tuples ``(data, kwargs, "image")`` so this module needs no napari import; the npe2 reader and the
``petground view`` command both use it, through session.session_layers, which adds the study's session to
each layer's ``metadata["petground"] = {"role"}`` so that docks find it. Physical ``scale``/``translate`` let
grids of different spacing overlay.

The default look is what PET/CT readers are used to: the CT in grey (soft-tissue window) with the PET in hot
metal (dark red, orange, yellow, white) blended over it on a fixed SUV 0-10 scale, so the same colour means the
same SUV in every study. The PET is mixed in ("translucent"), never added: added red over grey CT is pink.
Below 20 % of the SUV window (SUV 2 of 10: fat, muscle, blood pool, marrow) the PET is transparent, so the
body is plain CT (no pastel over white bone) and colour starts with real uptake. Inverted grey shows the PET alone (uptake dark on white), as a
PET is read on its own.
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
# hot metal: transparent up to 20 % of the window, then dark red -> red -> orange -> yellow -> white.
# A napari colormap given as data (colors RGBA, controls 0..1), so this module still imports no napari.
HOT_METAL = {
    "name": "hot metal",
    "controls": [0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
    "colors": [[0.0, 0.0, 0.0, 0.0], [0.45, 0.0, 0.0, 0.0], [0.85, 0.15, 0.0, 1.0], [1.0, 0.55, 0.0, 1.0],
               [1.0, 0.9, 0.3, 1.0], [1.0, 1.0, 1.0, 1.0]],
}
HOT_METAL_OVER_CT = "hot metal over CT"
INVERTED_GREY_PET = "inverted grey PET"
# look name -> PET colormap, blending, opacity, and whether the CT shows under it
PET_LOOKS: dict[str, dict[str, Any]] = {
    HOT_METAL_OVER_CT: {"colormap": HOT_METAL, "blending": "translucent", "opacity": 0.8, "ct_visible": True},
    INVERTED_GREY_PET: {"colormap": "gray_r", "blending": "translucent", "opacity": 1.0, "ct_visible": False},
}
DEFAULT_LOOK = HOT_METAL_OVER_CT
PET_COLORMAP = HOT_METAL
PET_OPACITY = PET_LOOKS[DEFAULT_LOOK]["opacity"]
PET_BLENDING = PET_LOOKS[DEFAULT_LOOK]["blending"]
# SUV windows: a fixed scale (the same colour is the same SUV in every study), or the study's own maximum
SUV_FIXED = "SUV 0-10"
SUV_TO_MAX = "0-SUVmax"
SUV_CUSTOM = "custom"
SUV_WINDOWS = (SUV_FIXED, SUV_TO_MAX, SUV_CUSTOM)
FIXED_SUV_RANGE = (0.0, 10.0)


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


def suv_window(study: Study, choice: str) -> tuple[float, float] | None:
    """PET contrast limits of a window choice (SUV_WINDOWS); None for "custom" (the user's numbers).

    A PET not in SUV gets 0 .. its 99.9th percentile for the fixed scale (an SUV scale would be a lie) and
    0 .. its maximum for the maximum."""
    if choice == SUV_CUSTOM:
        return None
    if choice == SUV_FIXED:
        return pet_contrast(study, FIXED_SUV_RANGE)
    if choice == SUV_TO_MAX:
        finite = study.pet.data[np.isfinite(study.pet.data)] if study.pet.data.size else np.zeros(1)
        high = float(finite.max()) if finite.size else 0.0
        return 0.0, high if high > 0 else 1.0
    raise ValueError(f"unknown SUV window {choice!r}; known: {', '.join(SUV_WINDOWS)}")


def study_layers(study: Study, ct_window: str = "soft_tissue",
                 suv_range: tuple[float, float] = FIXED_SUV_RANGE) -> list[LayerData]:
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
                "metadata": {"petground": {"role": "ct"}, "units": "HU", **common_metadata},
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
            "metadata": {"petground": {"role": "pet"}, "units": pet_units, **common_metadata},
        },
        "image",
    ))
    return layers
