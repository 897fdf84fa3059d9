"""Lesion samples for the describe head: a feature vector and a known site per lesion, from phantoms, a
dataset's items or a grounding run's cached exams, and kept in an .npz so trying training settings does not
encode the studies again.

Lesion samples come from studies with masks whose site is known: phantom truth, a dataset item's truth, or
the site and side the report parser reads from the item's sentence. The grounding network is frozen; its
encoder runs once per study and every lesion becomes a feature vector (model.describe_features), plus the CT
around it at the PET grid's resolution (model.describe_tissue) where the study is at hand.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ModelError
from .describe_features import EncodedStudy, FeatureSpec, lesion_features
from .describe_vocab import VocabEntry, coarse_index, entry_index
from .npz import read_npz


@dataclass
class LesionSample:
    features: np.ndarray
    site: str
    side: str
    entry: int  # fine vocabulary entry, -1 when only the coarse site is known
    case: str = ""
    info: dict = field(default_factory=dict)
    coarse: int = -1  # index of the coarse site (describe_vocab.coarse_sites)
    native_tissue: int = 0  # how many features are CT numbers at the PET grid's resolution (FeatureSpec)


def site_of_sentence(sentence: str) -> tuple[str, str]:
    """(site, side) the report parser reads from a sentence ("" when it names none)."""
    from ..report.parse import findings_in_sentence

    for finding in findings_in_sentence(sentence):
        if finding.site:
            return finding.site, finding.laterality if finding.laterality in ("left", "right") else ""
    return "", ""


def samples_from_encoded(encoded: EncodedStudy, masks: Iterable[np.ndarray], labels: Iterable[tuple[str, str]],
                         spec: FeatureSpec, entries: tuple[VocabEntry, ...], case: str = "",
                         infos: Iterable[dict] | None = None,
                         natives: Iterable[np.ndarray | None] | None = None) -> list[LesionSample]:
    """One sample per model-grid mask whose site is in the vocabulary (a fine entry, or a grouping site that
    only its coarse level knows); others are skipped. ``natives``: each mask's CT numbers at the PET grid's
    resolution (model.describe_tissue), needed when ``spec`` keeps them."""
    out = []
    masks = list(masks)
    infos = list(infos) if infos is not None else None
    natives = list(natives) if natives is not None else [None] * len(masks)
    for k, (mask, (site, side)) in enumerate(zip(masks, labels, strict=True)):
        index = entry_index(entries, site, side)
        coarse = coarse_index(entries, site)
        if (index is None and coarse is None) or not np.any(mask):
            continue
        info = infos[k] if infos is not None else {}
        side = entries[index].side if index is not None else side if side in ("left", "right") else ""
        out.append(LesionSample(lesion_features(encoded, mask, spec, natives[k]), site, side,
                                -1 if index is None else index, case, info, -1 if coarse is None else coarse,
                                spec.native_tissue))
    return out


def samples_from_exam(network, exam, config, spec: FeatureSpec, entries: tuple[VocabEntry, ...],
                      natives: dict[int, np.ndarray] | None = None) -> list[LesionSample]:
    """Samples of a training Exam (model.data): site from the sentence's truth, else from its words.
    ``natives``: each target's CT numbers at the PET grid's resolution, which the exam itself does not keep."""
    from .describe_features import encode_image

    if spec.native_tissue and natives is None:
        raise ModelError(f"{exam.case}: a cached exam keeps only the model grid, not the CT at the PET grid's "
                         "resolution this describe head reads; describe-train --exams trains a head without it")

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
                                entries, exam.case,
                                natives=[natives.get(t) for t in targets] if natives is not None else None)


def samples_from_phantom(network, config, phantom, spec: FeatureSpec, entries: tuple[VocabEntry, ...],
                         grown: bool = False) -> list[LesionSample]:
    """Samples of a phantom's lesions (truth masks; with ``grown`` also masks grown from each SUVmax voxel)."""
    from ..phantom.fine import fine_site
    from ..weaklabel.grow import grow_lesion
    from ..weaklabel.label import study_ct_on_pet
    from .data import target_on_model_grid
    from .describe_features import encode_study
    from .describe_tissue import native_tissue_features

    study = phantom.study
    encoded = encode_study(network, config, study, spec)
    ct_hu = study_ct_on_pet(study) if spec.native_tissue else None
    masks, labels, infos, natives = [], [], [], []
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
            natives.append(native_tissue_features(ct_hu, study.pet.spacing, m) if spec.native_tissue else None)
    return samples_from_encoded(encoded, masks, labels, spec, entries, f"phantom-{phantom.seed}", infos, natives)


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
                        case=np.array([s.case for s in samples]),
                        native_tissue=np.array(samples[0].native_tissue if samples else 0))
    atomic_write_bytes(Path(path), buffer.getvalue())


def load_samples(path: str | Path, entries: tuple[VocabEntry, ...]) -> list[LesionSample]:
    """Samples written by save_samples, indexed into ``entries`` (sites the vocabulary lacks are skipped)."""
    keys = ("features", "site", "side", "case")
    arrays = read_npz(path, keys, "lesion samples", "`petground describe-train --samples`")
    columns = [arrays[key] for key in keys]
    native = int(arrays.get("native_tissue", 0))  # files written before the PET-grid CT numbers hold none
    out = []
    for features, site, side, case in zip(*columns, strict=True):
        index, coarse = entry_index(entries, str(site), str(side)), coarse_index(entries, str(site))
        if index is None and coarse is None:
            continue
        out.append(LesionSample(np.asarray(features), str(site), str(side), -1 if index is None else index,
                                str(case), {}, -1 if coarse is None else coarse, native))
    return out


def dataset_samples(network, config, root: str, spec: FeatureSpec,
                    entries: tuple[VocabEntry, ...]) -> list[LesionSample]:
    """Samples of a dataset's items, each with its CT numbers at the PET grid's resolution when ``spec`` keeps
    them (the dataset's CT is stored on the PET grid)."""
    from ..dataset import Dataset
    from .data import dataset_exams, target_labels, trainable_items
    from .describe_tissue import native_tissue_features

    out: list[LesionSample] = []
    data = Dataset(root) if spec.native_tissue else None
    for exam in dataset_exams(root, config):
        natives = None
        if data is not None:
            ct, pet = data.load_images(exam.case)
            labels = data.load_labels(exam.case)
            values = target_labels(trainable_items(data, exam.case))
            natives = {t: native_tissue_features(np.asarray(ct.data), pet.spacing, labels == v)
                       for t, v in enumerate(values)}
        out += samples_from_exam(network, exam, config, spec, entries, natives)
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
