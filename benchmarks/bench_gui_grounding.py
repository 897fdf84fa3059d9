"""Grounding in the viewer on the demo study: responsiveness and latencies a reader feels.

Run (needs X; on a headless machine: xvfb-run -a -s "-screen 0 1600x1000x24"):
    python benchmarks/bench_gui_grounding.py [--device cpu] [--checkpoint PATH] [--rounds 1]

Opens the demo PET/CT in a real napari viewer with the grounding dock, then "Ground all" over the findings
of the demo report with the shipped checkpoint (or --checkpoint), while a 10 ms QTimer heartbeat records
every turn of the Qt event loop. Prints:

* the background import of the model's libraries the dock starts when it opens (torch's import holds the
  GIL for long stretches, so it is done before any run), and the longest event-loop gap meanwhile;
* the model's first load and each run's time by stage (from the worker's progress), per sentence;
* the event loop while runs are under way: beats, longest gap, 99th percentile; and, for scale, how long
  napari itself takes to change the slice of these four layers on this machine (the one step of showing
  a result that napari, not the dock, pays for);
* whether each prediction lies on the lesion its sentence describes (phantom truth);
* accept, undo (Ctrl+Z), findings-table rebuild, save and reload (NIfTI + JSON) times.

Target: no event-loop gap of 100 ms or more during runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _pump(app, seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.002)


def _timed(fn) -> tuple[float, object]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=("auto", "cuda", "cpu"))
    parser.add_argument("--checkpoint", default=None, help="checkpoint folder (default: the shipped demo)")
    parser.add_argument("--rounds", type=int, default=1, help="times to ground the whole report")
    parser.add_argument("--hidden", action="store_true",
                        help="do not show the window (no OpenGL painting: separates the dock's cost from the "
                             "canvas rendering, which under Xvfb is software OpenGL)")
    args = parser.parse_args(argv)

    import napari
    from qtpy.QtCore import QSettings, QTimer
    from qtpy.QtWidgets import QApplication

    from napari_petground._qt.grounding_dock import GroundingDock
    from napari_petground.phantom.sample import demo_phantom, demo_study
    from napari_petground.session import StudySession, session_layers

    phantom, study = demo_phantom(), demo_study()
    work = Path(tempfile.mkdtemp(prefix="bench-gui-"))
    settings = QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat)
    viewer = napari.Viewer(title="bench", show=not args.hidden)
    viewer.window._qt_window.resize(1600, 1000)
    app = QApplication.instance()
    for data, kwargs, _kind in session_layers(StudySession(study)):
        viewer.add_image(data, **kwargs)
    warm_beats: list[float] = []
    warm_timer = QTimer()
    warm_timer.timeout.connect(lambda: warm_beats.append(time.perf_counter()))
    warm_timer.start(10)
    open_s, dock = _timed(lambda: GroundingDock(viewer, settings=settings))
    viewer.window.add_dock_widget(dock, area="right")
    dock.model_picker.set_checkpoint(args.checkpoint)
    dock.model_picker.set_device(args.device)
    warm_started = time.perf_counter()
    while dock.runner.warming:
        app.processEvents()
        time.sleep(0.002)
    warm_s = time.perf_counter() - warm_started
    warm_timer.stop()
    warm_gap = float(np.diff(warm_beats).max() * 1000) if len(warm_beats) > 2 else float("nan")
    _pump(app, 0.5)

    slice_changes = []
    for z in (40, 200, 120, 90):
        seconds, _ = _timed(lambda z=z: viewer.dims.set_point(0, study.pet.index_to_world((z, 0, 0))[0]))
        slice_changes.append(seconds)

    stages: dict[int, list[tuple[float, str]]] = {}
    dock.runner.progressed.connect(
        lambda request, stage, fraction: stages.setdefault(request.id, []).append((time.perf_counter(), stage)))
    started: dict[int, float] = {}
    finished: dict[int, float] = {}
    dock.runner.started.connect(lambda request: started.__setitem__(request.id, time.perf_counter()))
    results = []
    dock.runner.grounded.connect(lambda request, grounding: (finished.__setitem__(request.id, time.perf_counter()),
                                                             results.append((request, grounding))))
    errors = []
    dock.runner.failed.connect(lambda request, exc: errors.append((request.sentence, repr(exc))))

    beats: list[float] = []
    heartbeat = QTimer()
    heartbeat.timeout.connect(lambda: beats.append(time.perf_counter()))
    heartbeat.start(10)
    _pump(app, 0.2)
    for _round in range(args.rounds):
        dock._results.clear()
        queued = dock.ground_all()
        while dock.runner.busy or not dock.settled:
            app.processEvents()
            time.sleep(0.001)
    _pump(app, 0.2)
    heartbeat.stop()
    if errors:
        for sentence, error in errors:
            print(f"FAILED {sentence!r}: {error}")
        return 1

    gaps = np.diff(beats) * 1000
    print(f"napari-petground grounding dock, demo study {study.pet.shape} at {study.pet.spacing} mm, "
          f"device {args.device}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, "
          f"window {'hidden' if args.hidden else 'shown'}")
    print(f"dock opened in {open_s * 1000:.0f} ms (creates the prediction and findings layers)")
    print(f"background import of torch & co. after opening: {warm_s:.1f} s, longest event-loop gap meanwhile "
          f"{warm_gap:.0f} ms (extension modules load holding the GIL)")
    print(f"{queued} findings per round, {args.rounds} round(s)\n")
    print(f"{'sentence':60s} {'total s':>8s}  stages (s)")
    truth_by_text = {s.text: s for s in phantom.sentences}
    on_target = 0
    for request, grounding in results:
        marks = stages.get(request.id, [])
        spans = []
        for (t0, name), (t1, _next) in zip(marks, [*marks[1:], (finished[request.id], "")], strict=True):
            if spans and spans[-1][0] == name:
                spans[-1][1] += t1 - t0
            else:
                spans.append([name, t1 - t0])
        total = finished[request.id] - started[request.id]
        print(f"{request.sentence[:60]:60s} {total:8.2f}  " + ", ".join(f"{n} {s:.2f}" for n, s in spans))
        truth = truth_by_text.get(request.sentence)
        mask = np.asarray(grounding.mask, dtype=bool)
        if truth is not None and truth.lesion_id and mask.any():
            hits = np.bincount(phantom.lesion_labels[mask].astype(np.int64))
            hits[0] = 0
            on_target += int(hits.argmax() == truth.lesion_id and hits.sum() > 0)
    described = sum(1 for r, _ in results if (t := truth_by_text.get(r.sentence)) is not None and t.lesion_id)
    print(f"\npredictions on the described lesion: {on_target} / {described}")
    print(f"event loop during runs: {len(beats)} beats, longest gap {gaps.max():.0f} ms, "
          f"99th percentile {np.percentile(gaps, 99):.0f} ms, gaps >= 100 ms: {int(np.sum(gaps >= 100))}")
    marks = sorted((t, name) for runs in stages.values() for t, name in runs)
    done = sorted(finished.values())

    def stage_at(moment: float) -> str:
        current = "between runs"
        for t, name in marks:
            if t <= moment:
                current = name
        if any(f <= moment <= f + 0.5 for f in done):
            current += " / result shown"
        return current

    worst = np.argsort(gaps)[::-1][:5]
    print("longest gaps: " + ", ".join(f"{gaps[i]:.0f} ms ({stage_at(beats[i])})" for i in worst))
    print(f"napari's own slice change (4 layers): {np.median(slice_changes) * 1000:.0f} ms median, "
          f"{max(slice_changes) * 1000:.0f} ms max")

    accepts, undos = [], []
    for _ in range(min(3, len(results))):
        if dock.shown is None:
            break
        seconds, _ = _timed(dock.accept)
        accepts.append(seconds)
        _pump(app, 0.3)
    findings = dock.findings_layer()
    refresh_s, _ = _timed(dock.findings_panel.refresh)
    save_s, written = _timed(lambda: dock.findings_panel.save_to(work / "findings.nii.gz"))
    for _ in accepts:
        seconds, _ = _timed(findings.undo)
        undos.append(seconds)
    load_s, _ = _timed(lambda: dock.findings_panel.load_from(written[0]))
    print(f"accept: {np.median(accepts) * 1000:.0f} ms median ({len(accepts)}), "
          f"undo: {np.median(undos) * 1000:.0f} ms, findings table rebuild: {refresh_s * 1000:.0f} ms")
    print(f"save NIfTI + JSON: {save_s * 1000:.0f} ms, reload: {load_s * 1000:.0f} ms")
    viewer.close()
    return 0 if gaps.max() < 100 else 2


if __name__ == "__main__":
    sys.exit(main())
