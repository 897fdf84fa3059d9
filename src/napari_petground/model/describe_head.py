"""The describe head: lesion features and site phrases mapped into one space, compared by cosine.

Image side: standardised lesion features (model.describe_features) -> MLP -> unit vector. Text side: the
frozen sentence encoder's mean token embedding of a site phrase -> linear -> unit vector, plus (version 2)
a learned offset per vocabulary entry, because the encoder reads "T7 vertebral body" and "T8 vertebral body"
almost alike. Trained with a symmetric InfoNCE loss (model.describe_train) in which lesions of the same
(site, side) are never each other's negatives and only semi-hard negatives count, at two levels: fine
entries, and coarse sites (an entry's site or the site holding its sub-site) scored by the log-sum of their
entries. The phrase embeddings of the whole vocabulary travel with the head, so describing needs no text
encoder at run time. A site forest (model.describe_forest) may travel with it, trained on the same inputs.

Stored in a grounding checkpoint folder as ``describe_head.safetensors`` (tensors, the forest's arrays
included) + ``describe_head.json`` (vocabulary, feature spec, sizes, the text encoder's fingerprint, training
record); loaded when present.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..atomic import atomic_write_bytes
from ..errors import CheckpointError
from .describe_features import INPUTS, FeatureSpec
from .describe_forest import PREFIX as FOREST_PREFIX
from .describe_forest import SiteForest
from .describe_vocab import VocabEntry

HEAD_WEIGHTS = "describe_head.safetensors"
HEAD_CONFIG = "describe_head.json"
HEAD_VERSION = 2
KNOWN_VERSIONS = (1, 2)  # version 1: no per-entry offsets (heads trained on the first 27-site lexicon)


def input_columns(config: HeadConfig) -> np.ndarray:
    """Indices of the features the image side reads (``config.inputs``)."""
    tabular = np.arange(config.feature_dim - config.spec.n_tabular, config.feature_dim)
    if config.inputs == "tabular":
        return tabular
    if config.inputs == "anatomy":
        if config.spec.input_channels <= 0:
            raise CheckpointError("a describe head reading 'anatomy' inputs needs the model input's channel count "
                                  "in its feature spec; retrain it")
        return np.concatenate([np.arange(2 * config.spec.input_channels), tabular])
    return np.arange(config.feature_dim)


@dataclass
class HeadConfig:
    feature_dim: int
    text_dim: int
    embed_dim: int = 128
    hidden: int = 256
    dropout: float = 0.1
    entries: list[tuple[str, str]] = field(default_factory=list)  # (site, side) per vocabulary entry
    phrase_owner: list[int] = field(default_factory=list)  # entry index of each stored phrase embedding
    phrases: list[str] = field(default_factory=list)
    spec: FeatureSpec = field(default_factory=FeatureSpec)
    encoder_fingerprint: str = ""
    training: dict = field(default_factory=dict)
    version: int = HEAD_VERSION
    inputs: str = "all"  # INPUTS: what the image side reads of the features
    bins: int = 0  # soft bins per input (Gaussian bumps at its training quantiles), 0 for none
    # the site forest beside the head (model.describe_forest): {"classes": site keys, "weight": its share of
    # the blended probabilities}; empty for a head without one
    forest: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"version": self.version, "feature_dim": self.feature_dim, "text_dim": self.text_dim,
                "embed_dim": self.embed_dim, "hidden": self.hidden, "dropout": self.dropout,
                "entries": [list(e) for e in self.entries], "phrase_owner": list(self.phrase_owner),
                "phrases": list(self.phrases), "spec": self.spec.to_dict(),
                "encoder_fingerprint": self.encoder_fingerprint, "training": self.training,
                "inputs": self.inputs, "bins": self.bins, "forest": self.forest}

    @classmethod
    def from_dict(cls, data: dict) -> HeadConfig:
        version = int(data.get("version", -1))
        if version not in KNOWN_VERSIONS:
            raise CheckpointError(f"describe head version {data.get('version')} is not one of {KNOWN_VERSIONS}; "
                                  "retrain it")
        return cls(int(data["feature_dim"]), int(data["text_dim"]), int(data["embed_dim"]), int(data["hidden"]),
                   float(data["dropout"]), [tuple(e) for e in data["entries"]], list(data["phrase_owner"]),
                   list(data["phrases"]), FeatureSpec.from_dict(data.get("spec", {})),
                   str(data.get("encoder_fingerprint", "")), dict(data.get("training", {})), version,
                   str(data.get("inputs", "all")), int(data.get("bins", 0)), dict(data.get("forest", {})))

    @property
    def vocab(self) -> list[VocabEntry]:
        return [VocabEntry(site, side) for site, side in self.entries]

    @property
    def coarse_names(self) -> list[str]:
        """The coarse sites of the entries (from the lexicon: a head stores only its fine entries)."""
        from .describe_vocab import coarse_sites

        return coarse_sites(self.vocab)

    @property
    def coarse_owner(self) -> list[int]:
        """Index in ``coarse_names`` of each entry's coarse site."""
        names = {name: i for i, name in enumerate(self.coarse_names)}
        return [names[e.coarse] for e in self.vocab]


