"""Review queue and dock: how fast the next item is on screen, and what the queue costs at cohort scale.

Run (the dock part needs a display):
    xvfb-run -a -s "-screen 0 1600x1000x24" python benchmarks/bench_review.py
    python benchmarks/bench_review.py --no-gui          # queue numbers only

1. Dock, demo-size cases (phantom cohort at 4 mm, neck to thighs, ~270 x 90 x 120 voxels): seconds from
   the key press (n or a) to the next item drawn, split into: same case, new case read in the background
   while the annotator looked (1 s per item), new case with no time to prefetch.
2. Queue at the size of the published dataset (11,200 items): import, claim + accept, fix save (mask file +
   fsync + commit, demo-size mask), peek, counts, statistics.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from napari_petground.dataset import DatasetItem, DatasetWriter
from napari_petground.review import ReviewQueue, review_stats
from napari_petground.study.volume import Volume


def pct(values: list[float]) -> str:
    if not values:
        return "n=0"
    v = sorted(values)
    p95 = v[min(len(v) - 1, int(round(0.95 * (len(v) - 1))))]
    return f"n={len(v):3d}  median {1000 * statistics.median(v):7.1f} ms  p95 {1000 * p95:7.1f} ms  max {1000 * v[-1]:7.1f} ms"


def demo_dataset(root: Path, n_cases: int) -> Path:
    """A phantom cohort at the demo study's resolution (falls back on the review demo cases)."""
    try:
        from napari_petground.phantom.io import save_cohort_dataset
    except ImportError:
        from napari_petground.review.demo import make_demo_dataset

        return make_demo_dataset(root, n_cases=n_cases, shape=(270, 90, 120))
    save_cohort_dataset(n_cases, 11, root, tracer="mixed", resolution_mm=4.0)
    return root


# -- 1. the dock ----------------------------------------------------------------------------------------------
def bench_dock(root: Path, look_s: float) -> None:
    import napari
    from qtpy.QtCore import QSettings

    from napari_petground._qt.review_dock import ReviewDock

    app = napari.qt.get_qapp()
    settings = QSettings(str(root / "bench_settings.ini"), QSettings.Format.IniFormat)
    viewer = napari.Viewer(show=True)
    viewer.window._qt_window.resize(1600, 1000)
    dock = ReviewDock(viewer, settings=settings)
    viewer.window.add_dock_widget(dock, name="Review weak labels", area="right")
    t0 = time.perf_counter()
    dock.open_dataset(root, "bench")
    _drain(app)
    print(f"open dataset + first item on screen: {time.perf_counter() - t0:.2f} s "
          f"(import, first case read, layers created)")
    canvas = viewer.window._qt_viewer.canvas.native

    def step(key: str) -> tuple[float, bool, bool]:
        before_case = dock.data.case.case if dock.data else None
        upcoming = dock.queue.peek(dock._filter(), exclude=(dock.item_id,))
        ready = upcoming is not None and dock.loader.cached(dock.queue.item(upcoming).case)
        t = time.perf_counter()
        (dock.accept if key == "a" else dock.next_item)()
        canvas.repaint()  # synchronous paint of the new slice
        app.processEvents()
        elapsed = time.perf_counter() - t
        return elapsed, dock.data is not None and dock.data.case.case != before_case, ready

    results: dict[str, list[float]] = {"same case": [], "new case, prefetched": [], "new case, cold": []}
    total = dock.queue.counts()["total"]
    # first half: look at each item for ``look_s``, then accept (a); second half: press n at once
    for k in range(total - 1):
        key, wait = ("a", look_s) if k < total // 2 else ("n", 0.0)
        _drain(app, wait)
        elapsed, new_case, ready = step(key)
        label = "same case" if not new_case else ("new case, prefetched" if ready else "new case, cold")
        results[label].append(elapsed)
    for label, values in results.items():
        print(f"  next item on screen, {label:22s} {pct(values)}")
    # the floor on this machine and display: napari moving one slice and repainting the same window
    floor = []
    for _ in range(10):
        _drain(app, 0.2)
        t = time.perf_counter()
        viewer.dims.set_point(0, viewer.dims.point[0] + 4.0)
        canvas.repaint()
        app.processEvents()
        floor.append(time.perf_counter() - t)
    print(f"  napari floor: one slice step + repaint  {pct(floor)}")
    dock.close()
    viewer.close()


