"""What the describer sees of a lesion: grounding-encoder features pooled over the lesion and around it,
plus where it sits relative to the body.

The grounding network's encoder is text-independent, so it runs once per study and is cached; a lesion
then costs a masked average per encoder stage (inside the mask and in a shell around it: the lesion and its
anatomical neighbourhood), a few normalised position numbers (side and distance from the body midline,
front/back, level below the top of the body, body width at that level) and the lesion's size. Everything
is computed on the model grid from the same preprocessing as grounding, for training and for describing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..study.grid import bounding_box

N_POSITION = 16
N_TISSUE = 9
# what a describe head reads of these features. "all": every feature (the encoder's pooled maps overfit on a
# fine vocabulary); "tabular": PET maximum, tissue and position (with field-free positions, FeatureSpec
# version 2, nothing says where along the body); "anatomy": tabular plus the model input pooled inside and
# around the lesion (PET, CT and the coordinate channels: for an anatomical checkpoint, where along the body
# the lesion lies, read from the landmarks)
INPUTS = ("all", "tabular", "anatomy")


@dataclass(frozen=True)
class FeatureSpec:
    """How lesion features are pooled (stored with the describe head so describing pools the same way)."""

    shell_voxels: int = 2  # shell width around the lesion on the model grid
    body_level: float = 0.02  # PET channel (0..1) above this is body: 0.2 SUV in the default 0..10 window
    # 1: positions also relative to the top and bottom of the body in the image and to the lungs' extent in it;
    # 2: only what does not move with the field of view (distance from the midline, front-back, body size at
    # that level); where along the body comes from the pooled coordinate channels, anatomical for networks
    # trained with coord_frame "anatomy"
    version: int = 1
    # channels of the model input, the first pooled level (PET, CT, coordinate channels): a head reading
    # "anatomy" inputs finds the lesion's anatomical coordinates there (0: not recorded, older heads)
    input_channels: int = 0
    # numbers read from the CT at the PET grid's resolution (model.describe_tissue), placed before the PET
    # maximum; 0: none (heads trained before them, or on cached exams, which keep only the model grid)
    native_tissue: int = 0

    @classmethod
    def for_config(cls, config, body_level: float = 0.02, native: bool = True) -> FeatureSpec:
        """The features a new head for this checkpoint should use: version 2 when its coordinates are anatomical;
        with ``native`` (a study on its PET grid at hand for every lesion) the CT read at the PET grid's resolution."""
        from .describe_tissue import N_NATIVE

        anatomical = getattr(config.preprocess, "coord_frame", "box") == "anatomy"
        return cls(body_level=body_level, version=2 if anatomical else 1,
                   input_channels=int(config.preprocess.in_channels), native_tissue=N_NATIVE if native else 0)

    @property
    def n_tabular(self) -> int:
        """The last features, which every describe head may read: CT at the PET grid's resolution (when kept),
        PET maximum, tissue around the lesion on the model grid, position."""
        return self.native_tissue + 1 + N_TISSUE + N_POSITION

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> FeatureSpec:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass
class BodyFrame:
    """The body's outline on the model grid, measured once per study: the reference for positions."""

    midline_x: float  # mm
    top_z: float  # mm of the most superior body slice
    bottom_z: float
    centre_y: np.ndarray  # (Z,) mm, per slice
    half_width: np.ndarray  # (Z,) mm, per slice (x)
    half_depth: np.ndarray  # (Z,) mm, per slice (y)
    lung_top: float | None = None  # mm of the most superior / inferior slice with lung (None without CT)
    lung_bottom: float | None = None


@dataclass
class EncodedStudy:
    """A study's model-grid input and its cached encoder outputs (numpy, (C, z, y, x) per level)."""

    image: np.ndarray  # (C, Z, Y, X) model input
    levels: list[np.ndarray]  # the input itself, then every encoder stage
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    body: BodyFrame
    prepared: object | None = None  # model.preprocess.Prepared, when built from a study


