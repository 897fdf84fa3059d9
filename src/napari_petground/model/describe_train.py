"""Training and measuring the describe head on the sentence–mask data grounding learns from.

Lesion samples come from studies with masks whose site is known: phantom truth, a dataset item's truth, or
the site and side the report parser reads from the item's sentence. The grounding network is frozen; its
encoder runs once per study and every lesion becomes a feature vector (model.describe_features), so the
head trains on vectors in seconds to minutes of CPU. Each step draws a class-balanced batch of lesions, one
random lexicon phrasing of each lesion's (site, side), and minimises the symmetric InfoNCE loss with same-entry
pairs masked out, the loss against the whole fine vocabulary and the loss against the coarse sites
(model.describe_head). A lesion known only by a grouping site ("vertebra" without its level) teaches the
coarse level alone.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ModelError
from ..report.lexicon import SITE_BY_KEY
from .describe_features import N_POSITION, EncodedStudy, FeatureSpec, lesion_features
from .describe_vocab import VocabEntry, coarse_index, entry_index, phrase_table, vocabulary
from .npz import read_npz

SIDE_TOLERANCE_MM = 5.0


@dataclass
class LesionSample:
    features: np.ndarray
    site: str
    side: str
    entry: int  # fine vocabulary entry, -1 when only the coarse site is known
    case: str = ""
    info: dict = field(default_factory=dict)
    coarse: int = -1  # index of the coarse site (describe_vocab.coarse_sites)


def site_of_sentence(sentence: str) -> tuple[str, str]:
    """(site, side) the report parser reads from a sentence ("" when it names none)."""
    from ..report.parse import findings_in_sentence

    for finding in findings_in_sentence(sentence):
        if finding.site:
            return finding.site, finding.laterality if finding.laterality in ("left", "right") else ""
    return "", ""


def samples_from_encoded(encoded: EncodedStudy, masks: Iterable[np.ndarray], labels: Iterable[tuple[str, str]],
                         spec: FeatureSpec, entries: tuple[VocabEntry, ...], case: str = "",
                         infos: Iterable[dict] | None = None) -> list[LesionSample]:
    """One sample per model-grid mask whose site is in the vocabulary (a fine entry, or a grouping site that
    only its coarse level knows); others are skipped."""
    out = []
    infos = list(infos) if infos is not None else None
    for k, (mask, (site, side)) in enumerate(zip(masks, labels, strict=True)):
        index = entry_index(entries, site, side)
        coarse = coarse_index(entries, site)
        if (index is None and coarse is None) or not np.any(mask):
            continue
        info = infos[k] if infos is not None else {}
        side = entries[index].side if index is not None else side if side in ("left", "right") else ""
        out.append(LesionSample(lesion_features(encoded, mask, spec), site, side,
                                -1 if index is None else index, case, info, -1 if coarse is None else coarse))
    return out


def samples_from_exam(network, exam, config, spec: FeatureSpec, entries: tuple[VocabEntry, ...]) -> list[LesionSample]:
    """Samples of a training Exam (model.data): site from the sentence's truth, else from its words."""
    from .describe_features import encode_image

    encoded = encode_image(network, exam.image, spec, config.preprocess.spacing_mm, (0.0, 0.0, 0.0))
    labels: dict[int, tuple[str, str]] = {}
    for sentence in exam.sentences:
        if sentence.target in labels:
            continue
        site = str(sentence.info.get("site", ""))
        side = str(sentence.info.get("laterality", sentence.info.get("side", "")))
        if not site:
            site, side = site_of_sentence(sentence.text)
        if site:
            labels[sentence.target] = (site, side)
    targets = sorted(labels)
    return samples_from_encoded(encoded, [exam.targets[t] for t in targets], [labels[t] for t in targets], spec,
                                entries, exam.case)


def samples_from_phantom(network, config, phantom, spec: FeatureSpec, entries: tuple[VocabEntry, ...],
                         grown: bool = False) -> list[LesionSample]:
    """Samples of a phantom's lesions (truth masks; with ``grown`` also masks grown from each SUVmax voxel)."""
    from ..phantom.fine import fine_site
    from ..weaklabel.grow import grow_lesion
    from .data import target_on_model_grid
    from .describe_features import encode_study

    study = phantom.study
    encoded = encode_study(network, config, study, spec)
    masks, labels, infos = [], [], []
    for lesion in phantom.lesions:
        pet_masks = [phantom.lesion_labels == lesion.id]
        if grown:
            result = grow_lesion(study.pet.data, lesion.peak_index, study.pet.spacing)
            if result.ok:
                pet_masks.append(result.mask)
        for m in pet_masks:
            masks.append(target_on_model_grid(m, encoded.prepared))
            labels.append(fine_site(lesion))
            infos.append({"lesion": lesion.id, "kind": lesion.kind, "volume_ml": lesion.volume_ml})
    return samples_from_encoded(encoded, masks, labels, spec, entries, f"phantom-{phantom.seed}", infos)


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


