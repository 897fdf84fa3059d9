"""Training and measuring the describe head on the sentence–mask data grounding learns from.

Lesion samples (model.describe_samples) come from studies with masks whose site is known. The grounding
network is frozen and every lesion is a feature vector, so the head trains on vectors in seconds to minutes
of CPU. Each step draws a class-balanced batch of lesions, one
random lexicon phrasing of each lesion's (site, side), and minimises the symmetric InfoNCE loss with same-entry
pairs masked out, the loss against the whole fine vocabulary and the loss against the coarse sites
(model.describe_head). A lesion known only by a grouping site ("vertebra" without its level) teaches the
coarse level alone.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import ModelError
from ..report.lexicon import SITE_BY_KEY
from .describe_features import N_POSITION, FeatureSpec
from .describe_samples import (
    LesionSample,
    cached_exams,
    dataset_samples,
    load_samples,
    phantom_samples,
    samples_from_exam,
    save_samples,
)
from .describe_vocab import VocabEntry, phrase_table, vocabulary

SIDE_TOLERANCE_MM = 5.0


def embed_phrases(encoder, phrases: list[str]) -> np.ndarray:
    """(P, D) mean-pooled token embeddings of phrases from the frozen text encoder."""
    from .describe_head import mean_pooled
    from .text import precompute

    precompute(encoder, phrases)
    return np.stack([mean_pooled(*encoder.encode(p)) for p in phrases]).astype(np.float32)


@dataclass
class HeadTrainSettings:
    steps: int = 1500
    batch: int = 128
    lr: float = 2e-3
    weight_decay: float = 1e-3
    margin: float = 0.3
    embed_dim: int = 128
    hidden: int = 256
    dropout: float = 0.1
    noise: float = 0.02  # Gaussian noise on standardised features (augmentation)
    seed: int = 0
    threads: int = 0
    inputs: str = "tabular"  # describe_features.INPUTS
    bins: int = 12  # soft bins per input (0: none)
    forest_trees: int = 200  # trees of the site forest beside the head (model.describe_forest; 0: none)
    forest_weight: float = 0.9  # its share of the blended probabilities (the head's ranking fills the rest)


def side_hint(features: np.ndarray, tolerance_mm: float = SIDE_TOLERANCE_MM) -> str:
    """Side of a lesion from its position features (signed distance from the body midline)."""
    dx_mm = float(features[-N_POSITION]) * 100.0
    if abs(dx_mm) <= tolerance_mm:
        return ""
    return "left" if dx_mm > 0 else "right"


def gate_by_side(scores: np.ndarray, entries: list[VocabEntry] | tuple[VocabEntry, ...], side: str) -> np.ndarray:
    """Entries of the other side are ruled out (-inf) when the lesion is clearly on one side of the midline."""
    scores = np.array(scores, dtype=np.float64, copy=True)
    if side in ("left", "right"):
        other = np.array([e.side not in ("", side) for e in entries])
        scores[..., other] = -np.inf
    return scores


def gate_by_sex(probs: np.ndarray, entries: list[VocabEntry] | tuple[VocabEntry, ...], sex: str) -> np.ndarray:
    """One lesion's probabilities (one per entry) with the sites only the other sex has (a prostate in a woman,
    an ovary in a man) set to zero and the rest renormalised, when the study records the patient's sex ("M" or
    "F", DICOM PatientSex); unchanged when it does not, or when nothing else would be left."""
    sex = sex.strip().upper()
    if sex not in ("M", "F"):
        return probs
    other = np.array([SITE_BY_KEY[e.site].sex not in ("", sex) if e.site in SITE_BY_KEY else False for e in entries])
    if not other.any():
        return probs
    gated = np.where(other, 0.0, np.asarray(probs, dtype=np.float64))
    total = gated.sum()
    return gated / total if total > 0 else probs


MIN_STEPS = 3  # the one-cycle schedule's warm-up and annealing each need a step


def train_head(samples: list[LesionSample], entries: tuple[VocabEntry, ...], phrase_text: np.ndarray,
               phrase_owner: list[int], phrases: list[str], spec: FeatureSpec, settings: HeadTrainSettings,
               encoder_fingerprint: str = "", log=None):
    """A trained DescribeHead (eval mode)."""
    import torch

    from .describe_head import DescribeHead, HeadConfig, coarse_loss, info_nce, input_columns, vocab_loss

    if len(samples) < 2:
        raise ModelError("too few lesions with a known site to train the describe head")
    if settings.steps < MIN_STEPS:
        raise ModelError(f"the describe head needs at least {MIN_STEPS} training steps, got {settings.steps}")
    if settings.threads:
        torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    x = np.stack([s.features for s in samples]).astype(np.float32)
    y = np.array([s.entry for s in samples])
    config = HeadConfig(x.shape[1], phrase_text.shape[1], settings.embed_dim, settings.hidden, settings.dropout,
                        [(e.site, e.side) for e in entries], list(phrase_owner), list(phrases), spec,
                        encoder_fingerprint, inputs=settings.inputs, bins=settings.bins)
    head = DescribeHead(config)
    owner_of = np.asarray(config.coarse_owner)
    yc = np.array([s.coarse if s.coarse >= 0 else owner_of[s.entry] for s in samples])
    with torch.no_grad():
        head.feature_mean.copy_(torch.from_numpy(x.mean(0)))
        head.feature_std.copy_(torch.from_numpy(x.std(0) + 1e-3))
        head.phrase_text.copy_(torch.from_numpy(phrase_text))
        if settings.bins:  # bumps at the training quantiles of each standardised input
            z = ((x - x.mean(0)) / (x.std(0) + 1e-3))[:, input_columns(config)]
            centres = np.quantile(z, np.linspace(0, 1, settings.bins), axis=0).astype(np.float32)
            head.bin_centres.copy_(torch.from_numpy(centres))
            head.bin_width.copy_(torch.from_numpy(np.maximum(np.diff(centres, axis=0).mean(0), 1e-3)))
    owner = np.asarray(phrase_owner)
    by_entry = {int(e): np.flatnonzero(owner == e) for e in np.unique(owner)}
    # classes to balance: every fine entry present, and every coarse site known only as a grouping
    keys = np.where(y >= 0, y, -1 - yc)
    present = np.unique(keys)
    members = {int(e): np.flatnonzero(keys == e) for e in present}
    optimizer = torch.optim.AdamW(head.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    # a tenth of the steps warms up; at least two, or the one-cycle schedule divides by a zero-length phase
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, settings.lr, total_steps=settings.steps,
                                                   pct_start=min(0.5, max(0.1, 2.0 / settings.steps)))
    xt = torch.from_numpy(x)
    std = head.feature_std
    head.train()
    started = time.monotonic()
    for step in range(settings.steps):
        chosen = rng.choice(present, size=settings.batch)  # class-balanced: entries first, then a lesion
        idx = np.array([rng.choice(members[int(e)]) for e in chosen])
        feats = xt[idx] + settings.noise * std * torch.randn(len(idx), x.shape[1])
        scale = head.logit_scale.exp().clamp(max=100.0)
        loss = coarse_loss(head, feats, torch.from_numpy(yc[idx]))
        fine = y[idx] >= 0
        if fine.sum() >= 2:
            labels = torch.from_numpy(y[idx][fine])
            phrase_idx = [int(rng.choice(by_entry[int(e)])) for e in y[idx][fine]]
            texts = head.embed_text(head.phrase_text[phrase_idx])
            lesions = head.embed_lesions(feats[torch.from_numpy(fine)])
            loss = loss + info_nce(lesions, texts, labels, scale, settings.margin) + \
                vocab_loss(head, feats[torch.from_numpy(fine)], labels, settings.margin)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        if log is not None and (step + 1) % max(1, settings.steps // 10) == 0:
            log(f"describe head step {step + 1}/{settings.steps} loss {loss.item():.3f}")
    head.eval()
    fine = [k for k, s in enumerate(samples) if s.entry >= 0]
    if settings.forest_trees and len({samples[k].site for k in fine}) >= 2:
        from .describe_forest import fit_forest

        head.forest = fit_forest(x[fine][:, input_columns(config)], [samples[k].site for k in fine],
                                 settings.forest_trees, settings.seed, settings.threads or 1)
        head.config.forest = {"classes": head.forest.classes, "weight": settings.forest_weight}
        if log is not None:
            log(f"describe forest: {settings.forest_trees} trees over {len(head.forest.classes)} sites")
    head.config.training = {"settings": asdict(settings), "samples": len(samples),
                            "entries_seen": int(np.unique(y[y >= 0]).size),
                            "seconds": round(time.monotonic() - started, 1)}
    return head


def predict(head, features: np.ndarray, sides: list[str] | None = None) -> np.ndarray:
    """(N, entries) probabilities, gated by each lesion's side (from ``sides`` or its position features); with a
    site forest, its probabilities blended with the head's (``config.forest["weight"]``)."""
    import torch

    features = np.atleast_2d(np.asarray(features, np.float32))
    with torch.no_grad():
        logits = head.entry_logits(torch.from_numpy(features)).numpy()
    entries = head.config.vocab
    sides = [sides[i] if sides is not None else side_hint(features[i]) for i in range(len(features))]
    out = np.empty_like(logits, dtype=np.float64)
    for i in range(len(features)):
        gated = gate_by_side(logits[i], entries, sides[i])
        gated = np.exp(gated - gated.max())
        out[i] = gated / gated.sum()
    if head.forest is not None:
        from .describe_head import input_columns

        weight = float(head.config.forest.get("weight", 1.0))
        forest = head.forest.proba(features[:, input_columns(head.config)])
        spread = _forest_entries(forest, head.forest.classes, entries, sides)
        has = spread.sum(axis=1, keepdims=True) > 0  # a row the forest gives nothing stays the head's
        out = np.where(has, (1.0 - weight) * out + weight * spread, out)
    return out


