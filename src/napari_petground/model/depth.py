"""Where a sentence points along the body axis, before its mask is ready: a probability over axial position.

The grounding network's probability map already says at which depth the described lesion is; collapsing it
slice by slice gives a distribution over z that is available as soon as the network has answered (before
component selection, number checks, growing and resampling to the PET grid), so the viewer can move to the
right slice at once and show how sure the model is (one peak, two candidate levels, or nothing).

Two collapses (``METHODS``): ``peak`` (the highest probability in each slice, sharpened by a power, so a
small confident node is not outweighed by a large faint organ) and ``mass`` (the probability summed over
each slice). The point estimate is the mode, refined by the centroid of the profile around it.
``depth_from_prior`` gives an earlier profile from the network's location prior alone (the sentence and the
body coordinates, no decoder). ``depth_of_answer`` gives the final one: when the lesion shown in the end lies
at another level than the network pointed (the site check took another region or hot spot), the profile of
the answer itself, so the strip, the view and ``depth_mm`` agree with the mask on screen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..study.study import Study

METHODS = ("peak", "mass")
DEPTH = "depth"  # the "stage" name under which Grounder.iter_ground yields a DepthProfile
DEFAULT_METHOD = "mass"


@dataclass
class DepthProfile:
    """Probability of each axial position (z in mm, LPS: larger is superior) holding the described lesion."""

    z_mm: np.ndarray  # slice centres, ascending
    probability: np.ndarray  # same length, sums to 1
    method: str = DEFAULT_METHOD
    informative: bool = True  # False when the map had no signal (the profile is then flat)

    def __post_init__(self) -> None:
        self.z_mm = np.asarray(self.z_mm, dtype=float)
        self.probability = np.asarray(self.probability, dtype=float)
        if self.z_mm.shape != self.probability.shape or self.z_mm.ndim != 1 or not self.z_mm.size:
            raise ValueError("z_mm and probability must be 1-D arrays of the same, non-zero length")

    @property
    def step_mm(self) -> float:
        return float(np.median(np.diff(self.z_mm))) if self.z_mm.size > 1 else 1.0

    @property
    def mode_mm(self) -> float:
        """Most probable position; the profile is lightly smoothed first so a flat top gives its middle."""
        smooth = np.convolve(self.probability, np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0, mode="same")
        return float(self.z_mm[int(np.argmax(smooth))])

    @property
    def mean_mm(self) -> float:
        return float(np.dot(self.z_mm, self.probability))

    def estimate_mm(self, window_mm: float = 24.0) -> float:
        """Mode refined by the centroid of the probability within ``window_mm`` of it."""
        mode = self.mode_mm
        near = np.abs(self.z_mm - mode) <= window_mm
        weights = self.probability[near]
        if weights.sum() <= 0:
            return mode
        return float(np.dot(self.z_mm[near], weights) / weights.sum())

    def interval(self, mass: float = 0.8) -> tuple[float, float]:
        """Central interval holding ``mass`` of the probability (z mm, low to high)."""
        cdf = np.cumsum(self.probability)
        lo = float(np.interp((1 - mass) / 2, cdf, self.z_mm))
        hi = float(np.interp(1 - (1 - mass) / 2, cdf, self.z_mm))
        return lo, hi

    def peak_share(self, window_mm: float = 24.0) -> float:
        """Probability within ``window_mm`` of the mode: near 1 = one clear level, low = several or none."""
        return float(self.probability[np.abs(self.z_mm - self.mode_mm) <= window_mm].sum())

    def on_slices(self, z_positions: np.ndarray) -> np.ndarray:
        """The profile resampled onto other slice centres (e.g. the PET grid's), renormalised to sum 1."""
        z_positions = np.asarray(z_positions, dtype=float)
        order = np.argsort(z_positions)
        density = self.probability / max(self.step_mm, 1e-6)
        values = np.interp(z_positions[order], self.z_mm, density, left=0.0, right=0.0)
        out = np.zeros_like(z_positions)
        out[order] = values
        total = out.sum()
        return out / total if total > 0 else np.full_like(out, 1.0 / out.size)

    def to_dict(self) -> dict:
        return {"z_mm": self.z_mm.tolist(), "probability": self.probability.tolist(), "method": self.method,
                "informative": self.informative}

    @classmethod
    def from_dict(cls, data: dict) -> DepthProfile:
        return cls(np.asarray(data["z_mm"]), np.asarray(data["probability"]), data.get("method", DEFAULT_METHOD),
                   bool(data.get("informative", True)))


def depth_profile(probability: np.ndarray, z_mm: np.ndarray, *, method: str = DEFAULT_METHOD,
                  power: float = 4.0, smooth_mm: float = 0.0) -> DepthProfile:
    """Collapse a (Z, Y, X) probability map into a DepthProfile; ``z_mm`` gives each z index's position.

    ``power`` sharpens the ``peak`` collapse; ``smooth_mm`` (Gaussian sigma) spreads it along z.
    """
    if method not in METHODS:
        raise ValueError(f"unknown depth method {method!r}; choose one of {', '.join(METHODS)}")
    prob = np.nan_to_num(np.asarray(probability, dtype=np.float32), nan=0.0)
    if prob.ndim != 3:
        raise ValueError(f"expected a (Z, Y, X) probability map, got shape {prob.shape}")
    z_mm = np.asarray(z_mm, dtype=float)
    if z_mm.shape != (prob.shape[0],):
        raise ValueError(f"z_mm has {z_mm.size} positions for {prob.shape[0]} slices")
    prob = np.clip(prob, 0.0, 1.0)
    if method == "peak":
        profile = prob.reshape(prob.shape[0], -1).max(axis=1).astype(float) ** power
    else:
        profile = prob.reshape(prob.shape[0], -1).sum(axis=1).astype(float)
    if smooth_mm > 0 and profile.size > 1:
        from scipy.ndimage import gaussian_filter1d

        step = float(np.median(np.abs(np.diff(z_mm))))
        profile = gaussian_filter1d(profile, smooth_mm / max(step, 1e-6), mode="constant")
    order = np.argsort(z_mm)
    z_sorted, profile = z_mm[order], profile[order]
    total = profile.sum()
    if not np.isfinite(total) or total <= 1e-12:
        return DepthProfile(z_sorted, np.full(z_sorted.size, 1.0 / z_sorted.size), method, informative=False)
    return DepthProfile(z_sorted, profile / total, method)


def pet_z_mm(study: Study) -> np.ndarray:
    """z position (mm) of every PET slice of a study, ascending with the z index."""
    return study.pet.origin[0] + np.arange(study.pet.shape[0]) * study.pet.spacing[0]


def model_z_mm(prepared) -> np.ndarray:
    """z position (mm) of every slice of a model-grid array (napari_petground.model.preprocess.Prepared)."""
    return prepared.origin[0] + np.arange(prepared.shape[0]) * prepared.spacing[0]


def depth_from_prepared(probability: np.ndarray, prepared, **options) -> DepthProfile:
    """DepthProfile of a probability map on the model grid of ``prepared``; the zero padding is left out."""
    prob = np.asarray(probability)
    if prob.ndim == 5:
        prob = prob[0, 0]
    elif prob.ndim == 4:
        prob = prob[0]
    valid = prepared.valid_shape
    prob = prob[: valid[0], : valid[1], : valid[2]]
    return depth_profile(prob, model_z_mm(prepared)[: valid[0]], **options)


def depth_from_logits(logits, prepared, **options) -> DepthProfile:
    """DepthProfile straight from the network's logits (a torch tensor or array on the model grid)."""
    if hasattr(logits, "detach"):
        logits = logits.detach().float().cpu().numpy()
    prob = 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float32)))
    return depth_from_prepared(prob, prepared, **options)