def body_frame(image: np.ndarray, spacing, origin, body_level: float) -> BodyFrame:
    """Midline (weaklabel.components.midline_of, the rule the study's midline follows) and slice outlines."""
    from ..weaklabel.components import midline_of

    body = image[0] > body_level
    z = origin[0] + np.arange(body.shape[0]) * spacing[0]
    y = origin[1] + np.arange(body.shape[1]) * spacing[1]
    x = origin[2] + np.arange(body.shape[2]) * spacing[2]
    midline = midline_of(body, x)
    midline = float(x.mean()) if midline is None else midline
    slices = np.flatnonzero(body.any(axis=(1, 2)))
    top = float(z[slices[-1]]) if slices.size else float(z[-1])
    bottom = float(z[slices[0]]) if slices.size else float(z[0])
    n = body.shape[0]
    centre_y = np.full(n, float(y.mean()))
    half_w = np.full(n, 1.0)
    half_d = np.full(n, 1.0)
    for k in slices:
        ys = np.flatnonzero(body[k].any(axis=1))
        xs = np.flatnonzero(body[k].any(axis=0))
        centre_y[k] = (y[ys[0]] + y[ys[-1]]) / 2
        half_w[k] = max((x[xs[-1]] - x[xs[0]]) / 2 + spacing[2] / 2, 1.0)
        half_d[k] = max((y[ys[-1]] - y[ys[0]]) / 2 + spacing[1] / 2, 1.0)
    lung_top, lung_bottom = _lung_extent(image, body, z)
    return BodyFrame(midline, top, bottom, centre_y, half_w, half_d, lung_top, lung_bottom)


def _lung_extent(image: np.ndarray, body: np.ndarray, z: np.ndarray) -> tuple[float | None, float | None]:
    """z range of the lungs: the longest run of slices where air-dense CT (the CT channel at its floor,
    <= -150 HU) fills over 15 % of the body. A landmark that tells neck, chest and abdomen apart whatever
    the field of view; None without a CT."""
    if image.shape[0] < 2 or not np.any(image[1]):
        return None, None
    air = (image[1] <= 1e-3) & body
    area = body.sum(axis=(1, 2)).astype(float)
    fraction = np.divide(air.sum(axis=(1, 2)), area, out=np.zeros_like(area), where=area > 0)
    lung = fraction > 0.15
    best, start = (0, 0), None
    for k, on in enumerate(np.append(lung, False)):
        if on and start is None:
            start = k
        elif not on and start is not None:
            if k - start > best[1] - best[0]:
                best = (start, k)
            start = None
    if best[1] - best[0] < 2:
        return None, None
    return float(z[best[1] - 1]), float(z[best[0]])


def encode_image(network, image: np.ndarray, spec: FeatureSpec, spacing, origin, prepared=None) -> EncodedStudy:
    """Run the grounding encoder over the model-grid input as grounding does (model.features: windows of the
    network input, on the network's device) and keep every stage's output, stitched over the whole volume."""
    from .features import encode_prepared, stitch_windows

    image = np.asarray(image, np.float32)
    preprocess = network.config.preprocess
    windows = encode_prepared(network, _Input(image), preprocess.patch_size, preprocess.sliding_overlap)
    levels = [image, *stitch_windows(image.shape[1:], windows)]
    body = body_frame(image, spacing, origin, spec.body_level)
    return EncodedStudy(image, levels, tuple(spacing), tuple(origin), body, prepared)


@dataclass
class _Input:
    """A bare model-grid input where model.features expects a Prepared."""

    image: np.ndarray

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.image.shape[1:])


def encode_study(network, config, study, spec: FeatureSpec) -> EncodedStudy:
    """Preprocess ``study`` exactly as grounding does and encode it (model.features.encode_study)."""
    from .features import encode_study as encode

    return encode(network, config, study).encoded(spec)


