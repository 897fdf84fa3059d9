"""Training material: exams preprocessed once, each with its sentences and their targets on the model grid.

An ``Exam`` holds the network input of one study and one ``Sentence`` per dataset item (or per phantom
lesion phrasing) with the item's mask on the model grid. Exams come from a dataset folder
(napari_petground.dataset layout: weak-label cohorts, phantom cohorts) or straight from the phantom
generator. Preprocessed exams are cached as .npz so a resumed or repeated run does not redo them.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..dataset import Dataset
from ..study.volume import Volume
from .config import ModelConfig
from .preprocess import Prepared, preprocess

TRAINABLE_STATUS = ("matched", "truth", "accepted", "corrected")


@dataclass
class Sentence:
    text: str  # as written (numbers stripped later, by the text encoder's cleaning)
    target: int  # index into Exam.targets
    tracer: str = ""
    info: dict = field(default_factory=dict)  # lesion id, side, site, ... (phantom truth)


@dataclass
class Exam:
    case: str
    image: np.ndarray  # float32 (C, Z, Y, X)
    targets: np.ndarray  # uint8 (T, Z, Y, X): one mask per lesion / dataset label
    sentences: list[Sentence]
    tracer: str = ""

    @property
    def all_lesions(self) -> np.ndarray:
        """Union of every described lesion: the target of the text-blind network."""
        return self.targets.max(axis=0) if len(self.targets) else np.zeros(self.image.shape[1:], np.uint8)


def target_on_model_grid(mask_on_pet: np.ndarray, prepared: Prepared) -> np.ndarray:
    """Binary target on the model grid: voxels at least half covered, and never empty for a lesion that exists.

    At 8 mm a 1 cm lesion covers no voxel by half; it still gets its best-covered voxel so it is learned.
    """
    fraction = prepared.from_pet_grid(mask_on_pet.astype(np.float32))
    target = fraction >= 0.5
    if not target.any() and fraction.max() > 0.05:
        target[np.unravel_index(int(np.argmax(fraction)), fraction.shape)] = True
    return target.astype(np.uint8)


def exam_from_arrays(case: str, pet: Volume, ct: Volume | None, masks: list[np.ndarray],
                     sentences: list[Sentence], config: ModelConfig, tracer: str = "") -> Exam:
    prepared = preprocess(pet, ct, config.preprocess, config.network.total_stride)
    targets = np.stack([target_on_model_grid(m, prepared) for m in masks]) if masks else \
        np.zeros((0, *prepared.shape), np.uint8)
    return Exam(case, prepared.image, targets, sentences, tracer)


def trainable_items(dataset: Dataset, case: str) -> list:
    """The items of ``case`` a model learns from: with a mask, and a status training accepts."""
    return [i for i in dataset.items(case) if i.label is not None and i.status in TRAINABLE_STATUS]


def target_labels(items: list) -> list[int]:
    """The label values of ``items`` in the order of their exam's targets."""
    return sorted({int(i.label) for i in items})


def dataset_exams(root: str | Path, config: ModelConfig, cases: list[str] | None = None,
                  cache: str | Path | None = None) -> list[Exam]:
    """Exams of a dataset folder; items without a usable mask are skipped."""
    dataset = Dataset(root)
    out = []
    for case in cases if cases is not None else dataset.cases():
        cached = _load_cached(cache, case, config)
        if cached is not None:
            out.append(cached)
            continue
        items = trainable_items(dataset, case)
        if not items:
            continue
        ct, pet = dataset.load_images(case)
        labels = dataset.load_labels(case)
        values = target_labels(items)
        masks = [labels == v for v in values]
        sentences = [
            Sentence(i.sentence, values.index(int(i.label)), i.tracer, {**i.truth, "item_id": i.item_id})
            for i in items
        ]
        tracer = items[0].tracer
        exam = exam_from_arrays(case, pet, ct, masks, sentences, config, tracer)
        _save_cached(cache, exam, config)
        out.append(exam)
    return out


def _cache_key(config: ModelConfig) -> str:
    import hashlib

    # only what changes the arrays: the input size of the network (patch, overlap) does not
    preprocess = {k: v for k, v in config.to_dict()["preprocess"].items() if k not in ("patch_size", "sliding_overlap")}
    if not preprocess.get("pet_peak_channel"):  # off: the key of the caches made before the setting existed
        preprocess.pop("pet_peak_channel", None)
    payload = json.dumps({"p": preprocess, "s": config.network.total_stride}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def _cache_path(cache: str | Path | None, case: str, config: ModelConfig) -> Path | None:
    if cache is None:
        return None
    return Path(cache) / f"{case.replace('/', '_')}-{_cache_key(config)}.npz"


def _load_cached(cache, case: str, config: ModelConfig) -> Exam | None:
    path = _cache_path(cache, case, config)
    if path is None or not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        sentences = [Sentence(**s) for s in meta["sentences"]]
        return Exam(meta["case"], data["image"], data["targets"], sentences, meta["tracer"])


def _save_cached(cache, exam: Exam, config: ModelConfig) -> None:
    path = _cache_path(cache, exam.case, config)
    if path is None:
        return
    from ..atomic import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"case": exam.case, "tracer": exam.tracer,
            "sentences": [{"text": s.text, "target": s.target, "tracer": s.tracer, "info": s.info}
                          for s in exam.sentences]}
    atomic_write(path, lambda tmp: np.savez(tmp, image=exam.image, targets=exam.targets,
                                            meta=np.array(json.dumps(meta))))


