"""Grounding speed and memory with a checkpoint (default: the shipped demo) on CPU, or CUDA when present.

Measures: loading, text encoding per new sentence, first grounding on a study (preprocessing + encoder +
decoder + selection), a second sentence on the same study (decoder and selection only), their ratio, the
windows the fine decoder stages ran on, and peak memory, for three volume sizes. Every measurement runs in a
process of its own, so peaks do not mix and the first sentence always starts cold (the model's libraries
imported first, as the grounding dock does when it opens: model.imports).

Modes (``--modes``), run alternately size by size, so that a machine shared with other work slows them alike:
``c2f`` (the grounder's default: coarse-to-fine decoding, in bfloat16 on a CPU or GPU that computes it),
``full`` (every window through the whole decoder, the reference), ``float32`` (``c2f`` in float32 throughout,
``--precision float32``), ``base`` (the code under ``--baseline SRC``, e.g. an exported older tree, run with
``PYTHONPATH=SRC``).

    .venv/bin/python benchmarks/bench_model.py [--checkpoint DIR] [--threads 2] [--repeat 2]
        [--modes c2f,full] [--baseline /tmp/old/src] [--device cpu|cuda] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
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


def _peak_memory_gb(device: str) -> float:
    """Peak resident memory of this process, plus the accelerator's peak allocation on CUDA."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
    if device.startswith("cuda"):
        import torch

        peak += torch.cuda.max_memory_allocated() / 1024 ** 3
    return round(peak, 2)


def _precision(grounder) -> str:
    """What the grounder computes in: float32, or the autocast type (the code of mode 'base' may predate it)."""
    try:
        from napari_petground.model.decoding import autocast_dtype

        dtype = autocast_dtype(grounder.device, precision=getattr(grounder, "precision", "auto"))
    except (ImportError, TypeError):
        return "float32"
    return str(dtype).removeprefix("torch.") if dtype is not None else "float32"


def _digest(mask) -> str:
    import hashlib

    import numpy as np

    return hashlib.blake2b(np.packbits(mask).tobytes(), digest_size=6).hexdigest()


