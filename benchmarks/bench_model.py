"""Grounding speed and memory with a checkpoint (default: the shipped demo) on CPU.

Measures: loading, text encoding per new sentence, first grounding on a study (preprocessing + encoder +
decoder + selection), a second sentence on the same study (decoder only), and peak resident memory, for
three volume sizes (each size in its own process so peaks do not mix).

    .venv/bin/python benchmarks/bench_model.py [--checkpoint DIR] [--threads 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

SIZES = {
    "demo (4 mm, neck to thighs)": {"demo": True},
    "3 mm, neck to thighs": {"seed": 4242, "resolution_mm": 3.0, "extent": "neck_to_thighs"},
    "4 mm, whole body": {"seed": 4243, "resolution_mm": 4.0, "extent": "whole_body"},
}
SENTENCES = (
    "Intensely FDG-avid right hilar lymph node.",
    "Hypermetabolic left axillary node, SUVmax 6.2.",
    "Focal uptake in the right iliac bone.",
    "Moderately avid mediastinal lymph node (image 80).",
    "Mildly FDG-avid left external iliac node.",
)


def run_one(name: str, checkpoint: str | None, threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    from napari_petground.model import Grounder
    from napari_petground.phantom import make_phantom
    from napari_petground.phantom.sample import demo_phantom, demo_study

    spec = SIZES[name]
    if spec.get("demo"):
        phantom, study = demo_phantom(), demo_study()
    else:
        phantom = make_phantom(spec["seed"], resolution_mm=spec["resolution_mm"], extent=spec["extent"])
        study = phantom.study
    sentences = [s.text for s in phantom.sentences if s.lesion_id is not None and s.kind == "numbers"][:2]
    sentences = (sentences + list(SENTENCES))[:2]
    t = time.perf_counter()
    grounder = Grounder.from_checkpoint(checkpoint, device="cpu")
    load_s = time.perf_counter() - t
    encode = []
    if grounder.encoder is not None:
        grounder.encoder.encode("warm-up sentence")
        for s in SENTENCES:
            t = time.perf_counter()
            grounder.encoder.encode(s + " ")  # a new string: not cached
            encode.append(time.perf_counter() - t)
    t = time.perf_counter()
    first = grounder.ground(study, sentences[0])
    first_s = time.perf_counter() - t
    t = time.perf_counter()
    second = grounder.ground(study, sentences[1])
    second_s = time.perf_counter() - t
    prepared = grounder._cache[next(iter(grounder._cache))][0]
    return {
        "volume": name, "pet_shape": list(study.pet.shape), "model_grid": list(prepared.shape),
        "windows": len(grounder._cache[next(iter(grounder._cache))][1]),
        "load_s": round(load_s, 2), "text_ms_median": round(1000 * sorted(encode)[len(encode) // 2], 1) if encode else None,
        "first_s": round(first_s, 2), "second_s": round(second_s, 2), "second_cached": second.cached_study,
        "first_timings": {k: round(v, 3) for k, v in first.timings.items()},
        "second_timings": {k: round(v, 3) for k, v in second.timings.items()},
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.checkpoint, args.threads)))
        return 0
    rows = []
    for name in SIZES:
        cmd = [sys.executable, __file__, "--one", name, "--threads", str(args.threads)]
        if args.checkpoint:
            cmd += ["--checkpoint", args.checkpoint]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    print("| volume | PET grid | model grid | windows | text (ms) | first sentence (s) | second sentence (s) | peak memory (GB) |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['volume']} | {'×'.join(map(str, r['pet_shape']))} | {'×'.join(map(str, r['model_grid']))} | "
              f"{r['windows']} | {r['text_ms_median']} | {r['first_s']} | {r['second_s']} | {r['peak_rss_gb']} |")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