def depth_of_answer(profile: DepthProfile | None, mask: np.ndarray, z_mm: np.ndarray,
                    window_mm: float = 24.0) -> DepthProfile | None:
    """``profile`` when the answer ``mask`` (Z, Y, X, bool) lies at the level it estimates (its centre within
    ``window_mm``) or is empty; otherwise the profile of the mask itself (``mass`` collapse), so where the
    model says the lesion is along the body is where the lesion it shows is."""
    mask = np.asarray(mask, dtype=bool)
    counts = np.count_nonzero(mask.reshape(mask.shape[0], -1), axis=1).astype(float)  # no copy of a whole body
    if not counts.any():
        return profile
    z_mm = np.asarray(z_mm, dtype=float)
    order = np.argsort(z_mm)
    answer = DepthProfile(z_mm[order], counts[order] / counts.sum(), "mass")
    if profile is not None and profile.informative and abs(answer.mean_mm - profile.estimate_mm()) <= window_mm:
        return profile
    return answer


def pet_slice_of(profile: DepthProfile, pet_origin_z: float, pet_spacing_z: float, n_slices: int) -> int:
    """PET z index closest to the profile's estimate (clipped to the volume)."""
    index = int(round((profile.estimate_mm() - pet_origin_z) / pet_spacing_z))
    return int(np.clip(index, 0, n_slices - 1))


