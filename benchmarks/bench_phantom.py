"""Phantom generator speed: training size (8 mm, 6 mm), demo size (4 mm neck to thighs), 2 mm whole body.

Targets: < 0.5 s at 8 mm, ≤ 3 s at 4 mm neck to thighs, ≤ 30 s for 2 mm whole body. Prints the median of
a few seeds (first call excluded: imports). Run: ``.venv/bin/python benchmarks/bench_phantom.py [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from napari_petground.phantom import make_phantom

CASES = (
    ("training 8 mm, neck to thighs", dict(resolution_mm=8.0), 5, 0.5),
    ("training 6 mm, neck to thighs", dict(resolution_mm=6.0), 3, None),
    ("demo 4 mm, neck to thighs", dict(resolution_mm=4.0), 3, 3.0),
    ("4 mm CT / 8 mm PET", dict(resolution_mm=4.0, pet_resolution_mm=8.0), 2, None),
    ("2 mm whole body", dict(resolution_mm=2.0, extent="whole_body"), 1, 30.0),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="skip the 2 mm whole-body case")
    args = parser.parse_args()
    make_phantom(0, resolution_mm=10.0)  # warm up imports
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{os.cpu_count()} CPUs, load average {load:.1f} (timings grow with other work on the machine)")
    print(f"{'case':34s} {'grid (z,y,x)':>18s} {'voxels':>10s} {'median s':>9s} {'target':>7s}")
    for name, kwargs, repeats, target in CASES:
        if args.quick and "2 mm" in name:
            continue
        times = []
        for seed in range(1, repeats + 1):
            t0 = time.perf_counter()
            ph = make_phantom(seed, **kwargs)
            times.append(time.perf_counter() - t0)
        shape = ph.study.pet.shape
        med = statistics.median(times)
        ok = "" if target is None else ("ok" if med <= target else "SLOW")
        tgt = "" if target is None else f"{target:g}"
        print(f"{name:34s} {str(shape):>18s} {shape[0] * shape[1] * shape[2]:>10,d} {med:9.2f} {tgt:>5s} {ok}")


if __name__ == "__main__":
    main()