class DescribeHead(nn.Module):
    def __init__(self, config: HeadConfig) -> None:
        super().__init__()
        self.config = config
        if config.inputs not in INPUTS:
            raise CheckpointError(f"describe head inputs {config.inputs!r} are not one of {INPUTS}; retrain it")
        columns = input_columns(config)
        n_in = columns.size
        self.image = nn.Sequential(
            nn.Linear(n_in * (1 + config.bins), config.hidden), nn.GELU(), nn.Dropout(config.dropout),
            nn.Linear(config.hidden, config.embed_dim),
        )
        if config.bins:
            self.register_buffer("bin_centres", torch.zeros(config.bins, n_in))
            self.register_buffer("bin_width", torch.ones(n_in))
        self.text = nn.Linear(config.text_dim, config.embed_dim)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        self.register_buffer("feature_mean", torch.zeros(config.feature_dim))
        self.register_buffer("feature_std", torch.ones(config.feature_dim))
        self.register_buffer("phrase_text", torch.zeros(len(config.phrases), config.text_dim))
        self.entry_offset = (nn.Parameter(torch.zeros(len(config.entries), config.embed_dim))
                             if config.version >= 2 else None)
        self.register_buffer("coarse_index", torch.as_tensor(config.coarse_owner, dtype=torch.long),
                             persistent=False)
        self.register_buffer("columns", torch.as_tensor(columns, dtype=torch.long), persistent=False)
        self._prototypes: torch.Tensor | None = None  # cached in eval mode (describing one lesion at a time)
        self.forest: SiteForest | None = None  # the site forest (config.forest), set by training or loading

    def train(self, mode: bool = True) -> DescribeHead:
        self._prototypes = None
        return super().train(mode)

    def inputs(self, features: torch.Tensor) -> torch.Tensor:
        """What the image side reads: the standardised features (the columns ``config.inputs`` names), and with ``bins``
        each also as soft bins, which lets a small network draw the sharp borders between neighbouring sites."""
        x = (features - self.feature_mean) / self.feature_std
        if self.config.inputs != "all":
            x = x[:, self.columns]
        if self.config.bins:
            bumps = torch.exp(-(((x[:, None, :] - self.bin_centres) / self.bin_width) ** 2))
            x = torch.cat([x, bumps.flatten(1)], dim=1)
        return x

    def embed_lesions(self, features: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.image(self.inputs(features)), dim=-1)

    def embed_text(self, text: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.text(text), dim=-1)

    def entry_prototypes(self) -> torch.Tensor:
        """One unit vector per vocabulary entry: the mean of its phrases' embeddings."""
        emb = self.embed_text(self.phrase_text)
        owner = torch.as_tensor(self.config.phrase_owner, dtype=torch.long)
        n = len(self.config.entries)
        summed = nn.functional.normalize(torch.zeros(n, emb.shape[1]).index_add_(0, owner, emb), dim=-1)
        if self.entry_offset is not None:
            summed = summed + self.entry_offset
        return nn.functional.normalize(summed, dim=-1)

    def entry_logits(self, features: torch.Tensor) -> torch.Tensor:
        """(N, entries) scaled cosine similarities of N lesions with every vocabulary entry."""
        scale = self.logit_scale.exp().clamp(max=100.0)
        if self.training or torch.is_grad_enabled():
            return scale * self.embed_lesions(features) @ self.entry_prototypes().T
        if self._prototypes is None:
            self._prototypes = self.entry_prototypes()
        return scale * self.embed_lesions(features) @ self._prototypes.T


def coarse_logits(head: DescribeHead, logits: torch.Tensor) -> torch.Tensor:
    """(N, coarse sites) log-sum of the fine logits of each coarse site's entries."""
    top = logits.max(dim=1, keepdim=True).values.detach()
    n = len(head.config.coarse_names)
    summed = torch.zeros(logits.shape[0], n, dtype=logits.dtype).index_add_(1, head.coarse_index,
                                                                            (logits - top).exp())
    return summed.clamp_min(1e-30).log() + top


