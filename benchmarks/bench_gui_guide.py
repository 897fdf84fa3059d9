"""The user guide's walk-through, timed step by step (and, with --shots, its screenshots).

Run (needs X; on a headless machine):
    QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1600x1000x24" \\
        python benchmarks/bench_gui_guide.py [--shots docs/images] [--checkpoint PATH] [--device cpu]

Steps, as docs/user-guide.md tells them, on the demo study with the shipped checkpoint: open the study with
the grounding dock (its report listed), ground one sentence (the right iliac wing metastasis, whose left twin is also
in the report), edit the prediction with the brush, accept it, undo and redo the accept, ground all the
other findings, reject one, save and reload the findings, and trigger a notification. Prints the wall time
of each step as a reader would feel it (from the action to the view updated).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SENTENCE_LESION = 1  # the demo's right iliac wing metastasis; lesion 2 is its left twin


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shots", type=Path, default=None, help="folder for grounding_*.png screenshots")
    parser.add_argument("--checkpoint", default=None, help="checkpoint folder (default: the shipped demo)")
    parser.add_argument("--device", default="cpu", choices=("auto", "cuda", "cpu"))
    args = parser.parse_args(argv)

    import napari
    from qtpy.QtCore import QSettings
    from qtpy.QtWidgets import QApplication

    from napari_petground._qt.launch import add_study, dock_widgets
    from napari_petground.phantom.sample import demo_phantom, demo_study

    app_started = time.perf_counter()
    phantom, study = demo_phantom(), demo_study()
    work = Path(tempfile.mkdtemp(prefix="guide-"))
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(work))  # leave user settings alone
    viewer = napari.Viewer(title="PET/CT - DEMO")
    viewer.window._qt_window.resize(1600, 1000)
    app = QApplication.instance()
    add_study(viewer, study)
    docks = dock_widgets(viewer)
    dock = docks[0]
    dock.model_picker.set_checkpoint(args.checkpoint)
    dock.model_picker.set_device(args.device)
    times: dict[str, float] = {"open demo + docks": time.perf_counter() - app_started}
    app.processEvents()
    viewer.reset_view()

    def pump(seconds: float = 0.3) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            app.processEvents()
            time.sleep(0.005)

    def wait(condition, timeout: float = 600.0) -> None:
        end = time.perf_counter() + timeout
        while not condition():
            if time.perf_counter() > end:
                raise TimeoutError("step did not finish")
            app.processEvents()
            time.sleep(0.005)

    def shot(name: str, widget=None) -> None:
        if args.shots is None:
            return
        pump(0.5)
        args.shots.mkdir(parents=True, exist_ok=True)
        path = args.shots / f"grounding_{name}.png"
        if widget is None:
            viewer.screenshot(str(path), canvas_only=False)
        else:
            widget.grab().save(str(path))
        print(f"  wrote {path}")

    def timed(name: str, action, until) -> None:
        started = time.perf_counter()
        action()
        wait(until)
        times[name] = time.perf_counter() - started

    wait(lambda: not dock.runner.warming)
    shot("open")

    # 1. one sentence: select it in the list and press Ground; capture the progress mid-run
    target = next(s for s in phantom.sentences if s.lesion_id == SENTENCE_LESION and s.kind == "numbers")
    row = next(r for r, f in enumerate(dock.findings_list.findings) if f.sentence == target.text)
    progress_shot = {"done": False}

    def on_progress(_request, stage, fraction):
        if stage == "inference" and not progress_shot["done"]:
            progress_shot["done"] = True
            shot("progress", dock)

    dock.runner.progressed.connect(on_progress)
    dock.findings_list.selectRow(row)
    timed("ground one sentence (first run, loads the model)", dock.ground,
          lambda: not dock.runner.busy and dock.settled)
    dock.runner.progressed.disconnect(on_progress)
    predicted = np.asarray(dock.prediction_layer().data) > 0
    hits = np.bincount(phantom.lesion_labels[predicted].astype(np.int64), minlength=6)
    print(f"  prediction: {int(predicted.sum())} voxels; on lesion {SENTENCE_LESION}: {int(hits[SENTENCE_LESION])}, "
          f"on its twin: {int(hits[2])}, on others: {int(hits[3:].sum())}")
    shot("result")
    if dock.shown is None:
        print("the model proposed nothing for the walk-through's sentence; is the checkpoint the trained demo?")
        viewer.close()
        return 1

    # 2. edit: a brush stroke with napari's paint tool adds voxels next to the lesion
    layer = dock.prediction_layer()
    viewer.layers.selection.active = layer
    layer.mode = "paint"
    layer.brush_size = 3
    z, y, x = dock.shown.stats.peak_index  # the slice on screen
    started = time.perf_counter()
    for step in range(4):  # a short stroke outwards from the lesion's edge, on the displayed slice
        layer.paint((z, y + 2 + step, x + 3 + step), 1)
    wait(lambda: "Edited" in dock.result.messages.text())
    times["brush stroke -> statistics updated"] = time.perf_counter() - started
    shot("edit")
    layer.mode = "pan_zoom"

    # 3. accept (key a), undo / redo (Ctrl+Z on the findings layer)
    timed("accept", dock.accept, lambda: dock.findings_panel.table.labels() == [1])
    shot("accepted")
    findings = dock.findings_layer()
    timed("undo (Ctrl+Z) -> table updated", findings.undo, lambda: dock.findings_panel.table.labels() == [])
    timed("redo -> table updated", findings.redo, lambda: dock.findings_panel.table.labels() == [1])

    # 4. ground all the other findings, reject the first one shown
    timed("ground all (queued, model loaded)", dock.ground_all, lambda: not dock.runner.busy and dock.settled)
    shot("all")
    shown = dock.shown.request.sentence if dock.shown else ""
    timed("reject -> next result shown", dock.reject,
          lambda: dock.settled and (dock.shown is None or dock.shown.request.sentence != shown))
    shot("list", dock.findings_list)

    # 5. save and reload (NIfTI + JSON)
    started = time.perf_counter()
    written = dock.findings_panel.save_to(work / "DEMO_findings.nii.gz")
    times["save NIfTI + JSON"] = time.perf_counter() - started
    print("  " + (work / "DEMO_findings.json").read_text()[:600].replace("\n", "\n  "))
    findings.undo()  # the accept is taken back, the file keeps it
    timed("load findings", lambda: dock.findings_panel.load_from(written[0]),
          lambda: len(dock.findings_panel.table.labels()) == 1)
    shot("loaded")

    # 6. a problem: a sentence that describes no lesion
    dock.text.setPlainText("No abnormal FDG uptake in the neck.")
    dock.ground()
    shot("problem")

    print("\nstep                                                  seconds")
    for name, seconds in times.items():
        print(f"{name:52s} {seconds:7.2f}")
    viewer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