def _box(mask: np.ndarray, margin: int, align: int) -> tuple[slice, ...] | None:
    tight = bounding_box(mask)
    if tight is None:
        return None
    out = []
    for axis, s in enumerate(tight):
        lo = max(0, s.start - margin) // align * align
        hi = -(-min(mask.shape[axis], s.stop + margin) // align) * align
        out.append(slice(lo, min(hi, mask.shape[axis])))
    return tuple(out)


def _pool(level: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted mean of a (C, z, y, x) level over (z, y, x) weights at full resolution (block-averaged)."""
    factor = [w // s for w, s in zip(weights.shape, level.shape[1:], strict=True)]
    if any(f > 1 for f in factor):
        shape = []
        for n, f in zip(level.shape[1:], factor, strict=True):
            shape += [n, f]
        weights = weights.reshape(shape).mean(axis=(1, 3, 5))
    total = float(weights.sum())
    if total <= 0:
        return np.zeros(level.shape[0], np.float32)
    return (level.reshape(level.shape[0], -1) @ weights.ravel() / total).astype(np.float32)


def lesion_features(encoded: EncodedStudy, mask: np.ndarray, spec: FeatureSpec,
                    native: np.ndarray | None = None) -> np.ndarray:
    """Feature vector of one lesion given its mask on the model grid (same shape as the model input); ``native``:
    its describe_tissue.native_tissue_features, when ``spec`` keeps them."""
    from scipy.ndimage import binary_dilation

    if spec.native_tissue and (native is None or np.shape(native) != (spec.native_tissue,)):
        raise ValueError(f"these features need the lesion's {spec.native_tissue} CT numbers at the PET grid's "
                         "resolution (model.describe_tissue)")
    mask = np.asarray(mask) > 0
    if mask.shape != encoded.image.shape[1:]:
        raise ValueError(f"lesion mask {mask.shape} is not on the model grid {encoded.image.shape[1:]}")
    strides = [encoded.image.shape[1] // lv.shape[1] for lv in encoded.levels]
    align = max(strides)
    box = _box(mask, spec.shell_voxels + 1, align)
    if box is None:
        raise ValueError("the lesion mask is empty on the model grid")
    inside = mask[box].astype(np.float32)
    grown = binary_dilation(mask[box], iterations=spec.shell_voxels)
    shell = (grown & ~mask[box]).astype(np.float32)
    parts = []
    for level, stride in zip(encoded.levels, strides, strict=True):
        sub = level[(slice(None), *(slice(s.start // stride, -(-s.stop // stride)) for s in box))]
        need = tuple(n * stride for n in sub.shape[1:])
        w_in, w_sh = (_fit(w, need) for w in (inside, shell))
        parts.append(_pool(sub, w_in))
        parts.append(_pool(sub, w_sh))
    if spec.native_tissue:
        parts.append(np.asarray(native, np.float32))
    pet_max = float(encoded.image[0][box][mask[box]].max())
    parts.append(np.array([pet_max], np.float32))
    parts.append(tissue_features(encoded.image[1][box], mask[box]))
    parts.append(position_features(encoded, mask, box, field_free=spec.version >= 2))
    return np.concatenate(parts)


def tissue_features(ct: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """What the lesion sits in: fractions of air-dense (lung) and bone-dense CT inside the lesion and in
    shells 1 and 3 voxels wide around it, and how uniform the CT is there (N_TISSUE numbers; CT channel in
    0..1 = -150..250 HU)."""
    from scipy.ndimage import binary_dilation

    out = []
    inner = binary_dilation(mask, iterations=1)
    outer = binary_dilation(inner, iterations=2)
    for region in (mask, inner & ~mask, outer & ~inner):
        values = ct[region] if region.any() else np.zeros(1, np.float32)
        out += [float((values <= 1e-3).mean()), float((values >= 0.999).mean()), float(values.std())]
    return np.asarray(out, np.float32)


def _fit(weights: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Zero-pad or cut ``weights`` to ``shape`` (a box at the volume's edge may not fill the last block)."""
    out = np.zeros(shape, np.float32)
    n = tuple(min(a, b) for a, b in zip(weights.shape, shape, strict=True))
    out[: n[0], : n[1], : n[2]] = weights[: n[0], : n[1], : n[2]]
    return out


def centroid_mm(encoded: EncodedStudy, mask: np.ndarray, box: tuple[slice, ...] | None = None) -> np.ndarray:
    box = box or bounding_box(mask) or (slice(None),) * 3
    offset = np.array([s.start or 0 for s in box])
    idx = np.argwhere(mask[box]).mean(axis=0) + offset
    return np.asarray(encoded.origin) + idx * np.asarray(encoded.spacing)


def position_features(encoded: EncodedStudy, mask: np.ndarray, box: tuple[slice, ...] | None = None,
                      field_free: bool = False) -> np.ndarray:
    """Normalised position and size of the lesion relative to the body and the lungs (N_POSITION numbers);
    ``field_free``: without the numbers that depend on where the image starts and ends (FeatureSpec version 2)."""
    body = encoded.body
    cz, cy, cx = centroid_mm(encoded, mask, box)
    k = int(np.clip(round((cz - encoded.origin[0]) / encoded.spacing[0]), 0, body.centre_y.size - 1))
    dx = cx - body.midline_x
    dy = cy - body.centre_y[k]
    height = max(body.top_z - body.bottom_z, 1.0)
    volume_ml = float(np.count_nonzero(mask[box] if box else mask)) * float(np.prod(encoded.spacing)) / 1000.0
    values = [
        dx / 100.0, abs(dx) / 100.0, dx / body.half_width[k], abs(dx) / body.half_width[k],
        dy / 100.0, dy / body.half_depth[k],
        (body.top_z - cz) / 500.0, (cz - body.bottom_z) / height,
        body.half_width[k] / 200.0, body.half_depth[k] / 200.0,
        np.log(max(volume_ml, 1e-3)) / 3.0, height / 1000.0,
    ]
    if field_free:  # the body's top and bottom and the lungs' extent in the image move with the field of view
        values[6] = values[7] = values[11] = 0.0
        return np.asarray(values + [0.0, 0.0, 0.0, 0.0], np.float32)
    if body.lung_top is not None and body.lung_bottom is not None:
        span = max(body.lung_top - body.lung_bottom, 1.0)
        values += [(cz - body.lung_top) / 200.0, (cz - body.lung_bottom) / 200.0, (cz - body.lung_bottom) / span, 1.0]
    else:
        values += [0.0, 0.0, 0.0, 0.0]
    return np.asarray(values, np.float32)


def mask_on_model_grid(mask: np.ndarray, prepared, box: tuple[slice, ...] | None = None) -> np.ndarray:
    """A PET-grid lesion mask on the model grid, as grounding's training targets are made
    (model.data.target_on_model_grid: voxels at least half covered, never empty), but only in a box around
    the lesion, so it costs milliseconds on a whole-body PET."""
    from ..study.resample import Grid, resample_to_grid
    from ..study.volume import Volume

    mask = np.asarray(mask)
    mask = mask if mask.dtype == bool else mask > 0
    pet = prepared.pet_grid
    out = np.zeros(prepared.shape, np.uint8)
    tight = box or bounding_box(mask)
    if tight is None:
        return out
    pad = 4
    lo = np.array([max(0, s.start - pad) for s in tight])
    hi = np.array([min(n, s.stop + pad) for n, s in zip(mask.shape, tight, strict=True)])
    sub = mask[tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))].astype(np.float32)
    sub_origin = np.asarray(pet.origin) + lo * np.asarray(pet.spacing)
    spacing = np.asarray(prepared.spacing)
    origin = np.asarray(prepared.origin)
    first = np.floor((sub_origin - origin) / spacing).astype(int) - 1
    last = np.ceil((sub_origin + (hi - lo - 1) * np.asarray(pet.spacing) - origin) / spacing).astype(int) + 2
    first = np.clip(first, 0, np.asarray(prepared.valid_shape))
    last = np.clip(last, 0, np.asarray(prepared.valid_shape))
    if np.all(last > first):
        factor = spacing / np.asarray(pet.spacing)
        sigma = np.where(factor > 1.0, (factor - 1.0) / 2.0, 0.0)
        if np.any(sigma > 0):
            from scipy.ndimage import gaussian_filter

            sub = gaussian_filter(sub, sigma, mode="nearest")
        grid = Grid(tuple(int(v) for v in last - first), tuple(float(v) for v in spacing),
                    tuple(float(v) for v in origin + first * spacing))
        fraction = resample_to_grid(Volume(sub, pet.spacing, tuple(float(v) for v in sub_origin)), grid,
                                    interpolation="linear", fill=0.0).data
        target = fraction >= 0.5
        if not target.any() and fraction.max() > 0.05:
            target[np.unravel_index(int(np.argmax(fraction)), fraction.shape)] = True
        out[tuple(slice(a, b) for a, b in zip(first, last, strict=True))] = target
    if not out.any():  # a small lesion on the scan's first or last slice, just beyond the model grid
        edge = _edge_voxel(mask, tight, pet, prepared)
        if edge is not None:
            out[edge] = 1
    return out


def _edge_voxel(mask: np.ndarray, box: tuple[slice, ...], pet, prepared) -> tuple[int, ...] | None:
    """The model grid's edge voxel next to a lesion just beyond it, or None when the lesion lies farther out.
    The model grid covers the body crop to within half a model voxel (its size is the crop's extent rounded
    to whole voxels), so a small lesion on the first or last PET slice can fall outside it: it is still in
    the scan, and still a lesion to describe. A mask well outside the body crop stays unplaced."""
    from ..study.grid import Grid

    centre = np.argwhere(mask[box]).mean(axis=0) + np.array([s.start for s in box])
    world = np.asarray(pet.origin) + centre * np.asarray(pet.spacing)
    model = Grid(tuple(prepared.valid_shape), tuple(prepared.spacing), tuple(prepared.origin))
    index = model.index_of(world)
    spacing = np.asarray(model.spacing)
    beyond = np.abs(world - (np.asarray(model.origin) + np.asarray(index) * spacing))
    return index if np.all(beyond <= 1.5 * spacing) else None  # at most one voxel past the edge
