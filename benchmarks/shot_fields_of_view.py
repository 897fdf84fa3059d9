"""Screenshots of grounding from the words alone on other fields of view, for docs/fields-of-view.md.

Run (needs X; on a headless machine, a virtual screen of the size wanted):
    xvfb-run -a -s "-screen 0 1366x768x24" \\
        python benchmarks/shot_fields_of_view.py --size 1366x768 --shots docs/images [--ibsi DIR]

Shots, each of the whole window with the grounding dock:
- fov_chest: a phantom cut to the chest (phantom.fields), one of its sentences without numbers grounded;
- fov_limb: a real sarcoma PET/CT limb crop (IBSI STS_009, when ``--ibsi`` or PETGROUND_IBSI_DIR names the
  data), "Hypermetabolic mass in the right thigh" grounded: the answer comes with the flag that the study lies
  outside what the checkpoint was trained on (no landmark in a limb crop);
- fov_limb_numbers: the same crop, "Hypermetabolic mass in the left thigh, SUVmax 26.1 (image 65).": the
  numbers find the GTV and the side is not judged (the crop does not show the body's midline); the result is
  scrolled to its Side row;
- fov_limb_describe: the same crop with the describe panel on the physicians' GTV: no site or side named, and
  the note says why;
- fov_whole_body_describe: a version-2 whole-body phantom, the describe panel on one lesion's true mask (the
  site, side and alternatives the shipped head gives);
- fov_recheck: phantom 92015 (neck to thighs, DOTATATE), "… left supra-acetabular ilium …" without numbers: the
  uptake where the prior points looks like the descending colon, so the hottest uptake that looks like a left
  iliac bone lesion is shown, flagged (model.recheck);
- fov_recheck_neighbour: phantom 92008 (neck to thighs, FDG), "… right periaortic node …" without numbers: the
  guess looks like a palatine tonsil and no hot spot looks like a para-aortic node, so the hottest one that
  looks like another station of that group on the right (an aortocaval node: the described node) is shown,
  flagged, with a ⚠ site row;
- fov_recheck_level: phantom 92011 (neck to thighs, DOTATATE), "T9 vertebral lesion" without numbers: the
  network's most confident region is a T4 lesion, its region that looks like T9 is shown, and the depth strip
  follows it to T9's level (model.depth.depth_of_answer);
- fov_nothing_pointed: phantom 92000 (neck to thighs, FDG), "Intensely FDG-avid focus in the liver …" without
  numbers: the network has no region and nothing where the prior points stands out once grown, so the
  hottest uptake that looks like a liver lesion (the described metastasis) is shown, flagged.
Prints each sentence, the method and the flags. ``--only`` takes a comma-separated list of shot names.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import qt_wait  # benchmarks/qt_wait.py (the script's folder is on sys.path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shots", type=Path, required=True, help="folder for fov_*.png screenshots")
    parser.add_argument("--size", default="1366x768", help="window size WxH")
    parser.add_argument("--ibsi", type=Path, default=os.environ.get("PETGROUND_IBSI_DIR"),
                        help="folder of the IBSI STS patients (optional)")
    parser.add_argument("--seed", type=int, default=90003, help="phantom seed of the chest shot")
    parser.add_argument("--only", default="", help="comma-separated shot names (default: all)")
    args = parser.parse_args(argv)
    only = {name for name in args.only.split(",") if name}

    def wanted(name: str) -> bool:
        return not only or name in only
    width, height = (int(v) for v in args.size.lower().split("x"))

    import napari
    from qtpy.QtWidgets import QApplication

    from napari_petground._qt.launch import add_study, dock_widgets
    from napari_petground.phantom.fields import phantom_in_field

    app = QApplication.instance() or QApplication([])

    def settle(condition, timeout: float = 600.0) -> None:
        qt_wait.wait_until(app, condition, timeout, "grounding")

    def ground_and_shoot(name: str, study, sentence: str, show_row: str = "") -> None:
        viewer = napari.Viewer(title=f"PET/CT - {study.name}")
        add_study(viewer, study)
        dock = dock_widgets(viewer)[0]
        viewer.window.show()
        viewer.window.resize(width, height)
        settle(lambda: not dock.runner.warming)
        dock.input.replace_text(sentence)
        dock.ground()
        settle(lambda: not dock.runner.busy and dock.settled)
        entry = dock.shown
        if entry is not None and entry.stats is not None:
            viewer.dims.set_current_step(0, int(entry.stats.peak_index[0]))  # the slice of the answer's peak
        if show_row:  # a small screen scrolls the result: bring that row of its table into view
            from qtpy.QtWidgets import QScrollArea

            qt_wait.pump(app, 0.5)
            label = next(c for c in dock.result.cells() if c.text() == show_row)
            area = dock.result.parentWidget()
            while area is not None and not isinstance(area, QScrollArea):
                area = area.parentWidget()
            if area is not None:
                area.ensureWidgetVisible(label, 0, 40)
        qt_wait.pump(app, 1.0)
        args.shots.mkdir(parents=True, exist_ok=True)
        path = args.shots / f"fov_{name}_{width}x{height}.png"
        viewer.screenshot(str(path), canvas_only=False, flash=False)
        print(f"{name}: {sentence!r} -> {entry.model.get('method') if entry else None}; "
              f"flags {entry.flags if entry else None}; wrote {path}")
        viewer.close()

    def describe_and_shoot(name: str, study, gtv, label: str = "GTV") -> None:
        import numpy as np

        from napari_petground._qt.describe_panel import DescribePanel

        viewer = napari.Viewer(title=f"PET/CT - {study.name}")
        add_study(viewer, study)
        panel = DescribePanel(viewer)
        viewer.window.add_dock_widget(panel, area="right", name="Describe lesion")
        viewer.window.show()
        viewer.window.resize(width, height)
        panel.describe_mask(gtv, label)
        settle(lambda: not panel.busy and panel.description is not None)
        viewer.dims.set_current_step(0, int(np.argwhere(gtv)[:, 0].mean()))
        qt_wait.pump(app, 1.0)
        path = args.shots / f"fov_{name}_{width}x{height}.png"
        viewer.screenshot(str(path), canvas_only=False, flash=False)
        print(f"{name}: {panel.description.sentence!r}; note {panel.description.note!r}; wrote {path}")
        viewer.close()

    if wanted("chest"):
        chest = phantom_in_field(args.seed, "chest", tracer="FDG")
        sentence = next(s.text for s in chest.sentences
                        if s.lesion_id is not None and s.kind in ("no_numbers", "impression"))
        ground_and_shoot("chest", chest.study, sentence)
    if args.ibsi and (Path(args.ibsi) / "STS_009").is_dir():
        from napari_petground.study import load_study
        from napari_petground.weaklabel.rtstruct import rasterize_rtstruct

        folder = Path(args.ibsi) / "STS_009"
        if wanted("limb"):
            ground_and_shoot("limb", load_study(folder), "Hypermetabolic mass in the right thigh")
        if wanted("limb_numbers"):
            ground_and_shoot("limb_numbers", load_study(folder),
                             "Hypermetabolic mass in the left thigh, SUVmax 26.1 (image 65).", show_row="Side")
        if wanted("limb_describe"):
            study = load_study(folder)
            describe_and_shoot("limb_describe", study,
                               rasterize_rtstruct(folder / "PET" / "mask" / "RS.dcm", study.pet))
    for name, seed, field, tracer, words in (
            ("recheck", 92015, "neck_to_thighs", "DOTATATE", "left supra-acetabular ilium"),
            ("recheck_neighbour", 92008, "neck_to_thighs", "FDG", "right periaortic node"),
            ("recheck_level", 92011, "neck_to_thighs", "DOTATATE", "T9 vertebral"),
            ("nothing_pointed", 92000, "neck_to_thighs", "FDG", "focus in the liver")):
        if wanted(name):
            case = phantom_in_field(seed, field, tracer=tracer)
            ground_and_shoot(name, case.study, next(s.text for s in case.sentences if words in s.text),
                             show_row="Site" if name == "recheck_neighbour" else "")
    if wanted("whole_body_describe"):
        whole = phantom_in_field(args.seed + 1, "whole_body", tracer="FDG", n_lesions=6, version=2)
        lesion = min(whole.lesions, key=lambda les: les.center_mm[0])  # the lowest: a leg, where there is one
        describe_and_shoot("whole_body_describe", whole.study, whole.lesion_labels == lesion.id, "lesion")
    return 0


if __name__ == "__main__":
    sys.exit(main())