def coarse_loss(head: DescribeHead, features: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of each lesion's coarse site against every coarse site (the fine entries of one coarse
    site all count for it, so a lesion known only as "liver" teaches the liver's segments together)."""
    return nn.functional.cross_entropy(coarse_logits(head, head.entry_logits(features)), coarse)


def info_nce(lesions: torch.Tensor, texts: torch.Tensor, labels: torch.Tensor, scale: torch.Tensor,
             margin: float = 0.3) -> torch.Tensor:
    """Symmetric InfoNCE between B lesion and B phrase embeddings (unit vectors; pair i is lesion i's phrase).

    ``labels`` gives each pair's vocabulary entry: a lesion is never a negative of a phrase of its own entry
    (two findings at the same site are not wrong answers for each other). Only semi-hard negatives count:
    a negative whose similarity is more than ``margin`` below the positive's is already solved and dropped.
    """
    sim = lesions @ texts.T  # sim[i, j] = lesion i vs phrase j
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=sim.device)
    pos = sim.diagonal()
    losses = []
    for s, p in ((sim, pos[:, None]), (sim.T, pos[:, None])):  # rows: lesion -> phrases, phrase -> lesions
        keep = eye | (~same & (s > p - margin))
        logits = (scale * s).masked_fill(~keep, float("-inf"))
        losses.append(nn.functional.cross_entropy(logits, torch.arange(len(labels), device=sim.device)))
    return 0.5 * (losses[0] + losses[1])


def vocab_loss(head: DescribeHead, features: torch.Tensor, labels: torch.Tensor, margin: float = 0.3) -> torch.Tensor:
    """Cross-entropy of each lesion against every vocabulary entry (all entries are candidate phrases);
    same semi-hard rule as info_nce."""
    logits = head.entry_logits(features)
    scale = head.logit_scale.exp().clamp(max=100.0)
    pos = logits.gather(1, labels[:, None])
    keep = (logits > pos - margin * scale)
    keep.scatter_(1, labels[:, None], True)
    return nn.functional.cross_entropy(logits.masked_fill(~keep, float("-inf")), labels)


def save_head(folder: str | Path, head: DescribeHead) -> Path:
    """Write the head into a checkpoint folder (two files, each atomically)."""
    from safetensors.torch import save

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in head.state_dict().items()}
    if head.forest is not None:
        state.update({k: torch.from_numpy(v) for k, v in head.forest.tensors().items()})
    atomic_write_bytes(folder / HEAD_WEIGHTS, save(state, metadata={"format": "napari-petground describe head"}))
    atomic_write_bytes(folder / HEAD_CONFIG, json.dumps(head.config.to_dict(), indent=1).encode("utf-8"))
    return folder


def has_head(folder: str | Path) -> bool:
    return (Path(folder) / HEAD_CONFIG).is_file() and (Path(folder) / HEAD_WEIGHTS).is_file()


def load_head(folder: str | Path, encoder_fingerprint: str = "") -> DescribeHead:
    """The describe head stored in ``folder``; CheckpointError when it is missing, broken or for another encoder."""
    from .checkpoint import fill_head, read_head_files

    folder = Path(folder)
    config, stored = read_head_files(folder, HEAD_CONFIG, HEAD_WEIGHTS, HeadConfig.from_dict, "describe head",
                                     "petground describe-train")
    if encoder_fingerprint and config.encoder_fingerprint and encoder_fingerprint != config.encoder_fingerprint:
        raise CheckpointError(f"the describe head in {folder} was trained with another text encoder "
                              f"({config.encoder_fingerprint}, the checkpoint uses {encoder_fingerprint}); retrain it")
    forest = {k: stored.pop(k) for k in [k for k in stored if k.startswith(FOREST_PREFIX)]}
    head = fill_head(DescribeHead(config), stored, folder, "describe head")
    if config.forest:
        head.forest = SiteForest.from_tensors(forest, list(config.forest.get("classes", [])),
                                              input_columns(config).size)
    elif forest:
        raise CheckpointError(f"the describe head in {folder} stores a forest its config does not name; retrain it")
    return head


def mean_pooled(tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Sentence vector from token states: the mean over real tokens (the encoder's own pooling)."""
    m = np.asarray(mask, np.float32)[..., None]
    return (np.asarray(tokens, np.float32) * m).sum(-2) / np.maximum(m.sum(-2), 1.0)
