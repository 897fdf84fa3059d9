"""Screenshots of the PET/CT display for the user guide, as a user sees the window on a given screen.

Run under a virtual screen of the size wanted (the window is sized to fill it), e.g.:

    xvfb-run -a -s "-screen 0 1366x768x24" .venv/bin/python docs/make_display_shots.py --out docs/images
    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python docs/make_display_shots.py --out docs/images

Writes display_<look>_<W>x<H>.png (napari's screenshot of the whole window) and, when ImageMagick's
``import`` is installed, display_<look>_<W>x<H>_screen.png (the whole X screen). ``--phantom`` adds a saved
phantom reopened from its folder; ``--ibsi ../shared/data/ibsi-sts`` the real patient STS_002 of the README.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    parser.add_argument("--phantom", action="store_true", help="also open a saved phantom folder (tracer, report)")
    parser.add_argument("--ibsi", type=Path, default=None,
                        help="also the real IBSI patient STS_002 from this folder (ibsi_sts002_fused.png)")
    args = parser.parse_args(argv)

    import napari
    import numpy as np
    from qtpy.QtCore import QSettings
    from qtpy.QtWidgets import QApplication, QDockWidget

    from napari_petground._qt.launch import add_study, dock_widgets
    from napari_petground.phantom.sample import demo_study
    from napari_petground.study.layers import INVERTED_GREY_PET, SUV_TO_MAX

    work = Path(tempfile.mkdtemp(prefix="shots-"))
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(work))  # leave user settings alone
    app = QApplication.instance() or QApplication([])
    screen = app.primaryScreen().size()
    size = f"{screen.width()}x{screen.height()}"
    args.out.mkdir(parents=True, exist_ok=True)

    def pump(seconds: float = 0.6) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            app.processEvents()
            time.sleep(0.01)

    def frame_of(widget):
        while widget is not None and not isinstance(widget, QDockWidget):
            widget = widget.parentWidget()
        return widget

    def shoot(viewer, name: str) -> None:
        pump()
        path = args.out / f"display_{name}_{size}.png"
        viewer.screenshot(str(path), canvas_only=False, flash=False)
        if shutil.which("import"):
            subprocess.run(["import", "-window", "root", str(path.with_name(path.stem + "_screen.png"))], check=False)
        print(path)

    study = demo_study()
    viewer = napari.Viewer(title=f"PET/CT - {study.name}")
    viewer.window.resize(screen.width(), screen.height())
    add_study(viewer, study)
    docks = dock_widgets(viewer)
    display = docks[-1]
    pump(1.0)
    frame_of(display).raise_()
    lesion = np.unravel_index(np.argmax(study.pet.data), study.pet.shape)
    viewer.dims.set_point(0, float(study.pet.index_to_world(np.asarray(lesion, dtype=float))[0]))
    viewer.reset_view()
    shoot(viewer, "hot_metal")
    display.suv_combo.setCurrentText(SUV_TO_MAX)
    shoot(viewer, "suvmax_window")
    display.suv_combo.setCurrentText("SUV 0-10")
    display.look_combo.setCurrentText(INVERTED_GREY_PET)
    shoot(viewer, "inverted_grey")
    display.look_combo.setCurrentText("hot metal over CT")
    display.panels_check.setChecked(True)
    shoot(viewer, "side_by_side")
    display.panels_check.setChecked(False)
    viewer.close()
    if args.phantom:  # a saved phantom reopened from its folder: tracer, report and units come back with it
        from napari_petground.phantom import make_phantom
        from napari_petground.phantom.io import save_phantom

        phantom = make_phantom(7, tracer="PSMA")
        folder = save_phantom(phantom, work / "phantom_psma", format="nifti")
        viewer = napari.Viewer(title="PET/CT - phantom_psma")
        viewer.window.resize(screen.width(), screen.height())
        viewer.open(str(folder), plugin="napari-petground")
        docks = dock_widgets(viewer)
        pump(1.0)
        hottest = max(phantom.lesions, key=lambda lesion: lesion.suvmax)
        viewer.dims.set_point(0, float(hottest.center_mm[0]))
        viewer.reset_view()
        shoot(viewer, "reopened_phantom")
        frame_of(docks[-1]).raise_()
        shoot(viewer, "reopened_phantom_display")
        viewer.close()
    if args.ibsi is not None:  # a real sarcoma, zoomed on its hottest voxel with the cursor read-out
        from napari_petground._qt.display_panels import camera_of
        from napari_petground.study import load_study

        study = load_study(args.ibsi / "STS_002")
        viewer = napari.Viewer(title="PET/CT - STS_002")
        viewer.window.resize(screen.width(), screen.height())
        add_study(viewer, study)
        display = dock_widgets(viewer)[-1]
        pump(1.0)
        frame_of(display).raise_()
        hot = study.pet.index_to_world(
            np.asarray(np.unravel_index(np.argmax(study.pet.data), study.pet.shape), dtype=float))
        viewer.dims.set_point(0, float(hot[0]))
        viewer.reset_view()
        camera = camera_of(viewer)
        camera.center = (float(hot[0]), float(hot[1]), float(hot[2]))
        camera.zoom = camera.zoom * 1.6
        viewer.cursor.position = tuple(float(v) for v in hot)
        display._on_mouse_move(viewer, None)  # the read-out as the mouse on that voxel shows it
        pump()
        path = args.out / "ibsi_sts002_fused.png"
        viewer.screenshot(str(path), canvas_only=False, flash=False)
        print(path)
        viewer.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
