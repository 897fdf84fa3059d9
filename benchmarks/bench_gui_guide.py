"""The user guide's walk-through, timed step by step (and, with --shots, its screenshots).

Run (needs X; on a headless machine, a virtual screen of the size wanted):
    xvfb-run -a -s "-screen 0 1366x768x24" \\
        python benchmarks/bench_gui_guide.py --size 1366x768 [--shots docs/images] [--only open,result]
        [--extras] [--checkpoint PATH] [--device cpu]

Steps, as docs/user-guide.md tells them, on the demo study with the shipped checkpoint, in a window the size
of the screen (``--size``, as a laptop or a desktop shows it): open the study with the grounding dock (its
report listed), ground one sentence (the right iliac wing metastasis, whose left twin is also in the report),
edit the prediction with the brush, accept it, undo and redo the accept, ground all the other findings (a shot
while they run: each finding's status in the list), reject one, save and reload the findings, type a sentence
over the report (Restore comes up) that describes no lesion, then one about a lesion the study does not have
(nothing found: the view goes back to the slice being read). ``--extras`` adds the two phantoms of the guide's
"when something is wrong" section (a low-confidence answer, an answer from where the sentence points). Prints
the wall time of each step as a reader would feel it (from the action to the view updated).

Screenshots are napari's own of the whole window: grounding_<name>_<W>x<H>.png (``--only`` picks names).
The user guide's were made with
    --size 1366x768 --extras --only open,result,edit,accepted,progress,list,loaded,problem,not_found,low_confidence,pointed
    --size 1920x1080 --only open,all
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import qt_wait  # benchmarks/qt_wait.py (the script's folder is on sys.path)

ABSENT = "Hypermetabolic left axillary lymph node."  # the demo report has no axillary node
SENTENCE_LESION = 1  # the demo's right iliac wing metastasis; lesion 2 is its left twin
EXTRAS = (  # (shot, phantom seed, tracer, words of its sentence)
    ("low_confidence", 92004, "FDG", "right ninth rib"),
    ("pointed", 93011, "DOTATATE", "hepatic segment V"),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shots", type=Path, default=None, help="folder for grounding_*.png screenshots")
    parser.add_argument("--size", default="1366x768", help="window size WxH (default: a laptop's 1366x768)")
    parser.add_argument("--only", default="", help="comma-separated shot names to write (default: all)")
    parser.add_argument("--extras", action="store_true", help="also the low-confidence and pointed phantoms")
    parser.add_argument("--checkpoint", default=None, help="checkpoint folder (default: the shipped demo)")
    parser.add_argument("--device", default="cpu", choices=("auto", "cuda", "cpu"))
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    only = {name for name in args.only.split(",") if name}

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
    app = QApplication.instance() or QApplication([])

    def open_window(title: str, opened):
        """A viewer of the screen's size with ``opened`` study and the docks of ``petground view``."""
        viewer = napari.Viewer(title=title)
        add_study(viewer, opened)
        dock = dock_widgets(viewer)[0]
        dock.model_picker.set_checkpoint(args.checkpoint)
        dock.model_picker.set_device(args.device)
        viewer.window.show()
        viewer.window.resize(width, height)
        pump(1.0)
        viewer.reset_view()
        return viewer, dock

    def pump(seconds: float = 0.3) -> None:
        qt_wait.pump(app, seconds)

    def wait(condition, timeout: float = 900.0) -> None:
        qt_wait.wait_until(app, condition, timeout)

    def shot(viewer, name: str) -> None:
        if args.shots is None or (only and name not in only):
            return
        pump(0.5)
        args.shots.mkdir(parents=True, exist_ok=True)
        path = args.shots / f"grounding_{name}_{width}x{height}.png"
        viewer.screenshot(str(path), canvas_only=False, flash=False)
        print(f"  wrote {path}")

    def timed(name: str, action, until) -> None:
        started = time.perf_counter()
        action()
        wait(until)
        times[name] = time.perf_counter() - started

    viewer, dock = open_window("PET/CT - DEMO", study)
    times: dict[str, float] = {"open demo + docks": time.perf_counter() - app_started}
    wait(lambda: not dock.runner.warming)
    shot(viewer, "open")

    # 1. one sentence: select it in the list and press Ground
    target = next(s for s in phantom.sentences if s.lesion_id == SENTENCE_LESION and s.kind == "numbers")
    row = next(r for r, f in enumerate(dock.findings_list.findings) if f.sentence == target.text)
    dock.findings_list.selectRow(row)
    timed("ground one sentence (first run, loads the model)", dock.ground,
          lambda: not dock.runner.busy and dock.settled)
    predicted = np.asarray(dock.prediction_layer().data) > 0
    hits = np.bincount(phantom.lesion_labels[predicted].astype(np.int64), minlength=6)
    print(f"  prediction: {int(predicted.sum())} voxels; on lesion {SENTENCE_LESION}: {int(hits[SENTENCE_LESION])}, "
          f"on its twin: {int(hits[2])}, on others: {int(hits[3:].sum())}")
    shot(viewer, "result")
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
    shot(viewer, "edit")
    layer.mode = "pan_zoom"

    # 3. accept (key a), undo / redo (Ctrl+Z on the findings layer)
    timed("accept", dock.accept, lambda: dock.findings_panel.table.labels() == [1])
    dock.review.tabs.setCurrentIndex(1)
    shot(viewer, "accepted")
    dock.review.tabs.setCurrentIndex(0)
    findings = dock.findings_layer()
    timed("undo (Ctrl+Z) -> table updated", findings.undo, lambda: dock.findings_panel.table.labels() == [])
    timed("redo -> table updated", findings.redo, lambda: dock.findings_panel.table.labels() == [1])

    # 4. ground all the other findings (a shot while they run), reject the first one shown
    running = {"done": False}

    def on_progress(_request, stage, _fraction):
        if stage == "inference" and not running["done"] and dock.progress.text().startswith("Finding 3 "):
            running["done"] = True
            shot(viewer, "progress")

    dock.runner.progressed.connect(on_progress)
    timed("ground all (queued, model loaded)", dock.ground_all, lambda: not dock.runner.busy and dock.settled)
    dock.runner.progressed.disconnect(on_progress)
    shot(viewer, "all")
    shown = dock.shown.sentence if dock.shown else ""
    timed("reject -> next result shown", dock.reject,
          lambda: dock.settled and (dock.shown is None or dock.shown.sentence != shown))
    dock.findings_list.scrollToTop()  # the rejected one, the first of the list
    shot(viewer, "list")

    # 5. save and reload (NIfTI + JSON)
    started = time.perf_counter()
    written = dock.findings_panel.save_to(work / "DEMO_findings.nii.gz")
    times["save NIfTI + JSON"] = time.perf_counter() - started
    print(f"  {written[-1].name}: " + written[-1].read_text()[:600].replace("\n", "\n  "))
    findings.undo()  # the accept is taken back, the file keeps it
    timed("load findings", lambda: dock.findings_panel.load_from(written[0]),
          lambda: len(dock.findings_panel.table.labels()) == 1)
    dock.review.tabs.setCurrentIndex(1)
    shot(viewer, "loaded")
    dock.review.tabs.setCurrentIndex(0)

    # 6. your own text over the report (the study's report is kept: Restore), one that describes no lesion
    dock.input.replace_text("No abnormal FDG uptake in the neck.")
    dock.ground()
    shot(viewer, "problem")

    # 7. a lesion the report does not have: nothing found, the view back on the slice being read
    viewer.dims.set_point(0, float(study.pet.index_to_world((30, 0, 0))[0]))
    reading = tuple(viewer.dims.point)
    dock.input.replace_text(ABSENT)
    timed("ground a lesion the study does not have", dock.ground, lambda: not dock.runner.busy and dock.settled)
    print(f"  {ABSENT} -> {dock.findings_list.status_label(0)}; view back where it was: "
          f"{tuple(viewer.dims.point) == reading}")
    shot(viewer, "not_found")
    viewer.close()

    # 8. the guide's phantoms of "when something is wrong"
    if args.extras:
        from napari_petground.phantom import make_phantom

        for name, seed, tracer, words in EXTRAS:
            case = make_phantom(seed, tracer=tracer)
            sentence = next(s.text for s in case.sentences if words in s.text)
            viewer, dock = open_window(f"PET/CT - {case.study.name}", case.study)
            dock.input.replace_text(sentence)
            dock.ground()
            wait(lambda dock=dock: not dock.runner.busy and dock.settled)
            entry = dock.shown
            print(f"  {name}: {sentence} -> {entry.model.get('method') if entry else None}, "
                  f"flags {entry.flags if entry else None}")
            shot(viewer, name)
            viewer.close()

    print("\nstep                                                  seconds")
    for name, seconds in times.items():
        print(f"{name:52s} {seconds:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
