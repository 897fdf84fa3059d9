"""A study's encoder features: preprocessed once, encoded once per checkpoint, shared by grounding and describing.

The grounding network's encoder does not read the sentence, so its output for a study is computed once and
kept (in the study's :class:`~napari_petground.session.StudySession`): every further sentence only runs the
decoder, and the describer pools the same features. Volumes larger than the network input are encoded in
overlapping windows, as the network was trained; the describer sees them stitched into whole-volume maps,
each voxel taken from the window whose centre is nearest (:meth:`StudyFeatures.levels`), the same maps it is
trained on.

Features can also be kept on disk (:class:`FeatureFolder`), keyed by the study's signature and the
checkpoint, so reopening a study does not encode it again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..atomic import atomic_write

if TYPE_CHECKING:
    from ..study.study import Study
    from .preprocess import Prepared

Box = tuple[slice, slice, slice]
FEATURES_VERSION = 1


def window_starts(size: int, patch: int, overlap: float) -> list[int]:
    """Start positions of windows of ``patch`` covering ``size`` with about ``overlap`` between neighbours."""
    if size <= patch:
        return [0]
    step = max(1, int(patch * (1.0 - overlap)))
    n = int(np.ceil((size - patch) / step)) + 1
    return sorted({int(round(v)) for v in np.linspace(0, size - patch, n)})


def window_boxes(shape: tuple[int, ...], patch_size: tuple[int, ...], overlap: float) -> list[Box]:
    """The network-input windows that cover a model-grid volume of ``shape``."""
    patch = tuple(min(p, s) for p, s in zip(patch_size, shape, strict=True))
    starts = [window_starts(s, p, overlap) for s, p in zip(shape, patch, strict=True)]
    return [(slice(z, z + patch[0]), slice(y, y + patch[1]), slice(x, x + patch[2]))
            for z in starts[0] for y in starts[1] for x in starts[2]]


def checkpoint_id(folder: str | Path | None, weights: str = "weights.safetensors") -> str:
    """A short hash of a checkpoint's weights: the same weights give the same features whatever the folder."""
    if folder is None:
        return "memory"
    path = Path(folder) / weights
    digest = hashlib.blake2b(digest_size=8)
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        digest.update(str(Path(folder).resolve()).encode())
    return digest.hexdigest()


def network_device(network) -> str:
    """The device the network's weights are on ("cpu" for a network without weights)."""
    for parameter in network.parameters():
        return str(parameter.device)
    return "cpu"


@dataclass
class StudyFeatures:
    """The preprocessed study and the encoder's output for each window, on the network's device."""

    prepared: Prepared
    windows: list[tuple[Box, list]]  # (window on the model grid, EncodedImage: torch skips, deepest last)
    checkpoint: str = ""
    loaded: bool = False  # read from a FeatureFolder rather than computed
    _levels: list[np.ndarray] | None = field(default=None, repr=False)
    _encoded: dict = field(default_factory=dict, repr=False)

    def levels(self) -> list[np.ndarray]:
        """Every encoder stage over the whole volume (numpy, (C, z, y, x)), stitched from the windows: each
        voxel comes from the window whose centre is nearest. Made once."""
        if self._levels is None:
            self._levels = stitch_windows(self.prepared.shape, self.windows)
        return self._levels

    def encoded(self, spec):
        """The describer's view (model.describe_features.EncodedStudy) of these features, made once per spec."""
        from .describe_features import EncodedStudy, body_frame

        key = repr(spec)
        if key not in self._encoded:
            p = self.prepared
            image = np.asarray(p.image, np.float32)
            self._encoded[key] = EncodedStudy(image, [image, *self.levels()], tuple(p.spacing), tuple(p.origin),
                                              body_frame(image, p.spacing, p.origin, spec.body_level), p)
        return self._encoded[key]


def _owned(starts: list[int], patch: int, size: int, align: int) -> dict[int, tuple[int, int]]:
    """For windows starting at ``starts``: the part [lo, hi) of the axis each one is nearest the centre of."""
    centres = [s + patch / 2 for s in starts]
    cuts = [int(round((a + b) / 2 / align)) * align for a, b in zip(centres, centres[1:], strict=False)]
    bounds = [0, *cuts, size]
    return {s: (bounds[i], bounds[i + 1]) for i, s in enumerate(starts)}


