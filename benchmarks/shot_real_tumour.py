"""Screenshot for docs/weak-labels.md: a large real sarcoma with the physicians' GTV and the weak label grown from
its report sentence, in the real napari window.

Run (needs an X display; headless: ``xvfb-run -a -s "-screen 0 1920x1080x24" python benchmarks/shot_real_tumour.py``):
    python benchmarks/shot_real_tumour.py [--patient STS_009] [--size 1920x1080] [--out docs/images/x.png]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

IBSI = Path(os.environ.get("PETGROUND_IBSI_DIR", Path(__file__).resolve().parents[2] / "shared" / "data" / "ibsi-sts"))
SENTENCE = "Large hypermetabolic soft tissue mass with SUV max {suv} (PET/CT axial slice {image})."


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patient", default="STS_009")
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    out = args.out or Path(f"docs/images/weaklabel_{args.patient.lower()}_{width}x{height}.png")

    import napari

    from napari_petground.report import extract_findings
    from napari_petground.session import StudySession, session_layers
    from napari_petground.study import load_study
    from napari_petground.weaklabel import weak_label
    from napari_petground.weaklabel.rtstruct import rasterize_rtstruct

    study = load_study(IBSI / args.patient)
    gtv = rasterize_rtstruct(IBSI / args.patient / "PET" / "mask" / "RS.dcm", study.pet)
    pet = np.asarray(study.pet.data)
    seed = np.unravel_index(int(np.argmax(np.where(gtv, pet, -1))), pet.shape)
    sentence = SENTENCE.format(suv=f"{pet[seed]:.1f}", image=study.numbering.image_for_index(int(seed[0])))
    label = weak_label(study, extract_findings(sentence)[0])
    dice = 2 * (label.mask & gtv).sum() / (label.mask.sum() + gtv.sum())

    viewer = napari.Viewer(title=f"{args.patient}: GTV (green) and weak label (cyan), Dice {dice:.2f}")
    for data, kwargs, kind in session_layers(StudySession(study)):
        getattr(viewer, f"add_{kind}")(data, **kwargs)
    common = {"scale": study.pet.spacing, "translate": study.pet.origin, "opacity": 1.0}
    gtv_layer = viewer.add_labels(gtv.astype(np.uint8), name="GTV (physicians)", **common)
    gtv_layer.contour = 1
    gtv_layer.colormap = napari.utils.colormaps.DirectLabelColormap(color_dict={1: "lime", None: "transparent"})
    weak_layer = viewer.add_labels(label.mask.astype(np.uint8), name=f"weak label ({label.volume_ml:.0f} ml)",
                                   **common)
    weak_layer.contour = 1
    weak_layer.colormap = napari.utils.colormaps.DirectLabelColormap(color_dict={1: "cyan", None: "transparent"})
    viewer.dims.set_point(0, float(study.pet.origin[0] + seed[0] * study.pet.spacing[0]))
    viewer.window.show()
    viewer.window.resize(width, height)
    app = napari.qt.get_qapp()
    for _ in range(5):
        app.processEvents()
    viewer.reset_view()
    app.processEvents()
    viewer.screenshot(str(out), canvas_only=False, flash=False)
    print(f"{out}: {sentence} -> {label.status}, {label.volume_ml:.0f} ml vs GTV "
          f"{gtv.sum() * study.pet.voxel_volume_ml:.0f} ml, Dice {dice:.2f}, flags {label.flags}")
    viewer.close()


if __name__ == "__main__":
    main()