def _drain(app, seconds: float = 0.0) -> None:
    end = time.perf_counter() + seconds
    app.processEvents()
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.01)


# -- 2. the queue at cohort scale ---------------------------------------------------------------------------
def cohort_dataset(root: Path, n_cases: int, per_case: int) -> Path:
    """Tiny images, many items: what the queue's database sees for a cohort of the published size."""
    writer = DatasetWriter(root)
    pet = Volume(np.ones((8, 8, 8), np.float32), (4.0, 4.0, 4.0), (0.0, 0.0, 0.0))
    tracers = ("FDG", "PSMA", "DOTATATE", "FLUCICLOVINE")
    for c in range(n_cases):
        labels = np.zeros(pet.shape, np.uint16)
        items = []
        for k in range(per_case):
            labels.flat[k] = k + 1
            items.append(DatasetItem(f"c{c:04d}", k, f"Lesion {k}, SUVmax 5.0, image 3.", status="matched",
                                     label=k + 1, tracer=tracers[c % 4],
                                     flags=["overlap_trimmed"] if k % 9 == 0 else []))
        writer.write_case(f"c{c:04d}", None, pet, labels, items)
    writer.finalize()
    return root


def bench_queue(workdir: Path, demo_root: Path) -> None:
    n_cases, per_case = 400, 28
    t = time.perf_counter()
    root = cohort_dataset(workdir / "cohort", n_cases, per_case)
    print(f"cohort of {n_cases * per_case} items written in {time.perf_counter() - t:.1f} s")
    with ReviewQueue(root) as q:
        t = time.perf_counter()
        result = q.import_dataset()
        print(f"import {result.added} items: {time.perf_counter() - t:.2f} s")
        t = time.perf_counter()
        again = q.import_dataset()
        print(f"re-import (all {again.unchanged} unchanged): {time.perf_counter() - t:.2f} s")
        claim, accept, peek, counts = [], [], [], []
        for k in range(300):
            t = time.perf_counter()
            lease = q.claim(f"a{k % 3}")
            claim.append(time.perf_counter() - t)
            t = time.perf_counter()
            q.accept(lease)
            accept.append(time.perf_counter() - t)
            if k % 10 == 0:
                t = time.perf_counter()
                q.peek()
                peek.append(time.perf_counter() - t)
                t = time.perf_counter()
                q.counts()
                counts.append(time.perf_counter() - t)
        print(f"  claim            {pct(claim)}")
        print(f"  accept (commit)  {pct(accept)}")
        print(f"  peek next        {pct(peek)}")
        print(f"  counts           {pct(counts)}")
        t = time.perf_counter()
        review_stats(q)
        print(f"statistics over {n_cases * per_case} items: {time.perf_counter() - t:.2f} s")
    with ReviewQueue(demo_root) as q:
        q.import_dataset()
        items = [i for i in q.items() if i.label is not None and not i.done][:20]
        fixes = []
        for item in items:
            lease = q.claim_item(item.item_id, "bench-fix")
            weak = q.weak_mask(item)
            mask = weak | np.roll(weak, 1, axis=2)
            t = time.perf_counter()
            q.fix(lease, mask, weak_mask=weak)
            fixes.append(time.perf_counter() - t)
        shape = q.grid(items[0].case).shape if items else ()
        print(f"  fix save {shape}: {pct(fixes)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-gui", action="store_true")
    parser.add_argument("--cases", type=int, default=3)
    parser.add_argument("--look", type=float, default=1.0, help="seconds the annotator looks at each item")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench_review_"))
    try:
        t = time.perf_counter()
        demo = demo_dataset(workdir / "demo", args.cases)
        print(f"demo-size dataset ({args.cases} cases) written in {time.perf_counter() - t:.1f} s")
        if not args.no_gui and (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            bench_dock(demo, args.look)
        elif not args.no_gui:
            print("no display: dock part skipped (run under xvfb-run)")
        bench_queue(workdir, demo)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
