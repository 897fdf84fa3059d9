"""Tracer physiology and the PET imaging chain: uptake per structure, blur, noise.

Each tracer has a range of normal SUV per site-map label; one value per structure is drawn per patient,
so background varies between exams as it does between patients. The chain is: true activity (organs plus
lesions with partial-volume occupancy) → Gaussian blur (scanner resolution, ≈6 mm FWHM) → signal-dependent
(Poisson-like) noise. Lesion SUVmax is measured after this chain, as a reader would.
"""

from __future__ import annotations

import numpy as np

from ..errors import PhantomError
from .labels import LABELS, L

TRACER_NAMES = ("FDG", "PSMA", "DOTATATE", "FLUCICLOVINE")

# structures that share one drawn value (the blood pool, paired organs)
_LINKED = {"aorta": "blood", "vein": "blood", "artery": "blood", "kidney_l": "kidney_r", "adrenal_l": "adrenal_r",
           "lung_rml": "lung_rul", "lung_rll": "lung_rul", "lung_lul": "lung_rul", "lung_lll": "lung_rul"}

_COMMON: dict[str, tuple[float, float]] = {
    "air": (0.0, 0.0), "skin": (0.5, 0.7), "fat": (0.2, 0.35), "muscle": (0.5, 0.85), "visceral_fat": (0.3, 0.45),
    "mediastinum": (0.7, 1.0), "lung_rul": (0.35, 0.55), "trachea": (0.1, 0.15), "bronchus": (0.15, 0.2),
    "myocardium": (1.2, 2.0), "blood": (1.5, 2.0), "liver": (1.8, 2.6), "spleen": (1.5, 2.2),
    "kidney_r": (2.5, 4.0), "renal_pelvis": (6.0, 25.0), "adrenal_r": (1.4, 2.0), "pancreas": (1.3, 1.9),
    "stomach": (1.5, 3.0), "small_bowel": (1.2, 2.5), "colon": (1.3, 3.2), "bladder": (8.0, 40.0),
    "prostate": (1.6, 2.2), "uterus": (2.0, 3.5), "esophagus": (1.5, 2.2), "brain": (6.5, 10.0),
    "pituitary": (2.0, 3.0), "parotid": (1.6, 2.6), "submandibular": (1.8, 2.8), "thyroid": (1.2, 1.8),
    "tonsil": (2.5, 5.0), "eye": (0.4, 0.6), "pharynx": (0.2, 0.3), "breast": (0.6, 1.2), "vertebra": (1.4, 2.0),
    "spinal_canal": (0.8, 1.1), "rib": (0.7, 1.0), "sternum": (1.1, 1.5), "other_bone": (0.6, 1.0),
    "pelvic_bone": (1.2, 1.7), "sacrum": (1.3, 1.8), "femur": (0.8, 1.2), "skull": (0.6, 0.9),
    "leg_bone": (0.4, 0.7),
}
# node stations are fat with a little nodal tissue
_NODE_DEFAULT = (0.4, 0.6)

TRACER_UPTAKE: dict[str, dict[str, tuple[float, float]]] = {
    "FDG": {"myocardium": (1.5, 12.0), "node_hilar_r": (1.0, 1.6), "node_mediastinal": (0.8, 1.2)},
    "PSMA": {
        "brain": (0.1, 0.3), "myocardium": (0.8, 1.4), "blood": (1.0, 1.6), "liver": (4.0, 7.5),
        "spleen": (2.5, 5.0), "kidney_r": (15.0, 35.0), "renal_pelvis": (20.0, 45.0), "parotid": (10.0, 20.0),
        "submandibular": (9.0, 18.0), "small_bowel": (2.0, 6.0), "colon": (1.5, 3.0), "bladder": (10.0, 40.0),
        "tonsil": (1.2, 2.0), "thyroid": (0.8, 1.4), "stomach": (1.5, 3.0), "pancreas": (1.0, 1.6),
        "adrenal_r": (1.5, 2.5), "prostate": (1.5, 3.0), "vertebra": (0.8, 1.3), "pelvic_bone": (0.7, 1.1),
        "sacrum": (0.8, 1.2), "muscle": (0.4, 0.6),
    },
    "DOTATATE": {
        "brain": (0.1, 0.2), "myocardium": (0.6, 1.0), "blood": (0.8, 1.3), "liver": (6.0, 12.0),
        "spleen": (15.0, 30.0), "kidney_r": (10.0, 20.0), "renal_pelvis": (10.0, 30.0), "pituitary": (6.0, 15.0),
        "adrenal_r": (10.0, 22.0), "pancreas": (3.0, 8.0), "bladder": (5.0, 30.0), "thyroid": (3.0, 6.0),
        "small_bowel": (2.0, 4.0), "stomach": (2.5, 5.0), "parotid": (1.5, 3.0), "submandibular": (1.5, 3.0),
        "tonsil": (1.0, 2.0), "vertebra": (0.8, 1.3), "pelvic_bone": (0.7, 1.1), "sacrum": (0.8, 1.2),
        "muscle": (0.3, 0.5),
    },
    "FLUCICLOVINE": {
        "brain": (0.3, 0.6), "myocardium": (1.2, 2.0), "blood": (1.6, 2.2), "liver": (6.0, 9.0),
        "pancreas": (8.0, 14.0), "spleen": (2.0, 3.0), "kidney_r": (2.0, 3.5), "renal_pelvis": (2.0, 4.0),
        "bladder": (1.0, 3.0), "vertebra": (3.0, 5.0), "pelvic_bone": (2.5, 4.5), "sacrum": (3.0, 5.0),
        "sternum": (3.0, 5.0), "femur": (1.5, 3.0), "muscle": (1.2, 2.4), "parotid": (2.5, 4.0),
        "submandibular": (2.5, 4.0), "small_bowel": (1.5, 3.0), "stomach": (1.5, 3.0), "tonsil": (1.5, 2.5),
        "prostate": (2.0, 3.0), "thyroid": (1.5, 2.5),
    },
}