def _forest_entries(site_probs: np.ndarray, classes: list[str], entries, sides: list[str]) -> np.ndarray:
    """Site probabilities spread over the vocabulary entries: a site's share goes to its entries on the lesion's
    side (split evenly when the side is not known), then each row is renormalised (left all zero when none of
    its sites has an entry on that side)."""
    column = {site: k for k, site in enumerate(classes)}
    out = np.zeros((site_probs.shape[0], len(entries)))
    for i, side in enumerate(sides):
        allowed = [j for j, e in enumerate(entries)
                   if e.site in column and (side not in ("left", "right") or e.side in ("", side))]
        count: dict[str, int] = {}
        for j in allowed:
            count[entries[j].site] = count.get(entries[j].site, 0) + 1
        for j in allowed:
            out[i, j] = site_probs[i, column[entries[j].site]] / count[entries[j].site]
        total = out[i].sum()
        if total > 0:
            out[i] /= total
    return out


def coarse_probabilities(head, probs: np.ndarray) -> np.ndarray:
    """(N, coarse sites) probabilities: the summed probability of each coarse site's fine entries."""
    probs = np.atleast_2d(probs)
    out = np.zeros((probs.shape[0], len(head.config.coarse_names)))
    np.add.at(out.T, np.asarray(head.config.coarse_owner), probs.T)
    return out


