"""A small weak-label dataset to try the review queue on (and to test and benchmark it).

Each case is a torso-like PET/CT (body ellipse, lungs, liver) with spherical lesions of known SUVmax; every
lesion gets a report sentence with its SUVmax and image number, parsed by the report parser so the findings
carry real spans. Weak masks are deliberately imperfect the way real ones are: one is a few voxels too
small (a boundary fix), one sits on the wrong lesion (a move), one sentence matches two lesions
(ambiguous, with candidates), one matches nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..dataset.layout import DatasetItem, DatasetWriter
from ..study.volume import Volume

DEMO_SHAPE = (120, 96, 96)  # PET grid (z, y, x)
DEMO_SPACING = (4.0, 4.0, 4.0)


@dataclass(frozen=True)
class DemoLesion:
    phrase: str  # words before the numbers
    centre: tuple[float, float, float]  # fractions of the grid (z, y, x); x > 0.5 = patient's left (LPS)
    radius_mm: float
    suvmax: float


LESIONS = (
    DemoLesion("Intensely FDG-avid right hilar lymph node", (0.70, 0.50, 0.38), 11.0, 12.3),
    DemoLesion("Left axillary lymph node", (0.74, 0.45, 0.80), 9.0, 6.4),
    DemoLesion("Hypermetabolic liver lesion", (0.55, 0.45, 0.36), 13.0, 8.7),
    DemoLesion("Left adrenal nodule", (0.50, 0.58, 0.62), 8.0, 4.1),
    DemoLesion("Right external iliac lymph node", (0.25, 0.50, 0.36), 8.0, 5.2),
    DemoLesion("Lytic lesion in the left iliac bone", (0.22, 0.55, 0.72), 10.0, 7.5),
)
# a hot spot no sentence describes (bowel uptake) where one weak mask wrongly lands
DISTRACTOR = DemoLesion("", (0.28, 0.40, 0.50), 7.0, 5.2)
# the mirror image of the left adrenal nodule (same SUVmax, same slices): only the side tells them apart
TWIN = DemoLesion("", (0.50, 0.58, 0.38), 8.0, 4.1)


def _sphere(shape, spacing, centre_idx, radius_mm) -> np.ndarray:
    zz, yy, xx = np.ogrid[: shape[0], : shape[1], : shape[2]]
    d2 = sum(((g - c) * s) ** 2 for g, c, s in zip((zz, yy, xx), centre_idx, spacing, strict=True))
    return np.sqrt(d2) / radius_mm


def demo_case(seed: int, shape=DEMO_SHAPE, spacing=DEMO_SPACING, tracer: str = "FDG"):
    """(CT, PET, masks of LESIONS + DISTRACTOR + TWIN, LESIONS) of one synthetic case."""
    rng = np.random.default_rng(seed)
    origin = tuple(-(n * s) / 2 for n, s in zip(shape, spacing, strict=True))
    zz, yy, xx = (np.linspace(-1, 1, n, dtype=np.float32) for n in shape)
    body = (xx[None, None, :] / 0.85) ** 2 + (yy[None, :, None] / 0.7) ** 2 <= 1.0
    body = np.broadcast_to(body, shape)
    lungs = ((np.abs(xx[None, None, :]) - 0.4) / 0.25) ** 2 + (yy[None, :, None] / 0.45) ** 2 <= 1.0
    lungs = lungs & (zz[:, None, None] > 0.15) & (zz[:, None, None] < 0.75)
    liver = (((xx[None, None, :] + 0.35) / 0.4) ** 2 + (yy[None, :, None] / 0.5) ** 2 +
             ((zz[:, None, None] - 0.05) / 0.2) ** 2) <= 1.0
    pet = np.where(body, 1.0, 0.0).astype(np.float32)
    pet[lungs] = 0.4
    pet[liver & body] = 2.2
    pet += rng.normal(0.0, 0.08, shape).astype(np.float32) * body
    ct = np.where(body, 40, -1000).astype(np.int16)
    ct[lungs] = -850
    masks = []
    jitter = rng.uniform(-0.02, 0.02, (len(LESIONS) + 2, 3))
    jitter[-1] = jitter[3] * (1, 1, -1)  # the twin mirrors the adrenal nodule exactly
    for lesion, jit in zip((*LESIONS, DISTRACTOR, TWIN), jitter, strict=True):
        centre = [(c + j) * (n - 1) for c, j, n in zip(lesion.centre, jit, shape, strict=True)]
        r = _sphere(shape, spacing, centre, lesion.radius_mm)
        pet = np.maximum(pet, (lesion.suvmax * np.exp(-1.2 * r ** 2)).astype(np.float32))
        masks.append(r <= 1.0)
    pet = np.clip(pet, 0, None)
    return (Volume(ct, spacing, origin), Volume(pet, spacing, origin), masks, list(LESIONS))


def _finding(sentence: str, tracer: str) -> dict:
    from ..report import extract_findings

    found = extract_findings(sentence, tracer=tracer)
    return found[0].to_dict() if found else {"sentence": sentence}


def make_demo_dataset(root: str | Path, n_cases: int = 2, shape=DEMO_SHAPE, spacing=DEMO_SPACING,
                      tracers: tuple[str, ...] = ("FDG", "PSMA"), seed: int = 0) -> Path:
    """Write ``n_cases`` synthetic cases (6 lesions, 7 sentences each) and finalize the dataset."""
    root = Path(root)
    writer = DatasetWriter(root, name="review-demo", description="synthetic weak labels for the review queue")
    for c in range(n_cases):
        case = f"demo{c + 1:03d}"
        tracer = tracers[c % len(tracers)]
        ct, pet, masks, lesions = demo_case(seed + c, shape, spacing, tracer)
        labels = np.zeros(shape, np.uint16)
        items: list[DatasetItem] = []
        candidates: dict[int, list[np.ndarray]] = {}
        for k, (lesion, mask) in enumerate(zip(lesions, masks[: len(lesions)], strict=True)):
            z = int(np.round(np.nonzero(mask)[0].mean()))
            image = shape[0] - z  # head-first numbering: image 1 is the top slice
            sentence = f"{lesion.phrase}, SUVmax {lesion.suvmax:.1f}, image {image}."
            item = DatasetItem(case, len(items), sentence, _finding(sentence, tracer), "matched", None, tracer)
            weak = mask.copy()
            if k == 2:  # grown too small: needs a boundary fix
                weak = _erode(mask)
                item.flags.append("overlap_trimmed")
            if k == 4:  # matched an undescribed hot spot of the same SUVmax: needs a move
                weak = masks[len(lesions)].copy()
            if k == 3 and c % 2 == 1:  # the pipeline could not tell the nodule from its mirror twin
                twin = masks[-1]
                item.status = "ambiguous"
                item.candidates = [{"suvmax": lesion.suvmax, "voxels": int(mask.sum()), "side": "left"},
                                   {"suvmax": TWIN.suvmax, "voxels": int(twin.sum()), "side": "right"}]
                item.reason = "2 components match SUVmax and image"
                candidates[item.index] = [mask, twin]
                items.append(item)
                continue
            value = int(labels.max()) + 1
            labels[weak & (labels == 0)] = value
            item.label = value
            items.append(item)
        sentence = "Mildly avid right cervical lymph node, SUVmax 3.3, image 12."
        items.append(DatasetItem(case, len(items), sentence, _finding(sentence, tracer), "no_match", None, tracer,
                                 reason="no component with SUVmax 3.3 near image 12"))
        writer.write_case(case, ct, pet, labels, items, candidate_masks=candidates)
    writer.finalize()
    return root


def _erode(mask: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    out = ndimage.binary_erosion(mask)
    return out if out.any() else mask