def phantom_samples(network, config, seeds: Iterable[int], spec: FeatureSpec, entries: tuple[VocabEntry, ...], *,
                    tracers: tuple[str, ...] = ("FDG",), resolution_mm: float = 4.0, grown: bool = False,
                    version: int = 1, extents: tuple[str, ...] = ("neck_to_thighs",), n_lesions: int | None = None,
                    log=None) -> list[LesionSample]:
    """Samples of the lesions of phantoms ``seeds`` (tracers and extents cycled over the seeds; ``version``
    2 for the whole vocabulary's sites, see phantom.generate)."""
    from ..errors import PhantomError
    from ..phantom.fields import phantom_in_field

    seeds = list(seeds)
    out: list[LesionSample] = []
    for k, seed in enumerate(seeds):
        try:  # an extent may be a cut (chest, abdomen_pelvis ...): a seed whose cut holds no lesion is passed over
            phantom = phantom_in_field(seed, extents[k % len(extents)], tracer=tracers[k % len(tracers)],
                                       resolution_mm=resolution_mm, n_lesions=n_lesions, version=version)
        except PhantomError:
            continue
        out += samples_from_phantom(network, config, phantom, spec, entries, grown=grown)
        if log is not None:
            log(f"phantom {k + 1}/{len(seeds)}: {len(out)} lesion samples")
    return out


def save_samples(path: str | Path, samples: list[LesionSample]) -> None:
    """Lesion samples as an .npz (features, site, side, case): what training needs, not the phantoms."""
    import io

    from ..atomic import atomic_write_bytes

    buffer = io.BytesIO()
    np.savez_compressed(buffer, features=np.stack([s.features for s in samples]).astype(np.float32),
                        site=np.array([s.site for s in samples]), side=np.array([s.side for s in samples]),
                        case=np.array([s.case for s in samples]))
    atomic_write_bytes(Path(path), buffer.getvalue())


def load_samples(path: str | Path, entries: tuple[VocabEntry, ...]) -> list[LesionSample]:
    """Samples written by save_samples, indexed into ``entries`` (sites the vocabulary lacks are skipped)."""
    keys = ("features", "site", "side", "case")
    arrays = read_npz(path, keys, "lesion samples", "`petground describe-train --samples`")
    columns = [arrays[key] for key in keys]
    out = []
    for features, site, side, case in zip(*columns, strict=True):
        index, coarse = entry_index(entries, str(site), str(side)), coarse_index(entries, str(site))
        if index is None and coarse is None:
            continue
        out.append(LesionSample(np.asarray(features), str(site), str(side), -1 if index is None else index,
                                str(case), {}, -1 if coarse is None else coarse))
    return out


def cached_exams(folder: str | Path, config=None) -> Iterable:
    """Exams a grounding training run preprocessed and cached (model.data: ``<case>-<key>.npz``), one by one.

    With ``config``, exams whose input channels differ from the checkpoint's preprocessing are refused.
    """
    import json

    from .data import Exam, Sentence

    paths = sorted(Path(folder).glob("*.npz"))
    if not paths:
        raise ModelError(f"{folder} holds no cached exams (*.npz); give a training run's cache folder")
    for path in paths:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            channels = int(data["image"].shape[0])
            if config is not None and channels != config.preprocess.in_channels:
                raise ModelError(f"{path.name} was preprocessed with {channels} input channels, the checkpoint "
                                 f"uses {config.preprocess.in_channels}; give the cache of this checkpoint's run")
            yield Exam(meta["case"], data["image"], data["targets"], [Sentence(**s) for s in meta["sentences"]],
                       meta.get("tracer", ""))


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
    spec = FeatureSpec.for_config(config, body_level(config))
    phantom_kw = {"tracers": tracers, "resolution_mm": resolution_mm, "version": version, "extents": extents,
                  "n_lesions": n_lesions}
    files = [f.strip() for f in (samples_file or "").split(",") if f.strip()]
    missing = [f for f in files if not Path(f).is_file()]
    if missing and len(files) > 1:  # a mistyped name would silently train on fewer lesions
        raise ModelError(f"lesion sample file{'s' if len(missing) > 1 else ''} not found: {', '.join(missing)} "
                         "(several files are only read; give one file to make and keep new samples)")
    if files and not missing:  # lesion samples kept by earlier runs
        samples = [s for f in files for s in load_samples(f, entries)]
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
        from .data import dataset_exams

        for exam in dataset_exams(dataset, config):
            samples += samples_from_exam(network, exam, config, spec, entries)
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