def depth_for_sentence(network, skips, tokens: np.ndarray, mask: np.ndarray, prepared, **options) -> DepthProfile:
    """Decode one sentence over cached encoder outputs of a whole study and collapse it to a DepthProfile.

    ``skips``: the encoder's outputs (torch tensors or (C, z, y, x) arrays); ``tokens`` (L, D) and ``mask``
    (L,) from the text encoder. Used where no Grounder is at hand (benchmarks, tools).
    """
    import torch

    skips = [s if hasattr(s, "detach") else torch.from_numpy(np.asarray(s))[None] for s in skips]
    with torch.inference_mode():
        logits = network.decode(skips, torch.from_numpy(np.asarray(tokens, np.float32))[None],
                                torch.from_numpy(np.asarray(mask, bool))[None])
    return depth_from_logits(logits, prepared, **options)


def location_weights(network, tokens, mask, prepared) -> np.ndarray | None:
    """The network's location prior on the model grid of ``prepared``, as relative weights (1 where it points
    most, 0 in the padding); None when the network has no prior or the input no coordinate channels.

    The prior reads only the sentence and the body coordinates, so this exists as soon as the text is encoded.
    Its logits are a softmax over the body's voxels (how the prior is trained, see model.location_train).
    """
    import torch

    prior = getattr(network, "location", None)
    if prior is None or prepared.image.shape[0] < 3:
        return None
    tokens = tokens if hasattr(tokens, "detach") else torch.from_numpy(np.asarray(tokens, np.float32))
    mask = mask if hasattr(mask, "detach") else torch.from_numpy(np.asarray(mask, bool))
    if tokens.dim() == 2:
        tokens, mask = tokens[None], mask[None]
    valid = prepared.valid_shape
    positions = torch.from_numpy(np.ascontiguousarray(
        prepared.image[None, 2:, : valid[0], : valid[1], : valid[2]])).to(tokens.device)
    dtype = next(prior.parameters()).dtype
    with torch.inference_mode():
        logits = prior(tokens.to(dtype), mask, positions.to(dtype))[0, 0].float().cpu().numpy()
    weights = np.zeros(prepared.shape, np.float32)
    weights[: valid[0], : valid[1], : valid[2]] = np.exp(logits - logits.max())
    return weights


def depth_from_prior(network, tokens, mask, prepared) -> DepthProfile | None:
    """DepthProfile from the network's location prior alone (None if it has none): available before the
    decoder runs (see ``location_weights``)."""
    weights = location_weights(network, tokens, mask, prepared)
    if weights is None:
        return None
    valid = prepared.valid_shape
    profile = weights[: valid[0]].reshape(valid[0], -1).sum(axis=1)
    z_mm = model_z_mm(prepared)[: valid[0]]
    order = np.argsort(z_mm)
    return DepthProfile(z_mm[order], profile[order] / profile.sum(), "prior")
