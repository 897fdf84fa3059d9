"""``petground info PATH`` (study summary) and ``petground view [PATHS...] [--demo]`` (napari)."""

from __future__ import annotations

import argparse

from ..errors import StudyError
from .study import Study


def register(subparsers) -> None:
    info = subparsers.add_parser("info", help="print a PET/CT study's summary (patient, tracer, grids, SUVmax)")
    info.add_argument("paths", nargs="+", help="DICOM folder, or CT and PET NIfTI files, or a folder of them")
    _series_options(info)
    info.set_defaults(func=_info)

    view = subparsers.add_parser("view", help="open a PET/CT study (or the demo) in napari")
    view.add_argument("paths", nargs="*", help="DICOM folder, or CT and PET NIfTI files, or a folder of them")
    view.add_argument("--demo", action="store_true", help="open the synthetic demo study")
    _series_options(view)
    view.set_defaults(func=_view)


def _series_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pet-series", default=None, help="SeriesInstanceUID of the PET (when several)")
    parser.add_argument("--ct-series", default=None, help="SeriesInstanceUID of the CT, or 'none' for PET only")
    parser.add_argument("--numbering", default="head_first", choices=["head_first", "feet_first"],
                        help="image-number convention when the files carry none (NIfTI)")


def _load(args) -> Study:
    from .io import load_study

    return load_study(args.paths if len(args.paths) > 1 else args.paths[0], pet_series=args.pet_series,
                      ct_series=args.ct_series, numbering=args.numbering)


def summary(study: Study) -> str:
    """Human-readable description of a study: what a user checks before trusting the numbers."""
    p = study.patient
    lines = [
        f"study      {study.name} ({study.source_kind})",
        f"patient    id={p.patient_id or '-'} sex={p.sex or '-'} weight={f'{p.weight_kg:g} kg' if p.weight_kg else '-'}"
        f" date={p.study_date or '-'}",
        f"tracer     {study.tracer or 'unknown'}",
        f"PET        {_grid(study.pet)}  units={study.pet_units}{'' if study.pet_is_suv else ' (NOT SUV)'}",
        f"           {'SUVmax' if study.pet_is_suv else 'max'} {study.suvmax():.2f}",
        f"CT         {_grid(study.ct) if study.ct is not None else 'none'}",
        f"numbering  {study.numbering.convention} (z=0 -> image {study.numbering.numbers[0]},"
        f" z={len(study.numbering.numbers) - 1} -> image {study.numbering.numbers[-1]})",
    ]
    if study.frame_of_reference_uid:
        lines.append(f"frame      {study.frame_of_reference_uid}")
    for key in ("pet_series", "ct_series"):
        if study.extras.get(key):
            lines.append(f"{key.replace('_', ' '):10} {study.extras[key]}")
    lines.extend(f"warning    {w}" for w in study.warnings)
    return "\n".join(lines)


def _grid(volume) -> str:
    shape = "x".join(str(s) for s in volume.shape)
    spacing = "x".join(f"{s:.2f}" for s in volume.spacing)
    origin = ", ".join(f"{o:.1f}" for o in volume.origin)
    return f"{shape} (z,y,x) voxels of {spacing} mm, origin ({origin}) mm"


def _info(args) -> int:
    print(summary(_load(args)))
    return 0


def _view(args) -> int:
    if not args.paths and not args.demo:
        raise StudyError("give a study to view (DICOM folder or NIfTI files) or --demo")
    study = None if args.demo and not args.paths else _load(args)
    from .._qt.launch import view_study

    return view_study(study, demo=args.demo and study is None)
