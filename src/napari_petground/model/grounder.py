"""Inference: a study and a sentence in, the described lesion's mask on the PET grid out.

``Grounder.iter_ground`` is a generator yielding (stage, fraction) for "text", "preprocessing", "inference"
and "post-processing" and returning a ``Grounding``, so a viewer can show progress and cancel at any yield.
It also yields ("depth", DepthProfile), where along the body the sentence points, twice: from the
network's location prior as soon as the text is encoded and the study prepared (before the decoder runs),
and from the network's answer right after inference (before the slower selection and resampling), so a
viewer can move there before the mask is ready.
The preprocessed study and the encoder features of every window are cached per study (keyed by a hash of
its arrays): a second sentence on the same study reruns only the decoder. Volumes larger than the network
input are processed in overlapping windows blended with Gaussian weights.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ModelError
from ..report.finding import Finding
from .depth import DEPTH, depth_from_prepared, depth_from_prior, location_weights
from .select import select_lesion

Progress = tuple[str, object]  # (stage, fraction) or (DEPTH, DepthProfile)
STAGES = ("text", "preprocessing", "inference", "post-processing")


@dataclass
class Grounding:
    """The answer for one sentence: probability and chosen mask on the PET grid, the regions and why."""

    sentence: str
    finding: Finding | None
    probability: np.ndarray  # float32, PET grid
    mask: np.ndarray  # bool, PET grid: the chosen lesion
    components: list  # weaklabel ComponentStats of the candidate regions (SUVmax, SUVmean, ml, TLG, images)
    chosen: int | None
    agreement: object | None  # weaklabel Agreement (messages: "SUVmax in mask 12.1 vs stated 12.3 …")
    method: str = "network"
    flags: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    cached_study: bool = False
    depth: object | None = None  # model.depth.DepthProfile of the network's answer along the body axis
    description: object | None = None  # model.describe.Description of the chosen mask (site, side, sentence)
    consistency: tuple[bool, str] | None = None  # does the sentence's site and side fit the description?

    @property
    def agreement_text(self) -> str:
        return "; ".join(str(m) for m in (getattr(self.agreement, "messages", None) or []))

    @property
    def chosen_stats(self):
        return self.components[self.chosen] if self.chosen is not None else None

    def summary(self) -> dict:
        """JSON-ready description (no arrays)."""
        stats = self.chosen_stats
        return {
            "sentence": self.sentence, "finding": self.finding.to_dict() if self.finding else None,
            "method": self.method, "chosen": self.chosen, "agreement": self.agreement_text, "flags": self.flags,
            "lesion": stats.to_dict() if stats is not None else None,
            "components": [c.to_dict() for c in self.components], "timings": self.timings,
            "depth_mm": round(self.depth.estimate_mm(), 1) if self.depth is not None else None,
            "described": self.description.phrase if self.description is not None else None,
            "consistency": list(self.consistency) if self.consistency is not None else None,
            "mask_voxels": int(self.mask.sum()),
        }

    def describe(self) -> str:
        stats = self.chosen_stats
        if stats is None:
            return f"no lesion found for {self.sentence!r}" + (f" ({'; '.join(self.flags)})" if self.flags else "")
        lo, hi = stats.image_range
        lines = [
            f"lesion ({self.method}): SUVmax {stats.suvmax:.2f}, SUVmean {stats.suvmean:.2f}, "
            f"{stats.volume_ml:.1f} ml, TLG {stats.tlg:.1f}, images {lo}–{hi}, {stats.side}",
        ]
        if self.agreement_text:
            lines.append(f"agreement: {self.agreement_text}")
        if self.consistency is not None:
            lines.append(f"site: {'✓' if self.consistency[0] else '⚠'} {self.consistency[1]}")
        lines += [f"note: {f}" for f in self.flags]
        lines.append(f"{len(self.components)} candidate region(s); " +
                     ", ".join(f"{k} {v:.2f}s" for k, v in self.timings.items()))
        return "\n".join(lines)


def study_key(study) -> str:
    """Hash of the study's PET and CT arrays and grids: the cache key of its preprocessed input."""
    digest = hashlib.blake2b(digest_size=16)
    for volume in (study.pet, study.ct):
        if volume is None:
            digest.update(b"none")
            continue
        data = np.ascontiguousarray(volume.data)
        digest.update(repr((data.shape, str(data.dtype), volume.spacing, volume.origin)).encode())
        digest.update(memoryview(data).cast("B"))
    return digest.hexdigest()


def window_starts(size: int, patch: int, overlap: float) -> list[int]:
    """Start positions of windows of ``patch`` covering ``size`` with about ``overlap`` between neighbours."""
    if size <= patch:
        return [0]
    step = max(1, int(patch * (1.0 - overlap)))
    n = int(np.ceil((size - patch) / step)) + 1
    return sorted({int(round(v)) for v in np.linspace(0, size - patch, n)})