TRAIN_SENTENCE_KINDS = ("numbers", "no_numbers", "prior", "impression")


# fields of view of the varied training phantoms, and how often each is drawn
VARIED_FIELDS = (("neck_to_thighs", 0.35), ("whole_body", 0.15), ("chest", 0.15), ("abdomen_pelvis", 0.15),
                 ("neck_chest", 0.12), ("head_neck", 0.08))


def varied_phantom(seed: int, tracer: str, version: int = 1):
    """A phantom of random field of view, voxel size (3–5 mm) and noise (0.7–1.5 of the usual), the same for a
    seed; a cut that holds no lesion falls back to the generated exam."""
    from ..errors import PhantomError
    from ..phantom import make_phantom
    from ..phantom.fields import CUTS, cut_phantom

    rng = np.random.default_rng([seed, 11])
    names, weights = zip(*VARIED_FIELDS, strict=True)
    field = str(rng.choice(names, p=np.asarray(weights) / sum(weights)))
    resolution = float(rng.choice((3.0, 3.5, 4.0, 4.5, 5.0)))
    extent = "whole_body" if field in ("whole_body", "head_neck") else "neck_to_thighs"
    phantom = make_phantom(seed, tracer=tracer, resolution_mm=resolution, extent=extent, version=version,
                           noise=float(rng.uniform(0.7, 1.5)))
    if field in CUTS:
        with contextlib.suppress(PhantomError):  # no lesion inside: keep the generated exam
            phantom = cut_phantom(phantom, field, rng)
    return phantom


def phantom_exam(seed: int, config: ModelConfig, *, tracer: str = "FDG", resolution_mm: float = 4.0,
                 phrasings: int = 4, variety: bool = False, version: int = 1) -> Exam:
    """One generated phantom as an Exam: its report's single-lesion sentences plus extra phrasings per lesion
    (``variety``: a varied field of view, voxel size and noise, ``varied_phantom``)."""
    from ..phantom import lesion_sentence, make_phantom

    if variety:
        phantom = varied_phantom(seed, tracer, version)
    else:
        phantom = make_phantom(seed, tracer=tracer, resolution_mm=resolution_mm, version=version)
    ids = [les.id for les in phantom.lesions]
    masks = [phantom.lesion_labels == i for i in ids]
    rng = np.random.default_rng([seed, 7])
    sentences = []
    for les in phantom.lesions:
        info = {"lesion_id": les.id, "site": les.site, "side": les.laterality, "kind": les.kind,
                "suvmax": les.suvmax, "group": les.group, "low_uptake": bool(les.low_uptake)}
        texts = [s.text for s in phantom.sentences if s.lesion_id == les.id and s.kind in TRAIN_SENTENCE_KINDS]
        texts += [lesion_sentence(les, rng, bool(rng.random() < 0.5), tracer=phantom.tracer) for _ in range(phrasings)]
        sentences += [Sentence(t, ids.index(les.id), phantom.tracer, info) for t in dict.fromkeys(texts)]
    return exam_from_arrays(f"phantom-{seed:05d}", phantom.study.pet, phantom.study.ct, masks, sentences, config,
                            phantom.tracer)


def _phantom_job(args) -> Exam:
    seed, config_dict, tracer, resolution_mm, variety, version, cache = args
    config = ModelConfig.from_dict(config_dict)
    case = f"phantom-{seed:05d}-{tracer}" + ("-varied" if variety else "") + (f"-v{version}" if version != 1 else "")
    cached = _load_cached(cache, case, config)
    if cached is not None:
        return cached
    exam = phantom_exam(seed, config, tracer=tracer, resolution_mm=resolution_mm, variety=variety, version=version)
    exam.case = case
    _save_cached(cache, exam, config)
    return exam


def phantom_exams(seeds: list[int], config: ModelConfig, *, tracers: tuple[str, ...] = ("FDG",),
                  resolution_mm: float = 4.0, cache: str | Path | None = None, workers: int = 1,
                  variety: bool = False, version: int = 1) -> list[Exam]:
    """Generated exams for ``seeds`` (tracers cycled), cached as .npz; ``workers`` processes in parallel."""
    jobs = [(s, config.to_dict(), tracers[i % len(tracers)], resolution_mm, variety, version,
             str(cache) if cache else None) for i, s in enumerate(seeds)]
    if workers <= 1:
        return [_phantom_job(j) for j in jobs]
    import multiprocessing as mp

    with mp.get_context("spawn").Pool(workers) as pool:
        return pool.map(_phantom_job, jobs, chunksize=4)


def first_sentences(exams: list[Exam], per_lesion: int = 1) -> list[Exam]:
    """The same exams keeping ``per_lesion`` sentences per lesion (cheaper validation)."""
    out = []
    for exam in exams:
        counts: dict[int, int] = {}
        kept = []
        for s in exam.sentences:
            if counts.get(s.target, 0) < per_lesion:
                kept.append(s)
                counts[s.target] = counts.get(s.target, 0) + 1
        out.append(Exam(exam.case, exam.image, exam.targets, kept, exam.tracer))
    return out


def drop_unseen(exams: list[Exam]) -> list[Exam]:
    """The same exams without sentences whose lesion has no voxel on the model grid (too small for the
    spacing: less than 5 % of a model voxel), and without exams left with no sentence."""
    out = []
    for exam in exams:
        seen = {t for t in range(len(exam.targets)) if exam.targets[t].any()}
        kept = [s for s in exam.sentences if s.target in seen]
        if kept:
            out.append(Exam(exam.case, exam.image, exam.targets, kept, exam.tracer))
    return out
