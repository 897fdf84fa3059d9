"""Lesion-level metrics as the ConTEXTual Net 3D paper counts them.

Per sentence: threshold the probability at 0.5, take 26-connected components, keep the single component
with the highest mean probability, and compare it with the described lesion. Three F1 variants:
``overlap`` (the kept component touches the lesion), ``dice`` (Dice > 0.5) and ``suvmax`` (it touches the
lesion and its SUVmax is within 0.1 of the lesion's). A kept component that does not count is a false
positive and the lesion a false negative; no component is a false negative. F1 = TP / (TP + (FP + FN) / 2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VARIANTS = ("overlap", "dice", "suvmax")
STRUCTURE_26 = np.ones((3, 3, 3), bool)


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, other: Counts) -> None:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn

    @property
    def f1(self) -> float:
        denominator = self.tp + 0.5 * (self.fp + self.fn)
        return float(self.tp / denominator) if denominator else float("nan")

    @property
    def n(self) -> int:
        return self.tp + self.fn


def components(probability: np.ndarray, threshold: float = 0.5) -> tuple[np.ndarray, int]:
    """26-connected components of ``probability > threshold`` (labels, count)."""
    from scipy.ndimage import label

    labels, count = label(probability > threshold, structure=STRUCTURE_26)
    return labels, int(count)


def most_confident_component(probability: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Mask of the component with the highest mean probability (empty when nothing passes the threshold)."""
    from scipy.ndimage import mean as label_mean

    labels, count = components(probability, threshold)
    if count == 0:
        return np.zeros(probability.shape, bool)
    means = np.asarray(label_mean(probability, labels, index=np.arange(1, count + 1)))
    return labels == int(np.argmax(means)) + 1


def dice(a: np.ndarray, b: np.ndarray) -> float:
    a = a.astype(bool)
    b = b.astype(bool)
    total = int(a.sum()) + int(b.sum())
    return 2.0 * int(np.logical_and(a, b).sum()) / total if total else 1.0


def lesion_counts(predicted: np.ndarray, truth: np.ndarray, pet: np.ndarray | None = None,
                  suv_tolerance: float = 0.1) -> dict[str, Counts]:
    """TP/FP/FN of one sentence for each variant; ``predicted`` is the single kept component."""
    predicted = predicted.astype(bool)
    truth = truth.astype(bool)
    found = bool(predicted.any())
    touches = found and bool(np.logical_and(predicted, truth).any())
    good = {"overlap": touches, "dice": found and dice(predicted, truth) > 0.5}
    if pet is not None:
        good["suvmax"] = touches and abs(float(pet[predicted].max()) - float(pet[truth].max())) <= suv_tolerance + 1e-6
    out = {}
    for name, ok in good.items():
        out[name] = Counts(1, 0, 0) if ok else Counts(0, int(found), 1)
    return out
