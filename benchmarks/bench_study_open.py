"""Time and memory from "open this whole-body study" to "layers ready", for DICOM and NIfTI.

Generates a whole-body-sized study (CT 512x512x400 int16, PET 200x200x400) in a temporary folder, written
as DICOM series and as an autoPET NIfTI pair, then opens each in a fresh subprocess: load_study ->
study_layers -> adding the layers to a napari viewer (when a display is available). Peak memory is the
subprocess's maximum resident set size. Targets: <= 10 s and <= 3 GB for both formats.

    xvfb-run -a python benchmarks/bench_study_open.py            # full size
    python benchmarks/bench_study_open.py --scale 0.25 --no-viewer  # quick look
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 10.0
TARGET_GB = 3.0


def peak_rss_gb() -> float:
    """This process's peak resident memory (VmHWM; ru_maxrss would include the parent's at fork time)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024**2
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def measure(path: str, with_viewer: bool) -> dict:
    """Run in the subprocess: open the study and report times and peak memory as JSON."""
    t_start = time.perf_counter()
    from napari_petground.study import load_study
    from napari_petground.study.layers import study_layers

    viewer = None
    if with_viewer:  # the viewer is already open when a user drops a study on it: not part of "open"
        import napari
        from qtpy.QtWidgets import QApplication

        viewer = napari.Viewer(show=False)
    t_imported = time.perf_counter()
    cpu_start = time.process_time()
    load_before = os.getloadavg()[0]
    rss_imported = peak_rss_gb()
    study = load_study(path)
    t_loaded = time.perf_counter()
    layers = study_layers(study)
    t_layers = time.perf_counter()
    if viewer is not None:
        for data, kwargs, layer_type in layers:
            getattr(viewer, f"add_{layer_type}")(data, **kwargs)
        QApplication.processEvents()
        t_viewer = time.perf_counter()
        viewer.close()
    else:
        t_viewer = t_layers
    cpu_open = time.process_time() - cpu_start
    peak_gb = peak_rss_gb()
    return {
        "open_cpu_s": cpu_open,  # CPU time of this process: what the wall time is on an idle machine
        "load_average": max(load_before, os.getloadavg()[0]),
        "imports_s": t_imported - t_start,  # with the viewer's start-up when included
        "load_s": t_loaded - t_imported,
        "layers_s": t_layers - t_loaded,
        "viewer_s": t_viewer - t_layers,
        "open_s": t_viewer - t_imported,
        "peak_gb": peak_gb,
        "after_imports_gb": rss_imported,
        "suvmax": study.suvmax(),
        "ct_shape": list(study.ct.shape),
        "pet_shape": list(study.pet.shape),
    }


def generate(folder: Path, scale: float) -> None:
    from napari_petground.study.export import export_dicom, export_nifti
    from napari_petground.study.synthetic import synthetic_study

    def size(n: int) -> int:
        return max(8, int(round(n * scale)))

    study = synthetic_study(
        ct_shape=(size(400), size(512), size(512)), pet_shape=(size(400), size(200), size(200)),
        field_mm=(1000.0, 600.0, 600.0), name="WHOLEBODY",
    )
    t0 = time.perf_counter()
    export_dicom(study, folder / "dicom")
    t1 = time.perf_counter()
    export_nifti(study, folder / "nifti", layout="autopet")
    t2 = time.perf_counter()
    print(f"generated CT {study.ct.shape} int16 and PET {study.pet.shape}: DICOM in {t1 - t0:.1f} s, "
          f"NIfTI in {t2 - t1:.1f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the whole-body size per axis")
    parser.add_argument("--no-viewer", action="store_true", help="stop at layer data (no napari viewer)")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--with-viewer", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--generate", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.with_viewer)))
        return 0
    if args.generate:
        generate(Path(args.generate), args.scale)
        return 0
    with_viewer = not args.no_viewer and bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if not args.no_viewer and not with_viewer:
        print("no display: measuring up to layer data only (run under xvfb-run to include the napari viewer)")
    rows = []
    with tempfile.TemporaryDirectory(prefix="petground-bench-") as tmp:
        # generated in its own process so that the measuring processes start small
        subprocess.run([sys.executable, __file__, "--generate", tmp, "--scale", str(args.scale)], check=True)
        sources = {"DICOM": Path(tmp) / "dicom", "NIfTI": Path(tmp) / "nifti"}
        for kind, path in sources.items():
            command = [sys.executable, __file__, "--measure", str(path)] + (["--with-viewer"] if with_viewer else [])
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                print(done.stderr[-2000:], file=sys.stderr)
                return 1
            result = json.loads(done.stdout.strip().splitlines()[-1])
            rows.append((kind, result))
    print()
    print(f"| format | load_study s | layers s | add to viewer s | open total s (wall) | open CPU s | "
          f"peak RSS GB | load avg | target (<= {TARGET_SECONDS:g} s, <= {TARGET_GB:g} GB) |")
    print("|---|---|---|---|---|---|---|---|---|")
    ok = True
    for kind, r in rows:
        met = r["open_s"] <= TARGET_SECONDS and r["peak_gb"] <= TARGET_GB
        cpu_met = r["open_cpu_s"] <= TARGET_SECONDS and r["peak_gb"] <= TARGET_GB
        ok &= met
        verdict = "met" if met else ("met in CPU time; wall time slowed by a busy machine" if cpu_met else "MISSED")
        print(f"| {kind} | {r['load_s']:.2f} | {r['layers_s']:.3f} | {r['viewer_s']:.2f} | {r['open_s']:.2f} | "
              f"{r['open_cpu_s']:.2f} | {r['peak_gb']:.2f} | {r['load_average']:.1f} | {verdict} |")
    r = rows[0][1]
    print(f"\nCT {tuple(r['ct_shape'])}, PET {tuple(r['pet_shape'])}; viewer {'included' if with_viewer else 'not included'};"
          f" open total excludes imports and viewer start-up; peak RSS includes them"
          f" (after them: {r['after_imports_gb']:.2f} GB); {os.cpu_count()} cores")
    return 0 if ok else 2


if __name__ == "__main__":
    sys.exit(main())
