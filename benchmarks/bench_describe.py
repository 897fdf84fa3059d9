"""Describe and depth on a fresh phantom cohort: site/side accuracy, time per lesion, depth error.

    .venv/bin/python benchmarks/bench_describe.py [--checkpoint DIR] [--phantoms 60] [--train 200]

Describe: every lesion of ``--phantoms`` phantoms never used for training (seeds from 900000) is described
through the public path (Describer.describe on its truth mask, and again on the mask grown from a click on
its SUVmax voxel). Printed: fine-site top-1 / top-3, coarse-site top-1 (organ, bone or station), region,
side (lesions on a paired site), and milliseconds per lesion with the study's encoder features cached (the
encoder time is printed apart). ``--phantom-version 2`` measures on phantoms with lesions at every fine site
of the vocabulary (``--extents neck_to_thighs,whole_body`` for the brain and limbs too). Targets: fine >= 85 %,
coarse >= 95 %, side >= 99 %, <= 100 ms.

Depth: every phantom sentence of a lesion without an image number (``no_numbers``), and every sentence with
numbers after the numbers are stripped (the network never reads them), is decoded over the cached encoder
features; the profile's estimate is compared with the lesion centre's z. Target: mean absolute error
<= 20 mm (published snippet localiser: 36.3 mm).

When the checkpoint has no describe head (or with ``--train N``), a head is trained first on N training
phantoms (seeds from 100000) and, with ``--save``, written into the checkpoint folder.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default=None, help="grounding checkpoint (default: shipped demo)")
    parser.add_argument("--phantoms", type=int, default=60, help="fresh phantoms to measure on")
    parser.add_argument("--first-seed", type=int, default=900000)
    parser.add_argument("--resolution", type=float, default=4.0)
    parser.add_argument("--tracers", default="FDG,FDG,FDG,PSMA,DOTATATE,FLUCICLOVINE")
    parser.add_argument("--phantom-version", type=int, default=1, choices=(1, 2),
                        help="phantom generator (2: lesions at every fine site of the vocabulary)")
    parser.add_argument("--extents", default="neck_to_thighs",
                        help="fields of view, cycled over the seeds (phantom.fields.FIELDS: cuts too)")
    parser.add_argument("--lesions", type=int, default=0, help="lesions per phantom (0: 1-6 at random)")
    parser.add_argument("--train", type=int, default=0, help="train a head on this many phantoms first")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--save", action="store_true", help="write the trained head into the checkpoint")
    parser.add_argument("--no-depth", action="store_true")
    parser.add_argument("--no-describe", action="store_true", help="measure depth only (no head needed)")
    parser.add_argument("--depth-path", choices=("grounder", "answer", "network"), default="grounder",
                        help="probability maps from Grounder.probability (sliding windows, PET grid; what the "
                             "strip shows when the network has answered), the grounding's final depth (answer: "
                             "the level of the lesion shown, after the site check; sentences grounded without "
                             "their numbers) or one whole-volume decode over the describer's cached encoder")
    parser.add_argument("--no-click", action="store_true", help="skip describing masks grown from a click")
    parser.add_argument("--no-stripped", action="store_true",
                        help="depth on sentences without numbers only (skip the numbers-stripped sentences)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", default=None, help="also write the numbers to this JSON file")
    args = parser.parse_args()

    import torch

    from napari_petground.model.checkpoint import shipped_checkpoint
    from napari_petground.model.describe import Describer

    torch.set_num_threads(args.threads)
    folder = shipped_checkpoint() if args.checkpoint is None else Path(args.checkpoint)
    describer = Describer.from_checkpoint(folder)
    tracers = tuple(t.strip() for t in args.tracers.split(",") if t.strip())
    results: dict = {"checkpoint": str(folder), "phantoms": args.phantoms, "first_seed": args.first_seed,
                     "resolution_mm": args.resolution, "tracers": list(tracers), "threads": args.threads}
    if not args.no_describe and (describer.head is None or args.train):
        from napari_petground.model.describe_head import save_head
        from napari_petground.model.describe_train import HeadTrainSettings, fit_describe_head

        started = time.monotonic()
        head, _ = fit_describe_head(describer.network, describer.config, phantoms=args.train or 200,
                                    tracers=tracers, resolution_mm=args.resolution,
                                    settings=HeadTrainSettings(steps=args.steps), version=args.phantom_version,
                                    extents=_extents(args), n_lesions=args.lesions or None,
                                    log=lambda m: print(m, flush=True))
        describer.head = head
        results["head_training_minutes"] = round((time.monotonic() - started) / 60, 1)
        if args.save:
            save_head(folder, head)
            print(f"describe head written to {folder}")
    results.update(measure(describer, args, tracers))
    print_table(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


def measure(describer, args, tracers) -> dict:
    from napari_petground.errors import PhantomError
    from napari_petground.model.describe import grow_from_click
    from napari_petground.phantom.fields import phantom_in_field
    from napari_petground.phantom.fine import fine_site
    from napari_petground.report.lexicon import SITE_BY_KEY

    encoder = grounder = None
    if not args.no_depth:
        from napari_petground.model.grounder import Grounder
        from napari_petground.model.text import TextEncoder

        encoder = TextEncoder(describer.config.text)
        if args.depth_path == "answer":  # as the viewer loads it: the site check reads the checkpoint's head
            grounder = Grounder.from_checkpoint(args.checkpoint, device="cpu")
        elif args.depth_path == "grounder":
            grounder = Grounder(describer.network, describer.config, encoder, "cpu")
    rows = {"mask": [], "click": []}
    times, encode_times = [], []
    depth = {kind: {"peak": [], "mass": [], "prior": [], "network": []} for kind in ("no_numbers", "numbers_stripped")}
    confusions: Counter = Counter()
    for k in range(args.phantoms):
        seed = args.first_seed + k
        extents = _extents(args)
        try:
            phantom = phantom_in_field(seed, extents[k % len(extents)], tracer=tracers[k % len(tracers)],
                                       resolution_mm=args.resolution, n_lesions=args.lesions or None,
                                       version=args.phantom_version)
        except PhantomError:  # a cut (chest, abdomen_pelvis ...) that holds no lesion of this seed
            continue
        study = phantom.study
        t0 = time.perf_counter()
        encoded = describer.encoded(study)
        encode_times.append(time.perf_counter() - t0)
        for lesion in [] if args.no_describe else phantom.lesions:
            truth = phantom.lesion_labels == lesion.id
            t0 = time.perf_counter()
            d = describer.describe(study, truth)
            times.append(time.perf_counter() - t0)
            rows["mask"].append({**_row(d, lesion, SITE_BY_KEY), "field": extents[k % len(extents)]})
            if not rows["mask"][-1]["fine"]:
                confusions[(fine_site(lesion)[0], d.site)] += 1
            if not args.no_click:
                try:
                    grown = grow_from_click(study, lesion.peak_index).mask
                except Exception:  # noqa: BLE001 - a lesion the grower refuses counts as a miss
                    rows["click"].append({"fine": False, "coarse": False, "region": False, "top3": False,
                                          "side": None})
                    continue
                rows["click"].append(_row(describer.describe(study, grown), lesion, SITE_BY_KEY))
        if encoder is not None:
            _depth(describer, encoder, encoded, phantom, depth, grounder, stripped=not args.no_stripped,
                   answer=args.depth_path == "answer")
        print(f"\rphantom {k + 1}/{args.phantoms}", end="", flush=True)
    print()
    out: dict = {}
    for name, r in rows.items():
        if r:
            out[f"describe_{name}"] = _accuracy(r)
    if len({x["field"] for x in rows["mask"]}) > 1:  # the targets hold per field of view
        out["describe_mask_by_field"] = {f: _accuracy([x for x in rows["mask"] if x["field"] == f])
                                         for f in dict.fromkeys(x["field"] for x in rows["mask"])}
    if times:
        out["ms_per_lesion"] = {"median": 1000 * float(np.median(times)),
                                "p95": 1000 * float(np.percentile(times, 95)), "max": 1000 * float(np.max(times))}
    out["encode_seconds_per_study"] = float(np.median(encode_times))
    out["top_confusions"] = [f"{a} -> {b or '-'}: {n}" for (a, b), n in confusions.most_common(8)]
    if encoder is not None:
        out["depth"] = {kind: {m: _stats(v) for m, v in methods.items()} for kind, methods in depth.items()}
    return out


def _accuracy(rows: list[dict]) -> dict:
    sides = [x["side"] for x in rows if x["side"] is not None]
    return {"lesions": len(rows), "fine_top1": _mean([x["fine"] for x in rows]),
            "fine_top3": _mean([x["top3"] for x in rows]), "coarse_top1": _mean([x["coarse"] for x in rows]),
            "region_top1": _mean([x["region"] for x in rows]), "side": _mean(sides), "side_lesions": len(sides)}


def _row(d, lesion, sites) -> dict:
    """Fine: the described site is the lesion's fine site (for a first-generator lesion whose truth names
    only a grouping site, such as a sacral lesion without its segment: a site inside it); coarse: the same
    coarse site (organ, bone, station); region: the same region."""
    from napari_petground.phantom.fine import fine_site
    from napari_petground.report.lexicon import coarse_of, within

    truth = fine_site(lesion)[0]
    lateral = lesion.laterality in ("left", "right")
    # the side the describer reports: the named site's, else the centroid's (by sign within the midline zone)
    said_side = d.side or (d.body_side if d.body_side in ("left", "right") else d.lean_side)
    return {"fine": within(d.site, truth), "top3": any(within(a.site, truth) for a in d.alternatives),
            "coarse": coarse_of(d.site) == coarse_of(truth), "region": d.region == str(sites[lesion.site].region),
            "side": (said_side == lesion.laterality) if lateral else None}


def _extents(args) -> tuple[str, ...]:
    return tuple(e.strip() for e in args.extents.split(",") if e.strip())


def _depth(describer, encoder, encoded, phantom, depth, grounder=None, stripped: bool = True,
           answer: bool = False) -> None:
    import dataclasses

    import torch

    from napari_petground.model.depth import depth_for_sentence, depth_from_prior, depth_profile, pet_z_mm
    from napari_petground.report import extract_findings
    from napari_petground.session import StudySession

    skips = [torch.from_numpy(level)[None] for level in encoded.levels[1:]]
    lesions = {les.id: les for les in phantom.lesions}
    session = StudySession(phantom.study) if answer else None  # encoded once for all its sentences
    for s in phantom.sentences:
        if s.lesion_id not in lesions or len(s.lesion_ids) > 1:
            continue
        kind = "no_numbers" if s.kind == "no_numbers" else "numbers_stripped" if s.kind == "numbers" else None
        if kind is None or (kind == "numbers_stripped" and not stripped):
            continue
        truth_z = lesions[s.lesion_id].center_mm[0]
        if answer:  # the whole grounding from the words alone: numbers removed, site check included
            findings = extract_findings(s.text, tracer=phantom.study.tracer)
            if not findings:
                continue
            words = dataclasses.replace(findings[0], suvmax=None, prior_suvmax=None, slice=None, series=None)
            pointed, grounding = _grounded(grounder, session, words)
            profiles = {"mass": grounding.depth} if grounding.depth is not None else {}
            if pointed:  # where the network pointed before the site check, for comparison
                profiles["network"] = pointed[0]
        elif grounder is not None:
            study = phantom.study
            prob = grounder.probability(study, s.text)
            profiles = {m: depth_profile(prob, pet_z_mm(study), method=m) for m in ("peak", "mass")}
        else:
            tokens, mask = encoder.encode(s.text)
            profiles = {m: depth_for_sentence(describer.network, skips, tokens, mask, encoded.prepared, method=m)
                        for m in ("peak", "mass")}
        tokens, mask = encoder.encode(s.text)
        early = depth_from_prior(describer.network, tokens, mask, encoded.prepared)
        if early is not None:  # what the strip shows first, before the decoder has run
            profiles["prior"] = early
        for method, profile in profiles.items():
            depth[kind][method].append(abs(profile.estimate_mm() - truth_z))


def _grounded(grounder, session, finding):
    """([the network's DepthProfiles as the strip received them], Grounding) of one grounding run."""
    from napari_petground.model.depth import DEPTH

    pointed, run = [], grounder.iter_ground(session, finding)
    while True:
        try:
            stage, value = next(run)
        except StopIteration as stop:
            return pointed, stop.value
        if stage == DEPTH and value.method != "prior":
            pointed.append(value)


def _mean(values) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


def _stats(errors) -> dict:
    e = np.asarray(errors, float)
    if not e.size:
        return {"sentences": 0}
    return {"sentences": int(e.size), "mae_mm": float(e.mean()), "median_mm": float(np.median(e)),
            "within_20mm": float((e <= 20).mean())}


def print_table(r: dict) -> None:
    print(f"\ncheckpoint {r['checkpoint']}; {r['phantoms']} fresh phantoms (seeds {r['first_seed']}+, "
          f"{r['resolution_mm']} mm, {'/'.join(r['tracers'])}), torch threads {r['threads']}")
    if "head_training_minutes" in r:
        print(f"describe head trained here in {r['head_training_minutes']} min")
    if "describe_mask" in r:
        print(f"{'describe':22} {'lesions':>8} {'fine top-1':>11} {'fine top-3':>11} {'coarse':>8} {'region':>8} "
              f"{'side':>8}")
    for name in ("describe_mask", "describe_click"):
        if name in r:
            x = r[name]
            label = {"describe_mask": "truth mask", "describe_click": "grown from a click"}[name]
            print(f"{label:22} {x['lesions']:8d} {x['fine_top1']:11.1%} "
                  f"{x['fine_top3']:11.1%} {x['coarse_top1']:8.1%} {x['region_top1']:8.1%} {x['side']:8.1%}")
    for field, x in r.get("describe_mask_by_field", {}).items():
        print(f"  {field:20} {x['lesions']:8d} {x['fine_top1']:11.1%} {x['fine_top3']:11.1%} "
              f"{x['coarse_top1']:8.1%} {x['region_top1']:8.1%} {x['side']:8.1%}")
    if "describe_mask" in r:
        print("targets: fine >= 85 %, coarse >= 95 %, side >= 99 %")
    t = r.get("ms_per_lesion")
    if t:
        print(f"time per lesion (encoder cached): median {t['median']:.0f} ms, p95 {t['p95']:.0f} ms, max "
              f"{t['max']:.0f} ms (target <= 100 ms); encoder once per study {r['encode_seconds_per_study']:.2f} s")
    if r.get("top_confusions"):
        print("most frequent confusions (truth -> said): " + "; ".join(r["top_confusions"]))
    if "depth" in r:
        print(f"\n{'depth (mm)':28} {'sentences':>9} {'MAE':>7} {'median':>7} {'<=20 mm':>8}")
        for kind, methods in r["depth"].items():
            for method, s in methods.items():
                if s.get("sentences"):
                    print(f"{kind + ' / ' + method:28} {s['sentences']:9d} {s['mae_mm']:7.1f} {s['median_mm']:7.1f} "
                          f"{s['within_20mm']:8.1%}")
        print("target: MAE <= 20 mm on sentences without numbers (published snippet localiser: 36.3 mm)")


if __name__ == "__main__":
    main()