def evaluate_head(head, samples: list[LesionSample]) -> dict:
    """Fine-site top-1 and top-3 (lesions whose fine site is known), coarse-site top-1, region and side
    accuracy on held-out samples; the answer is the one a description gives (model.describe)."""
    if not samples:
        return {"lesions": 0}
    probs = predict(head, np.stack([s.features for s in samples]))
    entries = head.config.vocab
    owner = np.asarray(head.config.coarse_owner)
    by_coarse = coarse_probabilities(head, probs)
    fine = top3 = n_fine = coarse = region = 0
    side_ok = side_n = 0
    for s, p, pc in zip(samples, probs, by_coarse, strict=True):
        order = np.argsort(-p)
        # as a description names it: the most probable coarse site, then its best fine entry
        best = entries[int(np.argmax(np.where(owner == int(np.argmax(pc)), p, -1.0)))]
        truth = SITE_BY_KEY[s.site]
        if s.entry >= 0:
            n_fine += 1
            fine += best.site == s.site
            top3 += s.site in {entries[int(i)].site for i in order[:3]}
        coarse += best.coarse == truth.coarse
        region += best.region == str(truth.region)
        if s.side in ("left", "right"):
            side_n += 1
            side_ok += (best.side or side_hint(s.features)) == s.side
    n = len(samples)
    return {"lesions": n, "fine_lesions": n_fine, "fine_top1": fine / max(n_fine, 1),
            "fine_top3": top3 / max(n_fine, 1), "coarse_top1": coarse / n, "region_top1": region / n,
            "side": side_ok / side_n if side_n else float("nan"), "side_lesions": side_n}


def default_vocabulary() -> tuple[tuple[VocabEntry, ...], list[str], list[int]]:
    entries = vocabulary()
    phrases, owner = phrase_table(entries)
    return entries, phrases, owner


def default_inputs(config) -> str:
    """What a new head for this checkpoint reads: "anatomy" when its coordinate channels are anatomical (where
    along the body a lesion lies, whatever the field of view), else "tabular" (describe_features.INPUTS). Chosen
    on 82 lesions of 36 varied phantoms: fine top-1 56 % against 48 %, coarse 79 % against 70 %."""
    return "anatomy" if FeatureSpec.for_config(config).version >= 2 else "tabular"


