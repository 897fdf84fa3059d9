"""Opening a PET/CT study from whatever the user points at: DICOM folders/files or NIfTI pairs.

``can_read`` is cheap (file names and one DICOM preamble; never loads a volume) because napari asks every
reader about every drop, and it opens regular files only (a named pipe would block napari). ``load_study``
does the work and checks what a user could get wrong: missing PET, CT and PET that do not overlap in space,
NaNs, 2D/4D images, folders that cannot be read. A folder holding DICOM images is read as DICOM even with
NIfTI files beside it (the label maps of a phantom, a preview), so the CT is not lost to a stray file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import StudyError
from ..wording import plural
from .dicom import load_dicom_study
from .files import has_dicom_preamble, is_regular, list_folder, walk_files
from .nifti import (
    LABEL_NAME,
    Sidecar,
    is_nifti,
    pair_files,
    pet_units,
    read_nifti,
    read_sidecar,
    sidecar_units,
    stem,
)
from .numbering import Convention, ImageNumbering
from .scan import holds_dicom_images
from .study import PatientInfo, Study
from .volume import Volume

PathLike = str | os.PathLike
_PROBE_LIMIT = 64  # entries looked at in a folder by can_read


def _as_paths(path_or_paths: PathLike | Sequence[PathLike]) -> list[Path]:
    if isinstance(path_or_paths, str | os.PathLike):
        return [Path(path_or_paths)]
    return [Path(p) for p in path_or_paths]


def can_read(path_or_paths: PathLike | Sequence[PathLike]) -> bool:
    """True when the path(s) look like a PET/CT study (NIfTI names or a DICOM preamble); reads <= 132 bytes."""
    try:
        paths = _as_paths(path_or_paths)
    except TypeError:
        return False
    return bool(paths) and all(_looks_readable(p) for p in paths)


def _looks_readable(path: Path) -> bool:
    if not path.is_dir():
        # only regular files are opened: a named pipe would block napari's question forever
        return is_regular(path) and (is_nifti(path) or path.suffix.lower() in (".dcm", ".ima")
                                     or has_dicom_preamble(path))
    # files looked at, over the whole tree: a drop of a huge folder must not stall napari
    for candidate in walk_files(path, limit=_PROBE_LIMIT).files:
        if is_nifti(candidate) or has_dicom_preamble(candidate):
            return True
    return False


def _kind(paths: list[Path]) -> tuple[str, list[str]]:
    """('nifti' or 'dicom', notes). DICOM images anywhere in a dropped folder win over NIfTI beside them."""
    if all(is_nifti(p) for p in paths):
        return "nifti", []
    if len(paths) == 1 and paths[0].is_dir():
        direct = [p for p in list_folder(paths[0]) if is_nifti(p) and is_regular(p)]
        if not direct:
            return "dicom", []
        if not holds_dicom_images(paths[0]):
            return "nifti", []
        images = [p.name for p in direct if not LABEL_NAME.search(stem(p))]  # label maps go without saying
        if not images:
            return "dicom", []
        return "dicom", [f"{plural(len(images), 'NIfTI file')} beside the DICOM series not read: {', '.join(images[:5])}"
                         f"{' ...' if len(images) > 5 else ''} (select the NIfTI files to open them instead)"]
    if any(is_nifti(p) for p in paths):
        raise StudyError("mixing NIfTI and DICOM inputs is not supported; open one kind at a time")
    return "dicom", []


def load_study(path_or_paths: PathLike | Sequence[PathLike], *, pet_series: str | None = None,
               ct_series: str | None = None, numbering: Convention | str = Convention.HEAD_FIRST) -> Study:
    """Read a PET/CT study (PET in SUVbw when the data allows, CT in HU, canonical LPS geometry).

    ``pet_series`` / ``ct_series`` choose DICOM series by SeriesInstanceUID when a folder holds several
    (``ct_series="none"`` opens the PET alone). ``numbering`` is the image-number convention used when the
    files carry no InstanceNumber (NIfTI).
    """
    paths = _as_paths(path_or_paths)
    if not paths:
        raise StudyError("no file or folder given; choose a DICOM folder or a CT and PET NIfTI file")
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise StudyError(f"not found: {', '.join(missing)}; check the path")
    special = [str(p) for p in paths if not p.is_dir() and not is_regular(p)]
    if special:
        raise StudyError(f"{', '.join(special)} is not a regular file (a named pipe, socket or device); "
                         "choose the image files or the folder that holds them")
    numbering = Convention(numbering)
    kind, kind_notes = _kind(paths)
    if kind == "nifti":
        study = _load_nifti(paths, numbering)
    else:
        study = load_dicom_study(paths, pet_series=pet_series, ct_series=ct_series, numbering=numbering)
    study.warnings.extend(kind_notes)
    _replace_nans(study)
    _check_overlap(study)
    if study.ct is None and not any("CT" in w for w in study.warnings):
        study.warnings.append("no CT: PET only")
    return study


def _load_nifti(paths: list[Path], numbering: Convention) -> Study:
    ct_path, pet_path, notes = pair_files(paths)
    pet, pet_notes = read_nifti(pet_path, "linear")
    pet.data = pet.data.astype(np.float32, copy=False)
    sidecar, sidecar_notes = read_sidecar(pet_path)
    known_units = sidecar_units(sidecar)
    if known_units is not None:
        (units, is_suv), unit_notes = known_units, []
    else:
        units, is_suv, unit_notes = pet_units(pet, pet_path)
    ct = None
    if ct_path is not None:
        ct, ct_notes = read_nifti(ct_path, "linear")
        notes.extend(ct_notes)
    return Study(
        pet=pet,
        ct=ct,
        numbering=_nifti_numbering(pet.shape[0], numbering, sidecar, notes),
        pet_units=units,
        pet_is_suv=is_suv,
        tracer=sidecar.tracer if sidecar else "",
        report=sidecar.report if sidecar else "",
        patient=PatientInfo(),
        source=tuple(paths),
        source_kind="nifti",
        title=_case_name(paths, pet_path),
        warnings=notes + pet_notes + unit_notes + sidecar_notes,
        extras={"pet_file": str(pet_path), "ct_file": str(ct_path) if ct_path else ""},
    )


def _nifti_numbering(n_slices: int, numbering: Convention, sidecar: Sidecar | None,
                     notes: list[str]) -> ImageNumbering:
    """The sidecar's image numbers when it has one per PET slice and the caller asked for no other
    convention; else ``numbering`` (DICOM numbering falls back to head_first: NIfTI has no InstanceNumber)."""
    if sidecar is not None and numbering in (Convention.DICOM, Convention.HEAD_FIRST):
        if len(sidecar.numbers) == n_slices and sidecar.convention:
            return ImageNumbering(sidecar.numbers, Convention(sidecar.convention))
        if sidecar.convention:
            return ImageNumbering.from_convention(n_slices, Convention(sidecar.convention))
    if numbering == Convention.DICOM:
        notes.append("NIfTI carries no InstanceNumber; image numbers counted from the head (head_first)")
        numbering = Convention.HEAD_FIRST
    return ImageNumbering.from_convention(n_slices, numbering)


def _case_name(paths: list[Path], pet_path: Path) -> str:
    name = stem(pet_path)
    if len(paths) == 1 and paths[0].is_dir() and not name.endswith("_0001"):
        return paths[0].name
    if name in ("suv", "pet", "pt"):
        return pet_path.parent.name
    for suffix in ("_0001", "_pet", "_suv", "_pt", "-pet", "-suv"):
        if name.endswith(suffix):
            return pet_path.name[: len(name) - len(suffix)]
    return pet_path.name[: len(name)]


def _replace_nans(study: Study) -> None:
    for role, volume in (("PET", study.pet), ("CT", study.ct)):
        if volume is None or not np.issubdtype(volume.data.dtype, np.floating):
            continue
        bad = ~np.isfinite(volume.data)
        count = int(bad.sum())
        if count:
            volume.data[bad] = 0
            study.warnings.append(f"{role} had {plural(count, 'NaN or infinite voxel')}; set to 0")


def _extent(volume: Volume) -> tuple[np.ndarray, np.ndarray]:
    low = np.asarray(volume.origin)
    high = volume.index_to_world(np.asarray(volume.shape) - 1)
    return np.minimum(low, high), np.maximum(low, high)


def _check_overlap(study: Study) -> None:
    if study.ct is None:
        return
    pet_lo, pet_hi = _extent(study.pet)
    ct_lo, ct_hi = _extent(study.ct)
    if np.any(pet_hi < ct_lo) or np.any(ct_hi < pet_lo):
        raise StudyError(
            "the CT and the PET do not overlap in space (different patients, exams or frames of reference?); "
            "open a CT and PET of the same exam"
        )