def run_one(name: str, checkpoint: str | None, threads: int, mode: str, device: str) -> dict:
    import torch

    torch.set_num_threads(threads)
    from napari_petground.model import Grounder
    from napari_petground.model.imports import warm_imports
    from napari_petground.phantom import make_phantom
    from napari_petground.phantom.sample import demo_phantom, demo_study

    warm_imports()  # as the grounding dock does when it opens: the first grounding is timed, not Python's imports
    spec = SIZES[name]
    if spec.get("demo"):
        phantom, study = demo_phantom(), demo_study()
    else:
        phantom = make_phantom(spec["seed"], resolution_mm=spec["resolution_mm"], extent=spec["extent"])
        study = phantom.study
    sentences = [s.text for s in phantom.sentences if s.lesion_id is not None and s.kind == "numbers"][:2]
    sentences = (sentences + list(SENTENCES))[:2]
    t = time.perf_counter()
    grounder = Grounder.from_checkpoint(checkpoint, device=device)
    if mode == "full" and hasattr(grounder, "decoding"):
        grounder.decoding = grounder.decoding.full()
    if mode == "float32":
        grounder.precision = "float32"
    head = getattr(grounder, "coarse_head", None) if mode in ("c2f", "float32") else None
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
    features = grounder.features(study)
    return {
        "volume": name, "mode": mode, "precision": _precision(grounder), "pet_shape": list(study.pet.shape),
        "model_grid": list(features.prepared.shape),
        "windows": len(features.windows), "load_s": round(load_s, 2),
        "text_ms_median": round(1000 * sorted(encode)[len(encode) // 2], 1) if encode else None,
        "first_s": round(first_s, 3), "second_s": round(second_s, 3), "second_cached": second.cached_study,
        "first_timings": {k: round(v, 3) for k, v in first.timings.items()},
        "second_timings": {k: round(v, 3) for k, v in second.timings.items()},
        "methods": [first.method, second.method], "mask_voxels": [int(first.mask.sum()), int(second.mask.sum())],
        "mask_digest": [_digest(first.mask), _digest(second.mask)],
        "fine_windows": [list(getattr(g, "windows", (0, 0))) for g in (first, second)],
        "floor": head.config.floor if head is not None else None,
        "peak_gb": _peak_memory_gb(device), "device": str(grounder.device),
    }


def _run(name: str, mode: str, args) -> dict:
    cmd = [sys.executable, __file__, "--one", name, "--mode", mode, "--threads", str(args.threads),
           "--device", args.device]
    if args.checkpoint:
        cmd += ["--checkpoint", args.checkpoint]
    env = dict(os.environ)
    if mode == "base":
        env["PYTHONPATH"] = args.baseline + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise SystemExit(f"{name} / {mode} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _table(rows: list[dict], modes: list[str]) -> str:
    demo = next(iter(SIZES))
    lines = ["| volume | windows | mode | first sentence (s) | second sentence (s) | second / first | "
             "first / demo first | fine windows (1st, 2nd) | peak memory (GB) |",
             "|---|---:|---|---:|---:|---:|---:|---|---:|"]
    for rep in sorted({r["rep"] for r in rows}):
        for name in SIZES:
            for mode in modes:
                r = next((r for r in rows if r["rep"] == rep and r["volume"] == name and r["mode"] == mode), None)
                base = next((r for r in rows if r["rep"] == rep and r["volume"] == demo and r["mode"] == mode), None)
                if r is None or base is None:
                    continue
                fine = r.get("fine_windows") or []
                fine_text = ", ".join(str(f[0]) for f in fine) if fine and all(f[1] for f in fine) else "all"
                full = next((f for f in rows if f["rep"] == rep and f["volume"] == name and f["mode"] == "full"), None)
                same = "" if full is None or mode == "full" else (
                    " (masks = full)" if full["mask_digest"] == r["mask_digest"] else " (masks differ from full)")
                lines.append(f"| {name} | {r['windows']} | {mode} | {r['first_s']:.2f} | {r['second_s']:.2f} | "
                             f"{r['second_s'] / r['first_s']:.2f} | {r['first_s'] / base['first_s']:.2f} | "
                             f"{fine_text}{same} | {r['peak_gb']} |")
    return "\n".join(lines)


def _summary(rows: list[dict], modes: list[str]) -> str:
    lines = ["| volume | mode | first (s, median) | second (s, median) | second / first (each run) |",
             "|---|---|---:|---:|---|"]
    for name in SIZES:
        for mode in modes:
            mine = [r for r in rows if r["volume"] == name and r["mode"] == mode]
            if not mine:
                continue
            ratios = ", ".join(f"{r['second_s'] / r['first_s']:.2f}" for r in mine)
            lines.append(f"| {name} | {mode} | {statistics.median(r['first_s'] for r in mine):.2f} | "
                         f"{statistics.median(r['second_s'] for r in mine):.2f} | {ratios} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--modes", default="c2f,full", help="comma-separated: c2f, full, float32, base")
    parser.add_argument("--baseline", help="source folder of the code the 'base' mode runs (PYTHONPATH)")
    parser.add_argument("--repeat", type=int, default=2, help="rounds of all sizes and modes")
    parser.add_argument("--sizes", help="comma-separated indices into the sizes (default: all)")
    parser.add_argument("--json")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="c2f", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.checkpoint, args.threads, args.mode, args.device)))
        return 0
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if "base" in modes and not args.baseline:
        parser.error("mode 'base' needs --baseline SRC")
    names = list(SIZES)
    if args.sizes:
        names = [names[int(i)] for i in args.sizes.split(",")]
    rows = []
    for rep in range(args.repeat):
        for name in names:
            for mode in modes:
                row = _run(name, mode, args)
                row["rep"] = rep
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
    print(_table(rows, modes))
    print()
    print(_summary(rows, modes))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
