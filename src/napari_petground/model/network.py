"""ConTEXTual Net 3D on nnU-Net's architecture classes: a U-Net whose decoder is gated by the sentence.

The encoder and decoder are the ``dynamic_network_architectures`` modules nnU-Net builds (PlainConvUNet or
ResidualEncoderUNet). At the chosen decoder stages (paper: the three deepest), right after the up-sampling
(transposed) convolution, a single-head cross-attention lets every voxel feature (query) read the sentence's
tokens (keys/values projected to the stage width; padding tokens masked); the result passes tanh and
multiplies the visual features, so the sentence switches feature channels on and off where it matters.
The encoder runs once per exam; the decoder runs once per sentence (``decode`` takes an exam index per
sentence), which is what makes same-image negatives cheap in training and second sentences cheap in the viewer.
Beyond the paper, a text location prior (``LocationPrior``) adds to the output logits a coarse map of where
in the body the sentence points, learned from the pooled sentence: on phantoms trained for tens of minutes
on a CPU the gates alone had not learned to use the sentence (docs/model.md).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig, NetworkConfig


class TextGate(nn.Module):
    """Single-head cross-attention from voxels to tokens, squashed by tanh and multiplied onto the features.

    With ``position_dim`` > 0 the query also sees the voxel's normalised body coordinates (the input's
    coordinate channels pooled to the stage), so words like "left" or "upper" can address places directly.
    """

    def __init__(self, width: int, text_dim: int, position_dim: int = 0) -> None:
        super().__init__()
        self.query = nn.Linear(width + position_dim, width)
        self.key = nn.Linear(text_dim, width)
        self.value = nn.Linear(text_dim, width)
        self.out = nn.Linear(width, width)
        self.position_dim = position_dim

    def forward(self, features: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor,
                position: torch.Tensor | None = None) -> torch.Tensor:
        b, c = features.shape[:2]
        spatial = features.shape[2:]
        query_in = features
        if self.position_dim:
            if position is None:
                position = features.new_zeros((b, self.position_dim, *spatial))
            elif tuple(position.shape[2:]) != tuple(spatial):
                position = F.adaptive_avg_pool3d(position, spatial)
            query_in = torch.cat((features, position.to(features.dtype)), 1)
        q = self.query(query_in.flatten(2).transpose(1, 2))  # (B, N, C)
        k = self.key(tokens)  # (B, L, C)
        v = self.value(tokens)
        attended = F.scaled_dot_product_attention(
            q.unsqueeze(1), k.unsqueeze(1), v.unsqueeze(1), attn_mask=mask[:, None, None, :].bool()
        ).squeeze(1)
        gate = torch.tanh(self.out(attended)).transpose(1, 2).reshape(b, c, *spatial)
        return features * gate

    def open(self, bias: float = 1.0) -> None:
        """Start as a constant gate tanh(bias) whatever the sentence: a decoder taken from a network that
        reads no text keeps working, and the gate learns from there which features the sentence switches off."""
        with torch.no_grad():
            self.out.weight.zero_()
            self.out.bias.fill_(bias)


class EncodedImage(list):
    """Encoder skips (a list, deepest last) that also carry the input's coordinate channels (x, y, z order of
    the config) for the gates and the location prior."""

    positions: torch.Tensor | None = None


class LocationPrior(nn.Module):
    """Where in the body the sentence points, as logits on a coarse grid over body coordinates.

    The sentence is pooled from its token states — their masked mean, and with ``pooling="attention"``
    also ``heads`` learned attention pools, which can single out the few words that say where ("left",
    "segment VII", "L3") instead of averaging them away among the rest — and a small MLP maps it to a
    (z, y, x) grid spanning ``extent`` coordinate units around the body centre; each voxel reads the grid at
    its own coordinates (trilinear). The result is added to the output logits, so site and side words shift
    the answer towards their region from the first steps of training, while the gates learn the finer
    choice. The last layer starts at zero: no effect until learned.
    """

    def __init__(self, text_dim: int, grid: tuple[int, int, int], extent: tuple[float, float, float],
                 axes: tuple[int | None, int | None, int | None], pooling: str = "mean", heads: int = 4) -> None:
        super().__init__()
        if pooling not in ("mean", "attention"):
            raise ValueError(f"unknown location pooling {pooling!r}: use 'mean' or 'attention'")
        self.grid = tuple(int(g) for g in grid)
        self.register_buffer("extent", torch.tensor([float(v) for v in extent]), persistent=False)
        self.axes = axes  # channel index of the x, y and z coordinates among the position channels (None: absent,
        # read as the body centre, so a network with only an x channel gets a prior over left/right alone)
        self.score = nn.Linear(text_dim, heads) if pooling == "attention" else None
        pooled = text_dim * (1 + (heads if self.score is not None else 0))
        self.mlp = nn.Sequential(nn.Linear(pooled, 256), nn.ReLU(inplace=True),
                                 nn.Linear(256, self.grid[0] * self.grid[1] * self.grid[2]))
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def pool(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, D) or (B, D * (1 + heads)) sentence vectors: masked mean [+ attention pools]."""
        weights = mask.to(tokens.dtype).unsqueeze(-1)
        pooled = (tokens * weights).sum(1) / weights.sum(1).clamp_min(1.0)
        if self.score is None:
            return pooled
        scores = self.score(tokens).float().masked_fill(~mask.bool()[..., None], float("-inf"))
        attention = torch.nan_to_num(scores.softmax(1)).to(tokens.dtype)  # (B, L, H); empty sentence: zeros
        return torch.cat((pooled, torch.einsum("blh,bld->bhd", attention, tokens).flatten(1)), 1)

    def grid_logits(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, 1, gz, gy, gx) logits of B sentences."""
        return self.mlp(self.pool(tokens, mask)).view(-1, 1, *self.grid)

    def read(self, grid: torch.Tensor, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The grid at coordinates x, y, z (each (B, ...) of equal shape); beyond the extent: the edge value."""
        # grid_sample's last dim is (x, y, z) = (W, H, D)
        where = torch.stack((x / self.extent[2], y / self.extent[1], z / self.extent[0]), -1).clamp(-1, 1)
        if where.dim() == 3:  # (B, N, 3) point lists
            where = where.unsqueeze(1).unsqueeze(1)
        out = F.grid_sample(grid, where.to(grid.dtype), mode="bilinear", padding_mode="border", align_corners=False)
        return out if x.dim() == 4 else out.flatten(1)

    def coordinates(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x, y, z from the position channels (B, C, ...); an absent axis reads as the body centre (0)."""
        return tuple(positions[:, a] if a is not None else positions.new_zeros(positions[:, 0].shape)
                     for a in self.axes)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        return self.read(self.grid_logits(tokens, mask), *self.coordinates(positions))  # (B, 1, Z, Y, X)


def _backbone(config: NetworkConfig, in_channels: int) -> nn.Module:
    from dynamic_network_architectures.architectures.unet import PlainConvUNet, ResidualEncoderUNet

    n = len(config.features)
    common = dict(
        input_channels=in_channels, n_stages=n, features_per_stage=list(config.features), conv_op=nn.Conv3d,
        kernel_sizes=[[config.kernel_size] * 3] * n, strides=[[s] * 3 for s in config.strides], num_classes=1,
        n_conv_per_stage_decoder=[config.n_conv_per_stage_decoder] * (n - 1), conv_bias=True,
        norm_op=nn.InstanceNorm3d, norm_op_kwargs={"eps": 1e-5, "affine": True}, nonlin=nn.LeakyReLU,
        nonlin_kwargs={"inplace": True}, deep_supervision=False,
    )
    if config.backbone == "PlainConvUNet":
        net = PlainConvUNet(n_conv_per_stage=[config.n_conv_per_stage] * n, **common)
    elif config.backbone == "ResidualEncoderUNet":
        net = ResidualEncoderUNet(n_blocks_per_stage=[config.n_conv_per_stage] * n, **common)
    else:
        raise ValueError(f"unknown backbone {config.backbone!r}: use PlainConvUNet or ResidualEncoderUNet")
    net.apply(net.initialize)
    return net


class GroundingNet(nn.Module):
    """U-Net (PET, CT, coordinates) -> one lesion logit map per sentence."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        net_cfg = config.network
        self.config = config
        backbone = _backbone(net_cfg, config.preprocess.in_channels)
        self.encoder = backbone.encoder
        self.decoder = backbone.decoder
        self.decoder._modules.pop("encoder", None)  # keep one copy of the encoder in the state dict
        n_decoder = len(self.decoder.stages)
        bad = [s for s in net_cfg.gated_stages if not 0 <= s < n_decoder]
        if bad and net_cfg.text_attention:
            raise ValueError(f"gated_stages {bad} outside the decoder's {n_decoder} stages (0 = deepest)")
        self.gated = tuple(sorted(net_cfg.gated_stages)) if net_cfg.text_attention else ()
        widths = self.encoder.output_channels
        n_coords = len(config.preprocess.coord_channels)
        self.position_dim = n_coords if net_cfg.query_positions else 0
        self.gates = nn.ModuleDict({str(s): TextGate(widths[-(s + 2)], net_cfg.text_dim, self.position_dim)
                                    for s in self.gated})
        # a last gate on the full-resolution output: every path to the logits passes the sentence, so the
        # decoder cannot answer from the ungated skip connections alone
        self.output_gate = (TextGate(widths[0], net_cfg.text_dim, self.position_dim)
                            if net_cfg.text_attention and net_cfg.output_gate else None)
        coords = tuple(config.preprocess.coord_channels)
        self.location = None
        if net_cfg.text_attention and coords and all(net_cfg.location_grid) and len(net_cfg.location_grid) == 3:
            self.location = LocationPrior(net_cfg.text_dim, net_cfg.location_grid, net_cfg.location_range,
                                          tuple(coords.index(a) if a in coords else None for a in ("x", "y", "z")),
                                          net_cfg.location_pooling)
        self.n_coords = len(coords)
        with torch.no_grad():
            self.decoder.seg_layers[-1].bias.fill_(net_cfg.output_bias)
        for unused in self.decoder.seg_layers[:-1]:  # deep-supervision heads nnU-Net always builds; not used here
            unused.requires_grad_(False)

    @property
    def uses_text(self) -> bool:
        return bool(self.gated) or self.output_gate is not None or self.location is not None

    def open_gates(self, bias: float = 1.0) -> None:
        """Every text gate starts open (see TextGate.open): used when the backbone comes from a text-blind run."""
        for gate in (*self.gates.values(), *([self.output_gate] if self.output_gate is not None else [])):
            gate.open(bias)

    def encode(self, image: torch.Tensor) -> EncodedImage:
        """Encoder skips of (E, C, Z, Y, X) images (E exams), with the coordinate channels for the gates."""
        skips = EncodedImage(self.encoder(image))
        if self.n_coords:
            skips.positions = image[:, 2: 2 + self.n_coords]
        return skips

    def decode(self, skips: list[torch.Tensor], tokens: torch.Tensor | None = None,
               mask: torch.Tensor | None = None, exam_index: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (B, 1, Z, Y, X) for B sentences; ``exam_index[b]`` says which exam sentence b is about.

        The same operations, in the same order, as ``decode_fine(decode_coarse(...))``: the split lets a
        caller run the cheap deep stages everywhere and the expensive fine ones only where they matter."""
        if exam_index is not None:
            positions = getattr(skips, "positions", None)
            skips = EncodedImage(s.index_select(0, exam_index) for s in skips)
            skips.positions = positions.index_select(0, exam_index) if positions is not None else None
        x = self.decode_coarse(skips, tokens, mask, len(self.decoder.stages))
        return self.decode_fine(x, skips, tokens, mask, len(self.decoder.stages))

    def _gate_positions(self, skips: list[torch.Tensor]) -> torch.Tensor | None:
        positions = getattr(skips, "positions", None)
        return positions[:, : self.position_dim] if positions is not None and self.position_dim else None

    def decode_coarse(self, skips: list[torch.Tensor], tokens: torch.Tensor | None, mask: torch.Tensor | None,
                      stages: int) -> torch.Tensor:
        """Decoder features after the first ``stages`` decoder stages (0 = none: the deepest encoder output).

        Why: the deep stages see the whole window at low resolution for a small share of the decoder's work,
        so they can say where an answer may be before the full-resolution stages are paid for."""
        if self.uses_text and (tokens is None or mask is None):
            raise ValueError("this network reads the sentence: pass tokens and mask")
        if not 0 <= stages <= len(self.decoder.stages):
            raise ValueError(f"stages must be 0..{len(self.decoder.stages)}, got {stages}")
        gate_positions = self._gate_positions(skips)
        x = skips[-1]
        for s in range(stages):
            x = self._decoder_stage(s, x, skips, tokens, mask, gate_positions)
        return x

    def decode_fine(self, x: torch.Tensor, skips: list[torch.Tensor], tokens: torch.Tensor | None,
                    mask: torch.Tensor | None, from_stage: int) -> torch.Tensor:
        """Logits from the features ``decode_coarse(..., from_stage)`` returned: the remaining decoder stages,
        the output gate, the segmentation layer and the location prior."""
        if self.uses_text and (tokens is None or mask is None):
            raise ValueError("this network reads the sentence: pass tokens and mask")
        positions = getattr(skips, "positions", None)
        gate_positions = self._gate_positions(skips)
        for s in range(from_stage, len(self.decoder.stages)):
            x = self._decoder_stage(s, x, skips, tokens, mask, gate_positions)
        if self.output_gate is not None:
            x = self.output_gate(x, tokens, mask, gate_positions)
        logits = self.decoder.seg_layers[-1](x)
        if self.location is not None and positions is not None:
            logits = logits + self.location(tokens, mask, positions)
        return logits

    def _decoder_stage(self, s: int, x: torch.Tensor, skips: list[torch.Tensor], tokens, mask,
                       gate_positions: torch.Tensor | None) -> torch.Tensor:
        x = self.decoder.transpconvs[s](x)
        if str(s) in self.gates:
            x = self.gates[str(s)](x, tokens, mask, gate_positions)
        return self.decoder.stages[s](torch.cat((x, skips[-(s + 2)]), 1))

    def forward(self, image: torch.Tensor, tokens: torch.Tensor | None = None,
                mask: torch.Tensor | None = None, exam_index: torch.Tensor | None = None) -> torch.Tensor:
        return self.decode(self.encode(image), tokens, mask, exam_index)


def build_network(config: ModelConfig) -> GroundingNet:
    return GroundingNet(config)