def gaussian_weights(shape: tuple[int, ...], sigma_scale: float = 0.125) -> np.ndarray:
    """Importance map that trusts window centres more than borders (nnU-Net's sliding-window blend)."""
    from scipy.ndimage import gaussian_filter

    impulse = np.zeros(shape, np.float32)
    impulse[tuple(s // 2 for s in shape)] = 1.0
    weights = gaussian_filter(impulse, [s * sigma_scale for s in shape], mode="constant")
    weights /= weights.max()
    return np.maximum(weights, 1e-3).astype(np.float32)


class Grounder:
    """A loaded checkpoint with its text encoder, ready to ground sentences on studies."""

    def __init__(self, network, config, encoder, device: str, source: Path | None = None,
                 cache_studies: int = 2) -> None:
        self.network = network
        self.config = config
        self.encoder = encoder
        self.device = device
        self.source = source
        self._cache: OrderedDict[str, tuple] = OrderedDict()
        self._cache_studies = cache_studies

    @classmethod
    def from_checkpoint(cls, path: str | Path | None = None, device: str = "auto",
                        encoder: str | Path | None = None) -> Grounder:
        """Load a checkpoint folder (None = the shipped demo); ``encoder`` overrides the encoder folder."""
        from .checkpoint import check_encoder, load_checkpoint, shipped_checkpoint
        from .text import TextEncoder
        from .train import resolve_device

        folder = Path(path) if path else shipped_checkpoint("demo")
        device = resolve_device(device)
        network, config = load_checkpoint(folder, device)
        text_encoder = None
        if network.uses_text:
            if encoder is not None:
                config.text.name = str(encoder)
            text_encoder = TextEncoder(config.text, device=device)
            check_encoder(config, text_encoder.dim, text_encoder.fingerprint())
        return cls(network, config, text_encoder, device, folder)

    # -- caching -------------------------------------------------------------------------------------------

    def _study_features(self, study) -> tuple[object, list, bool]:
        """(Prepared, [(window slices, encoder skips)], cached?) for a study."""
        import torch

        from .preprocess import preprocess

        key = study_key(study)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit[0], hit[1], True
        prepared = preprocess(study.pet, study.ct, self.config.preprocess, self.config.network.total_stride)
        patch = tuple(min(p, s) for p, s in zip(self.config.preprocess.patch_size, prepared.shape, strict=True))
        starts = [window_starts(s, p, self.config.preprocess.sliding_overlap)
                  for s, p in zip(prepared.shape, patch, strict=True)]
        windows = []
        image = torch.from_numpy(prepared.image[None])
        with torch.inference_mode(), self._autocast():
            for z in starts[0]:
                for y in starts[1]:
                    for x in starts[2]:
                        box = (slice(z, z + patch[0]), slice(y, y + patch[1]), slice(x, x + patch[2]))
                        skips = self.network.encode(image[(slice(None), slice(None), *box)].to(self.device))
                        windows.append((box, skips))
        self._cache[key] = (prepared, windows)
        while len(self._cache) > self._cache_studies:
            self._cache.popitem(last=False)
        return prepared, windows, False

    def clear_cache(self) -> None:
        self._cache.clear()

    def _autocast(self):
        import contextlib

        import torch

        if str(self.device).startswith("cuda"):
            return torch.autocast("cuda", dtype=torch.float16)
        return contextlib.nullcontext()

    # -- grounding -----------------------------------------------------------------------------------------

    def iter_ground(self, study, sentence: str) -> Generator[Progress, None, Grounding]:
        """Yield (stage, fraction) while grounding; return the Grounding (see module docstring)."""
        try:
            return (yield from self._iter_ground(study, sentence))
        except Exception as exc:
            if _is_oom(exc):
                raise ModelError(
                    f"out of memory on {self.device} while grounding; close other programs, use device='cpu' "
                    "(system memory is usually larger), or crop the study to the region of interest"
                ) from exc
            raise

    def ground(self, study, sentence: str) -> Grounding:
        generator = self.iter_ground(study, sentence)
        while True:
            try:
                next(generator)
            except StopIteration as stop:
                return stop.value

    def describe(self, study, mask: np.ndarray):
        """Site, side, numbers and a drafted sentence for a lesion mask on the PET grid (model.describe)."""
        from .describe import describe_lesion

        return describe_lesion(self, study, mask)

    def probability(self, study, sentence: str | None) -> np.ndarray:
        """The network's probability map on the PET grid (no selection); ``sentence`` None for blind models."""
        generator = self._probability(study, sentence, {})
        while True:
            try:
                next(generator)
            except StopIteration as stop:
                return stop.value[0]

    def location_map(self, study, sentence: str) -> np.ndarray | None:
        """Where the network's location prior says the sentence points, on the PET grid (relative weights,
        1 at its peak); None for a network without a prior. Cheap after a grounding: text and study cached."""
        import torch

        if not self.network.uses_text or getattr(self.network, "location", None) is None:
            return None
        emb, m = self.encoder.encode(sentence)
        prepared, _windows, _cached = self._study_features(study)
        weights = location_weights(self.network, torch.from_numpy(emb).to(self.device),
                                   torch.from_numpy(m).to(self.device), prepared)
        return None if weights is None else prepared.to_pet_grid(weights, interpolation="linear")

    def _iter_ground(self, study, sentence: str) -> Generator[Progress, None, Grounding]:
        from ..report import extract_findings

        if not sentence or not sentence.strip():
            raise ModelError("the sentence is empty; type or pick a report sentence describing one lesion")
        if study.pet is None:
            raise ModelError("the study has no PET; load a PET/CT study first")
        timings: dict[str, float] = {}
        started = time.perf_counter()
        yield ("text", 0.0)
        findings = extract_findings(sentence, tracer=study.tracer)
        finding = findings[0] if findings else None
        probability, cached, depth = yield from self._probability(study, sentence, timings)
        yield ("post-processing", 0.0)
        t = time.perf_counter()
        selection = select_lesion(probability, study, finding, pointed=lambda: self.location_map(study, sentence))
        flags = list(selection.flags)
        if len(findings) > 1:
            flags.append(f"the sentence describes {len(findings)} findings; grounded the first")
        if not study.pet_is_suv:
            flags.append(f"PET is in {study.pet_units}, not SUV: the model expects SUV")
        timings["post-processing"] = time.perf_counter() - t
        yield ("post-processing", 0.8)
        t = time.perf_counter()
        description, consistency = self._check_site(study, selection.mask, finding)
        timings["describe"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - started
        yield ("post-processing", 1.0)
        return Grounding(sentence, finding, probability, selection.mask, selection.components, selection.chosen,
                         selection.agreement, selection.method, flags, timings, cached, depth, description,
                         consistency)

    def _check_site(self, study, mask: np.ndarray, finding: Finding | None):
        """(Description, (ok, reason)) of the chosen mask against the sentence's site and side; (None, None)
        when there is nothing to check or the description fails (grounding never fails because of it)."""
        import logging

        from .describe import compare_description

        if finding is None or mask is None or not mask.any() or not (finding.site or finding.laterality):
            return None, None
        try:
            description = self.describe(study, mask)
        except Exception:  # a describe failure must not lose the grounding
            logging.getLogger(__name__).warning("could not describe the grounded lesion", exc_info=True)
            return None, None
        return description, compare_description(finding, description)

    def _probability(self, study, sentence: str | None, timings: dict):
        import torch

        t = time.perf_counter()
        tokens = mask = None
        if self.network.uses_text:
            if sentence is None:
                raise ModelError("this checkpoint reads the sentence; give one")
            emb, m = self.encoder.encode(sentence)
            tokens = torch.from_numpy(emb[None]).to(self.device)
            mask = torch.from_numpy(m[None]).to(self.device)
        timings["text"] = time.perf_counter() - t
        yield ("text", 1.0)
        yield ("preprocessing", 0.0)
        t = time.perf_counter()
        prepared, windows, cached = self._study_features(study)
        timings["preprocessing"] = time.perf_counter() - t
        yield ("preprocessing", 1.0)
        if tokens is not None:
            early = depth_from_prior(self.network, tokens, mask, prepared)
            if early is not None:  # the sentence alone, before the decoder: the strip fills at once
                yield (DEPTH, early)
        t = time.perf_counter()
        total = np.zeros(prepared.shape, np.float32)
        weight = np.zeros(prepared.shape, np.float32)
        importance = None
        for i, (box, skips) in enumerate(windows):
            yield ("inference", i / len(windows))
            with torch.inference_mode(), self._autocast():
                logits = self.network.decode(skips, tokens, mask)
            prob = torch.sigmoid(logits.float())[0, 0].cpu().numpy()
            if len(windows) == 1:
                total, weight = prob, np.ones_like(prob)
                break
            if importance is None:
                importance = gaussian_weights(prob.shape)
            total[box] += prob * importance
            weight[box] += importance
        yield ("inference", 1.0)
        model_prob = total / np.maximum(weight, 1e-6)
        timings["inference"] = time.perf_counter() - t
        depth = depth_from_prepared(model_prob, prepared)
        yield (DEPTH, depth)
        t = time.perf_counter()
        # nearest, not linear: each PET voxel takes the probability of the model voxel it lies in. Linear
        # interpolation averages a one-voxel answer (a small lesion at 8 mm) with its neighbours and drops
        # a confident p = 0.7 below the 0.5 threshold (validation phantoms: overlap F1 0.745 -> 0.837)
        probability = prepared.to_pet_grid(model_prob, interpolation="nearest").astype(np.float32)
        timings["resampling"] = time.perf_counter() - t
        return probability, cached, depth


def _is_oom(exc: BaseException) -> bool:
    import torch

    oom = getattr(torch, "OutOfMemoryError", None)
    if oom is not None and isinstance(exc, oom):
        return True
    return isinstance(exc, (RuntimeError, MemoryError)) and (
        isinstance(exc, MemoryError) or "out of memory" in str(exc).lower()
    )