def stitch_windows(shape: tuple[int, int, int], windows: list[tuple[Box, list]]) -> list[np.ndarray]:
    """Whole-volume encoder maps from per-window outputs (nearest window centre wins, cut on the coarsest grid)."""
    first_box, first = windows[0]
    sizes = [b.stop - b.start for b in first_box]
    strides = [[sizes[a] // level.shape[2 + a] for a in range(3)] for level in first]
    align = max(max(s) for s in strides)
    owned = []
    for axis in range(3):
        starts = sorted({box[axis].start for box, _ in windows})
        owned.append(_owned(starts, sizes[axis], shape[axis], align))
    out = [np.zeros((lv.shape[1], *(shape[a] // st[a] for a in range(3))), np.float32)
           for lv, st in zip(first, strides, strict=True)]
    for box, skips in windows:
        spans = [owned[a][box[a].start] for a in range(3)]
        for level, target, st in zip(skips, out, strides, strict=True):
            values = level[0].float().cpu().numpy()
            dst = tuple(slice(lo // st[a], hi // st[a]) for a, (lo, hi) in enumerate(spans))
            src = tuple(slice((lo - box[a].start) // st[a], (hi - box[a].start) // st[a])
                        for a, (lo, hi) in enumerate(spans))
            target[(slice(None), *dst)] = values[(slice(None), *src)]
    return out


def encode_prepared(network, prepared: Prepared, patch_size, overlap: float, device: str | None = None,
                    autocast=None) -> list[tuple[Box, list]]:
    """The encoder over every window of ``prepared``, the input moved to the network's device first."""
    import contextlib

    import torch

    from .decoding import to_device

    device = device or network_device(network)
    image = torch.from_numpy(np.ascontiguousarray(prepared.image, np.float32)[None])
    windows = []
    with torch.inference_mode(), (autocast or contextlib.nullcontext()):
        for box in window_boxes(prepared.shape, tuple(patch_size), overlap):
            windows.append((box, network.encode(to_device(image[(slice(None), slice(None), *box)], device))))
    return windows


def encode_study(network, config, study: Study, device: str | None = None, autocast=None,
                 checkpoint: str = "") -> StudyFeatures:
    """Preprocess ``study`` as training did and run the encoder over it (the slow part of grounding)."""
    from .preprocess import preprocess

    prepared = preprocess(study.pet, study.ct, config.preprocess, config.network.total_stride)
    windows = encode_prepared(network, prepared, config.preprocess.patch_size, config.preprocess.sliding_overlap,
                              device, autocast)
    return StudyFeatures(prepared, windows, checkpoint)


class FeatureFolder:
    """Encoder features on disk, one file per (study signature, checkpoint): a reopened study is not encoded
    again. Files are written atomically; one that cannot be read is ignored (and encoded again)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def path(self, signature: str, checkpoint: str) -> Path:
        return self.folder / f"{signature}-{checkpoint}.npz"

    def load(self, signature: str, checkpoint: str, network, device: str) -> StudyFeatures | None:
        """The stored features on ``device`` (with the coordinate channels the network's gates read), or None."""
        import torch

        from ..study.resample import Grid
        from .decoding import to_device
        from .network import EncodedImage
        from .preprocess import Prepared

        path = self.path(signature, checkpoint)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                if meta.get("version") != FEATURES_VERSION:
                    return None
                arrays = {k: data[k] for k in data.files if k != "meta"}
            grid = meta["pet_grid"]
            prepared = Prepared(arrays["image"], tuple(meta["spacing"]), tuple(meta["origin"]),
                                tuple(meta["valid_shape"]),
                                Grid(tuple(grid["shape"]), tuple(grid["spacing"]), tuple(grid["origin"])),
                                tuple(meta["body_centre_mm"]), tuple(slice(a, b) for a, b in meta["crop"]))
            n_coords = int(getattr(network, "n_coords", 0))
            windows = []
            for i, box_bounds in enumerate(meta["boxes"]):
                box = tuple(slice(a, b) for a, b in box_bounds)
                skips = EncodedImage(to_device(torch.from_numpy(arrays[f"w{i}_{j}"].astype(np.float32)), device)
                                     for j in range(meta["levels"]))
                if n_coords:
                    positions = prepared.image[(slice(2, 2 + n_coords), *box)][None]
                    skips.positions = to_device(torch.from_numpy(np.ascontiguousarray(positions)), device)
                windows.append((box, skips))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            import logging

            logging.getLogger(__name__).info("stored features %s not used: %s", path.name, exc)
            return None
        return StudyFeatures(prepared, windows, checkpoint, loaded=True)

    def save(self, signature: str, features: StudyFeatures) -> Path:
        """Store ``features`` (as float16 on disk: the size of the study's PET, about)."""
        p = features.prepared
        meta = {"version": FEATURES_VERSION, "spacing": list(p.spacing), "origin": list(p.origin),
                "valid_shape": list(p.valid_shape), "body_centre_mm": list(p.body_centre_mm),
                "crop": [[s.start, s.stop] for s in p.crop],
                "pet_grid": {"shape": list(p.pet_grid.shape), "spacing": list(p.pet_grid.spacing),
                             "origin": list(p.pet_grid.origin)},
                "boxes": [[[s.start, s.stop] for s in box] for box, _ in features.windows],
                "levels": len(features.windows[0][1])}
        arrays = {"image": np.asarray(p.image, np.float32)}
        for i, (_box, skips) in enumerate(features.windows):
            for j, level in enumerate(skips):
                arrays[f"w{i}_{j}"] = level.detach().float().cpu().numpy().astype(np.float16)
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.path(signature, features.checkpoint)
        return atomic_write(path, lambda tmp: np.savez(tmp, meta=np.array(json.dumps(meta)), **arrays))