def body_level(config) -> float:
    """The PET channel value of the body threshold (0.2 SUV) in the checkpoint's SUV window."""
    lo, hi = config.preprocess.suv_clip
    return (0.2 - lo) / (hi - lo)


def _native_of(kept: list[list[LesionSample]] | None, files: list[str], exam_cache: str | None) -> bool:
    """Whether the head reads the CT at the PET grid's resolution: as the kept sample files were extracted
    (all alike), else unless cached exams, which keep only the model grid, are read."""
    if kept is None:
        return exam_cache is None
    counts = {part[0].native_tissue for part in kept if part}
    if len(counts) > 1:
        raise ModelError(f"the lesion sample files {', '.join(files)} were extracted with and without the CT at "
                         "the PET grid's resolution; extract them again with one version of petground")
    return bool(counts and counts.pop())


def fit_describe_head(network, config, *, phantoms: int = 200, first_seed: int = 100000,
                      tracers: tuple[str, ...] = ("FDG", "FDG", "FDG", "PSMA", "DOTATATE", "FLUCICLOVINE"),
                      resolution_mm: float = 4.0,
                      val_phantoms: int = 0, dataset: str | None = None, exam_cache: str | None = None,
                      settings: HeadTrainSettings | None = None, version: int = 1,
                      extents: tuple[str, ...] = ("neck_to_thighs",), n_lesions: int | None = None,
                      samples_file: str | None = None, log=None):
    """Train a describe head for a grounding checkpoint on phantom lesions (and a dataset's items).

    ``samples_file`` keeps the phantoms' lesion samples (features and sites, an .npz): written the first time,
    read instead of encoding the phantoms (and the ``exam_cache``) again later (trying training settings costs a
    minute then);
    several files, comma-separated, are read together (phantoms of two resolutions, say).
    Returns (head, validation metrics on ``val_phantoms`` further phantoms, or {}).
    """
    from .checkpoint import check_encoder
    from .text import TextEncoder

    encoder = TextEncoder(config.text)
    check_encoder(config, encoder.dim, encoder.fingerprint())
    entries, phrases, owner = default_vocabulary()
    text = embed_phrases(encoder, phrases)
    files = [f.strip() for f in (samples_file or "").split(",") if f.strip()]
    kept = [load_samples(f, entries) for f in files] if files and all(Path(f).is_file() for f in files) else None
    spec = FeatureSpec.for_config(config, body_level(config), native=_native_of(kept, files, exam_cache))
    phantom_kw = {"tracers": tracers, "resolution_mm": resolution_mm, "version": version, "extents": extents,
                  "n_lesions": n_lesions}
    missing = [f for f in files if not Path(f).is_file()]
    if missing and len(files) > 1:  # a mistyped name would silently train on fewer lesions
        raise ModelError(f"lesion sample file{'s' if len(missing) > 1 else ''} not found: {', '.join(missing)} "
                         "(several files are only read; give one file to make and keep new samples)")
    if kept is not None:  # lesion samples kept by earlier runs
        samples = [s for part in kept for s in part]
    else:  # the file keeps the phantoms' and the cached exams' samples, so --exams is not read again with it
        samples = phantom_samples(network, config, range(first_seed, first_seed + phantoms), spec, entries,
                                  grown=True, log=log, **phantom_kw)
        for k, exam in enumerate(cached_exams(exam_cache, config) if exam_cache else ()):
            samples += samples_from_exam(network, exam, config, spec, entries)
            if log is not None:
                log(f"cached exam {k + 1}: {len(samples)} lesion samples")
        if files and samples:
            save_samples(files[0], samples)
        elif files and not phantoms and not exam_cache:
            raise ModelError(f"{files[0]} does not exist, and no phantoms (--phantoms) or cached exams (--exams) "
                             "were given to make its lesion samples from")
    if dataset:
        samples += dataset_samples(network, config, dataset, spec, entries)
    head = train_head(samples, entries, text, owner, phrases, spec, settings or HeadTrainSettings(),
                      encoder.fingerprint(), log=log)
    metrics: dict = {}
    if val_phantoms:
        start = first_seed + phantoms
        val = phantom_samples(network, config, range(start, start + val_phantoms), spec, entries, **phantom_kw)
        metrics = evaluate_head(head, val)
    head.config.training.update({"phantoms": phantoms, "first_seed": first_seed, "tracers": list(tracers),
                                 "resolution_mm": resolution_mm, "phantom_version": version,
                                 "extents": list(extents), "n_lesions": n_lesions, "dataset": dataset,
                                 "exam_cache": exam_cache, "samples_files": [Path(f).name for f in files],
                                 "validation": metrics})
    return head, metrics
