"""Evaluation as the paper does it, side by side with the text-blind network and the numbers-only heuristic.

For every sentence that describes one lesion: the model's probability -> the single most confident
component above 0.5 (network alone, the paper's rule) and the viewer's choice (Grounder.ground, the answer
the viewer shows: model.select, where the numbers pick among the regions, and without numbers the network's
region or its fallbacks, checked against the sentence's site by model.recheck); the
text-blind network's most confident component (one answer per exam, whatever the sentence); and
weaklabel.weak_label (numbers only, no network). Each is scored with the three lesion-level F1 variants and
Dice (model.metrics), overall and by tracer, lesion size, uptake (low: SUVmax < 2x liver background),
sentence with/without numbers, exams with at least three lesions, sentences whose mirror-image twin lesion
is in the same exam, and sentences with a same-site sibling (another lesion at the same site and side: the
words that tell them apart are a sub-site such as "segment VII" or "L3", or "the more cranial of two").
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from .metrics import VARIANTS, Counts, dice, lesion_counts, most_confident_component

METHODS = ("model", "model+numbers", "blind", "weak-label")
EVAL_SENTENCE_KINDS = ("numbers", "no_numbers", "prior", "impression")


@dataclass
class Case:
    """One exam to evaluate: the study, one truth mask per lesion, and the sentences with their lesion."""

    name: str
    study: object
    masks: dict[int, np.ndarray]  # lesion key -> bool mask on the PET grid
    sentences: list[tuple[str, int, dict]]  # (text, lesion key, info)
    liver_background: float | None = None


@dataclass
class Record:
    case: str
    sentence: str
    info: dict
    groups: list[str]
    outcome: dict = field(default_factory=dict)  # method -> {variant: [tp, fp, fn], "dice": float}


def size_group(diameter_mm: float | None, volume_ml: float) -> str:
    d = diameter_mm if diameter_mm else 2.0 * (3.0 * volume_ml * 1000.0 / (4.0 * np.pi)) ** (1.0 / 3.0)
    return "size < 15 mm" if d < 15 else ("size 15-25 mm" if d <= 25 else "size > 25 mm")


def phantom_cases(n: int, first_seed: int, tracers: tuple[str, ...], resolution_mm: float = 4.0,
                  field: str = "neck_to_thighs", version: int = 1) -> Iterator[Case]:
    """Fresh phantoms (seeds first_seed …) with their single-lesion report sentences, in the field of view
    ``field`` (phantom.fields: generated whole body or neck to thighs, or cut to the chest, abdomen and
    pelvis, neck and chest, head and neck); a seed whose cut holds no lesion is passed over."""
    from ..errors import PhantomError
    from ..phantom.fields import phantom_in_field

    for i in range(n):
        try:
            ph = phantom_in_field(first_seed + i, field, tracer=tracers[i % len(tracers)],
                                  resolution_mm=resolution_mm, version=version)
        except PhantomError:
            continue
        liver = float(ph.options.get("reference", {}).get("liver_mean") or 0.0) or None
        lesions = {les.id: les for les in ph.lesions}
        masks = {i: ph.lesion_labels == i for i in lesions}
        sentences = []
        for s in ph.sentences:
            if s.lesion_id is None or s.kind not in EVAL_SENTENCE_KINDS:
                continue
            les = lesions[s.lesion_id]
            twin = any(o.id != les.id and o.group is not None and o.group == les.group and o.laterality and
                       les.laterality and o.laterality != les.laterality for o in ph.lesions)
            sibling = any(o.id != les.id and o.site == les.site and o.laterality == les.laterality
                          for o in ph.lesions)
            sentences.append((s.text, les.id, {
                "tracer": ph.tracer, "kind": s.kind, "site": les.site, "side": les.laterality, "twin": twin,
                "sibling": sibling,
                "suvmax": les.suvmax, "diameter_mm": les.diameter_mm, "volume_ml": les.volume_ml,
                "n_lesions": len(ph.lesions),
            }))
        yield Case(f"phantom-{first_seed + i}", ph.study, masks, sentences, liver)


def dataset_cases(root) -> Iterator[Case]:
    """Cases of a dataset folder (items with masks), image numbers as the dataset recorded them (the exam's DICOM
    numbers, so a report's "image N" is checked against the slice it meant)."""
    from ..dataset import Dataset
    from ..study.study import Study
    from .data import TRAINABLE_STATUS

    dataset = Dataset(root)
    for case in dataset.cases():
        items = [i for i in dataset.items(case) if i.label is not None and i.status in TRAINABLE_STATUS]
        if not items:
            continue
        ct, pet = dataset.load_images(case)
        labels = dataset.load_labels(case)
        study = Study(pet=pet, ct=ct, numbering=dataset.numbering(case, pet.shape[0]), tracer=items[0].tracer,
                      title=case)
        masks = {int(i.label): labels == int(i.label) for i in items}
        n_lesions = len(masks)
        sentences = []
        for i in items:
            t = i.truth
            sentences.append((i.sentence, int(i.label), {
                "tracer": i.tracer, "kind": t.get("kind", ""), "site": t.get("site", i.finding.get("site", "")),
                "side": t.get("laterality", i.finding.get("laterality", "")), "twin": bool(t.get("twin", False)),
                "suvmax": float(pet.data[masks[int(i.label)]].max()), "diameter_mm": t.get("diameter_mm"),
                "volume_ml": float(masks[int(i.label)].sum() * pet.voxel_volume_ml), "n_lesions": n_lesions,
            }))
        yield Case(case, study, masks, sentences, None)


def _groups(info: dict, has_numbers: bool, liver: float | None) -> list[str]:
    out = ["all", f"tracer {info['tracer'] or 'unknown'}", size_group(info.get("diameter_mm"), info["volume_ml"]),
           "with numbers" if has_numbers else "without numbers"]
    if liver:
        out.append("low uptake" if info["suvmax"] < 2.0 * liver else "typical uptake")
    if info.get("n_lesions", 0) >= 3:
        out.append(">= 3 lesions in exam")
    if info.get("twin"):
        out.append("mirror twin present")
    if info.get("sibling"):  # another lesion at the same site and side: told apart by sub-site or height words
        out.append("same-site sibling present")
    elif not has_numbers and "sibling" in info:  # known for phantoms only
        out.append("without numbers, no same-site sibling")
    return out


def _score(mask: np.ndarray, truth: np.ndarray, pet: np.ndarray) -> dict:
    counts = lesion_counts(mask, truth, pet)
    out = {k: [c.tp, c.fp, c.fn] for k, c in counts.items()}
    out["dice_value"] = dice(mask, truth)
    return out


def evaluate_cases(cases, grounder=None, blind=None, weak: bool = True, progress: bool = True) -> list[Record]:
    """Score every sentence of every case with the available methods."""
    from ..report import extract_findings
    from ..session import StudySession
    from .select import uses_numbers

    records: list[Record] = []
    for case in cases:
        pet = np.asarray(case.study.pet.data)
        session = StudySession(case.study)  # encoded once per model, whatever the number of sentences
        blind_mask = most_confident_component(blind.probability(session, None)) if blind is not None else None
        for text, key, info in case.sentences:
            truth = case.masks[key]
            findings = extract_findings(text, tracer=case.study.tracer)
            finding = findings[0] if findings else None
            numbered = uses_numbers(finding)
            record = Record(case.name, text, info, _groups(info, numbered, case.liver_background))
            if grounder is not None:
                grounding = grounder.ground(session, text)  # what the viewer shows, site check included
                record.outcome["model"] = _score(most_confident_component(grounding.probability), truth, pet)
                record.outcome["model+numbers"] = _score(grounding.mask, truth, pet)
            if blind_mask is not None:
                record.outcome["blind"] = _score(blind_mask, truth, pet)
            if weak and finding is not None and numbered:
                from ..weaklabel import weak_label

                label = weak_label(case.study, finding)
                record.outcome["weak-label"] = _score(label.mask if label.matched else np.zeros_like(truth), truth, pet)
            records.append(record)
        if progress:
            print(f"  {case.name}: {len(case.sentences)} sentences", file=sys.stderr, flush=True)
    return records


def summarise(records: list[Record]) -> dict:
    """{group: {method: {n, overlap_f1, dice_f1, suvmax_f1, dice}}} in a stable order."""
    table: dict[str, dict[str, dict]] = {}
    for record in records:
        for group in record.groups:
            for method, outcome in record.outcome.items():
                cell = table.setdefault(group, {}).setdefault(
                    method, {"counts": {v: Counts() for v in VARIANTS}, "dice": []})
                for variant in VARIANTS:
                    if variant in outcome:
                        cell["counts"][variant].add(Counts(*outcome[variant]))
                cell["dice"].append(outcome["dice_value"])
    out: dict[str, dict] = {}
    for group in sorted(table, key=_group_order):
        out[group] = {}
        for method in METHODS:
            cell = table[group].get(method)
            if cell is None:
                continue
            out[group][method] = {"n": len(cell["dice"]), **{
                f"{v}_f1": round(cell["counts"][v].f1, 3) for v in VARIANTS}, "dice": round(float(np.mean(cell["dice"])), 3)}
    return out


def _group_order(name: str) -> tuple:
    prefixes = ("all", "with", "without", "tracer", "size", "low", "typical", ">=", "mirror", "same-site")
    return (next((i for i, p in enumerate(prefixes) if name.startswith(p)), 99), name)


def format_table(result: dict) -> str:
    """Markdown table: one row per group and method."""
    lines = ["| group | method | n | F1 overlap | F1 Dice>0.5 | F1 SUVmax | mean Dice |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for group, methods in result["groups"].items():
        for method, cell in methods.items():
            lines.append(f"| {group} | {method} | {cell['n']} | {cell['overlap_f1']:.3f} | {cell['dice_f1']:.3f} | "
                         f"{cell['suvmax_f1']:.3f} | {cell['dice']:.3f} |")
    return "\n".join(lines)


def evaluate_cli(args) -> dict:
    from ..errors import ModelError
    from .checkpoint import shipped_checkpoint
    from .grounder import Grounder

    started = time.perf_counter()
    grounder = Grounder.from_checkpoint(args.checkpoint, device=args.device, precision=args.precision)
    blind = None
    if not args.no_blind:
        blind = Grounder.from_checkpoint(args.blind_checkpoint or shipped_checkpoint("blind"), device=args.device,
                                         precision=args.precision)
        if blind.network.uses_text:
            raise ModelError(f"{blind.source} reads sentences; --blind-checkpoint must be a text-blind checkpoint")
    if args.dataset:
        cases = dataset_cases(args.dataset)
        source = {"dataset": str(args.dataset)}
    elif args.phantoms > 0:
        tracers = tuple(t.strip() for t in args.tracers.split(",") if t.strip())
        cases = phantom_cases(args.phantoms, args.seed, tracers, args.resolution, args.fov, args.phantom_version)
        source = {"phantoms": args.phantoms, "first_seed": args.seed, "tracers": list(tracers), "fov": args.fov,
                  "resolution_mm": args.resolution, "phantom_version": args.phantom_version}
    else:
        raise ModelError("give --dataset DIR or --phantoms N")
    records = evaluate_cases(cases, grounder, blind, weak=not args.no_weak)
    return {"checkpoint": str(grounder.source), "blind_checkpoint": str(blind.source) if blind else None,
            **source, "sentences": len(records), "seconds": round(time.perf_counter() - started, 1),
            "groups": summarise(records)}