def normalise_tracer(tracer: str) -> str:
    """Upper-case tracer key; DCFPyL is the PSMA tracer simulated here."""
    key = tracer.strip().upper()
    if key in ("DCFPYL", "PSMA-11", "PYLARIFY"):
        key = "PSMA"
    if key in ("AXUMIN", "FACBC"):
        key = "FLUCICLOVINE"
    if key not in TRACER_NAMES:
        raise PhantomError(f"unknown tracer {tracer!r}; choose one of {', '.join(TRACER_NAMES)}")
    return key


def draw_uptake(tracer: str, rng: np.random.Generator) -> dict[str, float]:
    """Normal SUV of every structure for one patient (label key -> SUV)."""
    table = TRACER_UPTAKE[normalise_tracer(tracer)]
    out: dict[str, float] = {}
    for key in LABELS:  # fixed order keeps draws deterministic
        if key in _LINKED:
            continue
        lo, hi = table.get(key, _COMMON.get(key, _NODE_DEFAULT))
        out[key] = float(rng.uniform(lo, hi))
    for key, source in _LINKED.items():
        out[key] = out[source]
    return out


def uptake_lut(uptake: dict[str, float]) -> np.ndarray:
    """SUV per label value (length 256, float32)."""
    lut = np.zeros(256, np.float32)
    for key, value in uptake.items():
        lut[L[key]] = value
    return lut


def blur(activity: np.ndarray, spacing: tuple[float, float, float], fwhm_mm: float) -> np.ndarray:
    """Gaussian point-spread blur of ``fwhm_mm`` (scanner resolution), in place when possible."""
    from scipy.ndimage import gaussian_filter

    if fwhm_mm <= 0:
        return activity
    sigma = [fwhm_mm / 2.3548 / s for s in spacing]
    return gaussian_filter(activity, sigma=sigma, mode="nearest", truncate=3.0, output=np.float32)


def add_noise(image: np.ndarray, rng: np.random.Generator, spacing: tuple[float, float, float],
              level: float = 1.0) -> np.ndarray:
    """Signal-dependent noise: σ ∝ √SUV and grows as voxels shrink (fewer counts per voxel)."""
    if level <= 0:
        return image
    voxel_ml = float(np.prod(spacing)) / 1000.0
    c = 0.11 * level * (0.064 / voxel_ml) ** 0.25
    flat = image.reshape(-1)
    idx = np.flatnonzero(flat > np.float32(1e-3))  # noise where there is signal (σ ∝ √SUV)
    values = np.maximum(flat[idx], np.float32(0))
    noise = rng.standard_normal(idx.size, dtype=np.float32)
    noise *= np.sqrt(values)
    noise *= np.float32(c)
    values += noise
    np.maximum(values, np.float32(0), out=values)
    np.maximum(flat, np.float32(0), out=flat)
    flat[idx] = values
    return image


# normal uptake of the structures only version 2 draws (phantom.labels2); others follow their SOURCE label
_COMMON2: dict[str, tuple[float, float]] = {
    "gallbladder": (0.8, 1.4), "ovary_r": (1.5, 2.8), "testis_r": (2.0, 3.2), "bladder_wall": (1.2, 1.8),
    "seminal_vesicle": (1.2, 2.0), "pleura": (0.5, 0.8), "peritoneum": (0.3, 0.5), "omentum": (0.3, 0.45),
    "pericardium": (0.8, 1.2), "nasopharynx": (2.0, 3.5), "larynx": (1.3, 2.0),
}


def draw_uptake2(tracer: str, uptake: dict[str, float], rng: np.random.Generator) -> dict[str, float]:
    """Normal SUV of the version-2 structures for one patient, given the first table's ``uptake``: a part
    takes its whole's value (a vertebral level its vertebra's), new structures are drawn from ``rng``."""
    from .labels2 import SOURCE, TABLE2

    table = TRACER_UPTAKE[normalise_tracer(tracer)]
    out: dict[str, float] = {}
    for label in TABLE2:
        if label.key in SOURCE and SOURCE[label.key] in uptake:
            continue
        lo, hi = table.get(label.key, _COMMON2.get(label.key, _NODE_DEFAULT))
        out[label.key] = float(rng.uniform(lo, hi))
    for key, source in SOURCE.items():
        out[key] = uptake[source] if source in uptake else out[source]
    return out


def uptake_lut2(uptake: dict[str, float]) -> np.ndarray:
    """SUV per label value of version 2 (length 256, float32)."""
    from .labels2 import L2

    lut = np.zeros(256, np.float32)
    for key, value in uptake.items():
        lut[L2[key]] = value
    return lut
