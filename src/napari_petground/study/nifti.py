"""NIfTI PET/CT pairs -> a Study: which file is the CT, which the PET, read through SimpleITK.

Layouts recognised: two files chosen together (roles from names such as ``*ct*`` / ``*pet*`` / ``*suv*``, else
from values: a CT has air at about -1000 HU, a PET is non-negative); a folder holding one of each; autoPET
(``CTres.nii.gz`` + ``SUV.nii.gz``); nnU-Net (``case_0000`` CT + ``case_0001`` PET). NIfTI carries no PET
units: a PET whose maximum is a plausible SUV (<= 100) is taken as SUV and said so; anything else is kept in
its own units and flagged, so nothing pretends to be SUV. A ``phantom.json`` beside the PET (the
project's phantoms) says what NIfTI cannot: tracer, report, image numbering and PET units.
"""

from __future__ import annotations

import gzip
import json
import re
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import StudyError
from ..wording import plural
from .files import reason
from .geometry import SourceGeometry, canonical_volume
from .volume import Volume

NIFTI_SUFFIXES = (".nii", ".nii.gz")
MAX_PLAUSIBLE_SUV = 100.0
_CT_NAME = re.compile(r"(^|[^a-z])(ct|ctres|ct_res)([^a-z]|$)|_0000$")
_PET_NAME = re.compile(r"(^|[^a-z])(pet|pt|suv)([^a-z]|$)|_0001$")
LABEL_NAME = re.compile(r"seg|label|mask|gtv|roi|lesion|sites")


def is_nifti(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(".nii") or name.endswith(".nii.gz")


def stem(path: Path) -> str:
    """File name without .nii / .nii.gz, lower case."""
    name = path.name.lower()
    return name[: -len(".nii.gz")] if name.endswith(".nii.gz") else name[: -len(".nii")] if name.endswith(".nii") else name


def name_role(path: Path) -> str:
    """'ct', 'pet' or '' from the file name alone."""
    name = stem(path)
    ct, pet = bool(_CT_NAME.search(name)), bool(_PET_NAME.search(name))
    return "ct" if ct and not pet else "pet" if pet and not ct else ""


def read_nifti(path: Path, interpolation: str = "linear") -> tuple[Volume, list[str]]:
    """One NIfTI file as a canonical LPS Volume; StudyError for unreadable, truncated, 2D or 4D images.

    SimpleITK reads the geometry (qform/sform -> LPS); the voxels of a plain 3D NIfTI-1 are streamed straight
    into one numpy array (one decompression pass, no second copy, truncation and NaNs detected).
    """
    import SimpleITK as sitk

    header = _nifti1_header(path)
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else ""
        raise StudyError(f"{path} cannot be read as NIfTI (corrupt or truncated?): {first}") from exc
    size = tuple(int(v) for v in reader.GetSize())
    if reader.GetDimension() == 4 and size[3] != 1:
        raise StudyError(
            f"{path.name} is 4D ({size[3]} frames); a PET/CT study needs one 3D image per modality. "
            "Export a single frame (e.g. the static or summed frame)"
        )
    if reader.GetDimension() < 3 or min(size[:3]) < 2:
        raise StudyError(f"{path.name} is {reader.GetDimension()}D with size {size}; a 3D volume is needed")
    if reader.GetNumberOfComponents() != 1:
        raise StudyError(f"{path.name} has {reader.GetNumberOfComponents()} values per voxel (RGB?); "
                         "a grey-value image is needed")
    spacing = [float(v) for v in reader.GetSpacing()[:3]]
    if not all(np.isfinite(v) and v > 0 for v in spacing):
        raise StudyError(f"{path.name} has a voxel size of {spacing} mm (pixdim); every size must be positive. "
                         "Correct the header or re-export the image")
    direct = reader.GetDimension() == 3 and header is not None and header["datatype"] in _DTYPES
    if direct:
        data, nan_count = _read_voxels(path, header)
        geometry = SourceGeometry(size, tuple(float(v) for v in reader.GetSpacing()),
                                  tuple(float(v) for v in reader.GetOrigin()),
                                  tuple(float(v) for v in reader.GetDirection()))
    else:
        data, geometry, nan_count = _read_with_sitk(path)
    if data.dtype == np.float64:
        data = data.astype(np.float32)
    volume, notes = canonical_volume(data, geometry, {"file": str(path)}, interpolation)
    if nan_count:
        notes.append(f"{path.name} had {plural(nan_count, 'NaN or infinite voxel')}; set to 0")
    return volume, notes


def _read_with_sitk(path: Path) -> tuple[np.ndarray, SourceGeometry, int]:
    """Fallback for NIfTI-2, unusual data types and 4D files with one frame."""
    import SimpleITK as sitk

    nan_count = check_nifti_file(path)
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        raise StudyError(f"{path} cannot be read as NIfTI (corrupt or truncated?)") from exc
    if image.GetDimension() == 4:
        size = image.GetSize()
        image = sitk.Extract(image, [size[0], size[1], size[2], 0], [0, 0, 0, 0])
    geometry = SourceGeometry(
        size=tuple(int(v) for v in image.GetSize()),
        spacing=tuple(float(v) for v in image.GetSpacing()),
        origin=tuple(float(v) for v in image.GetOrigin()),
        direction=tuple(float(v) for v in image.GetDirection()),
    )
    data = sitk.GetArrayFromImage(image)
    if data.dtype.kind == "f":
        data[~np.isfinite(data)] = 0
    return data, geometry, nan_count


_DTYPES = {2: "u1", 4: "i2", 8: "i4", 16: "f4", 64: "f8", 256: "i1", 512: "u2", 768: "u4", 1024: "i8", 1280: "u8"}


def _opener(path: Path):
    return gzip.open if path.name.lower().endswith(".gz") else open


def _read_error(path: Path, exc: Exception) -> StudyError:
    """Permission problems said as such; anything else while reading is a damaged file."""
    if isinstance(exc, OSError) and reason(exc) == "permission denied":
        return StudyError(f"{path} cannot be read: permission denied; check its permissions")
    return StudyError(f"{path} cannot be read as NIfTI (corrupt or truncated?): {exc}")


def _nifti1_header(path: Path) -> dict | None:
    """The fields of a NIfTI-1 header needed to read its voxels; None for other headers."""
    try:
        with _opener(path)(path, "rb") as handle:
            raw = handle.read(352)
    except (OSError, EOFError, zlib.error) as exc:
        raise _read_error(path, exc) from exc
    if len(raw) < 348:
        raise StudyError(f"{path} is too short to be a NIfTI file (truncated?)")
    for order in "<>":
        if struct.unpack(order + "i", raw[:4])[0] == 348:
            break
    else:
        return None
    dims = struct.unpack(order + "8h", raw[40:56])
    datatype, bitpix = struct.unpack(order + "hh", raw[70:74])
    offset = int(struct.unpack(order + "f", raw[108:112])[0])
    slope, intercept = struct.unpack(order + "ff", raw[112:120])
    shape = tuple(max(int(d), 1) for d in dims[1 : 1 + max(0, min(int(dims[0]), 7))])
    return {"order": order, "shape": shape, "datatype": int(datatype), "bitpix": int(bitpix),
            "offset": offset, "slope": float(slope), "intercept": float(intercept)}


def _read_voxels(path: Path, header: dict) -> tuple[np.ndarray, int]:
    """Voxels as a (z, y, x) array with scl_slope/scl_inter applied; NaN and +-Inf set to 0 and counted."""
    dtype = np.dtype(header["order"] + _DTYPES[header["datatype"]])
    nx, ny, nz = header["shape"][:3]
    data = np.empty((nz, ny, nx), dtype=dtype)
    target = memoryview(data.reshape(-1).view(np.uint8))
    try:
        with _opener(path)(path, "rb") as handle:
            handle.read(header["offset"])
            filled = 0
            while filled < len(target):
                got = handle.readinto(target[filled : filled + _CHUNK])
                if not got:
                    break
                filled += got
    except (OSError, EOFError, zlib.error) as exc:
        if isinstance(exc, OSError) and reason(exc) == "permission denied":
            raise _read_error(path, exc) from exc
        raise StudyError(f"{path} is corrupt or truncated ({exc}); re-export it") from exc
    if filled < len(target):
        raise StudyError(f"{path} is truncated ({filled} of {len(target)} voxel bytes); re-export it")
    if not dtype.isnative:
        data = data.astype(dtype.newbyteorder("="))
    slope = header["slope"] if np.isfinite(header["slope"]) and header["slope"] != 0 else 1.0
    intercept = header["intercept"] if np.isfinite(header["intercept"]) else 0.0
    if slope != 1.0 or intercept != 0.0:  # NIfTI scl_slope / scl_inter, as ITK applies them
        data = data.astype(np.float32) * np.float32(slope) + np.float32(intercept)
    nans = 0
    if data.dtype.kind == "f":
        bad = ~np.isfinite(data)
        nans = int(bad.sum())
        if nans:
            data[bad] = 0
    return data, nans


_FLOAT_TYPES = {16: "f4", 64: "f8"}  # NIfTI datatype codes of float32 / float64
_CHUNK = 1 << 24


def check_nifti_file(path: Path) -> int:
    """Raise StudyError when a NIfTI-1 file is truncated; return how many NaN or infinite voxels it holds.

    ITK's reader neither notices a truncated .nii.gz (it fills the rest with zeros) nor reports NaNs (it
    turns them into 0), so both are checked here on the raw bytes: the gzip trailer or file size against
    the header, and a streamed scan of float images for NaNs.
    """
    opener = _opener(path)
    try:
        with opener(path, "rb") as handle:
            header = handle.read(352)
    except (OSError, EOFError, zlib.error) as exc:
        raise _read_error(path, exc) from exc
    if len(header) < 348:
        raise StudyError(f"{path} is too short to be a NIfTI file (truncated?)")
    for order in "<>":
        if struct.unpack(order + "i", header[:4])[0] == 348:
            break
    else:
        return 0  # NIfTI-2 or another header: leave the checks to the reader
    dims = struct.unpack(order + "8h", header[40:56])
    datatype, bitpix = struct.unpack(order + "hh", header[70:74])
    offset = int(struct.unpack(order + "f", header[108:112])[0])
    count = int(np.prod([max(int(d), 1) for d in dims[1 : 1 + max(0, min(int(dims[0]), 7))]]))
    expected = offset + count * bitpix // 8
    if opener is open:
        if path.stat().st_size < expected:
            raise StudyError(f"{path} is truncated ({path.stat().st_size} of {expected} bytes); re-export it")
        if datatype not in _FLOAT_TYPES:
            return 0
    elif datatype not in _FLOAT_TYPES:
        with open(path, "rb") as raw:
            raw.seek(-4, 2)
            trailer = struct.unpack("<I", raw.read(4))[0]
        if trailer == expected % (1 << 32):
            return 0
    return _scan(path, opener, offset, expected, np.dtype(order + _FLOAT_TYPES.get(datatype, "u1")))


def _scan(path: Path, opener, offset: int, expected: int, dtype: np.dtype) -> int:
    """Stream the voxel bytes: StudyError when fewer than the header promises; NaN/Inf count for floats."""
    nans = total = 0
    floats = dtype.kind == "f"
    try:
        with opener(path, "rb") as handle:
            handle.read(offset)
            total = offset
            while True:
                chunk = handle.read(_CHUNK - _CHUNK % dtype.itemsize)
                if not chunk:
                    break
                total += len(chunk)
                if floats:
                    usable = len(chunk) - len(chunk) % dtype.itemsize
                    nans += int((~np.isfinite(np.frombuffer(chunk[:usable], dtype=dtype))).sum())
    except (OSError, EOFError, zlib.error) as exc:
        if isinstance(exc, OSError) and reason(exc) == "permission denied":
            raise _read_error(path, exc) from exc
        raise StudyError(f"{path} is corrupt or truncated ({exc}); re-export it") from exc
    if total < expected:
        raise StudyError(f"{path} is truncated ({total} of {expected} bytes); re-export it")
    return nans


def pair_files(paths: list[Path]) -> tuple[Path | None, Path, list[str]]:
    """(CT file or None, PET file, notes) from files or one folder, following the known layouts."""
    if len(paths) == 1 and paths[0].is_dir():
        return _from_folder(paths[0])
    if len(paths) == 1:
        return _from_single(paths[0])
    if len(paths) == 2:
        return _from_two(paths[0], paths[1])
    raise StudyError(f"{len(paths)} NIfTI files given; give one CT and one PET (or a single PET)")


def _from_single(path: Path) -> tuple[Path | None, Path, list[str]]:
    name = stem(path)
    sibling = None
    if name.endswith("_0001"):
        sibling = path.with_name(path.name.replace("_0001.nii", "_0000.nii"))
    elif name.endswith("_0000"):
        sibling = path.with_name(path.name.replace("_0000.nii", "_0001.nii"))
    elif name == "suv":
        sibling = next((p for p in path.parent.glob("CTres.nii*")), None)
    elif name == "ctres":
        sibling = next((p for p in path.parent.glob("SUV.nii*")), None)
    if sibling is not None and sibling.is_file():
        return _from_two(path, sibling)
    if name_role(path) == "ct":
        raise StudyError(f"{path.name} looks like a CT; choose its PET too (select both files)")
    return None, path, [f"no CT found beside {path.name}: PET only (no anatomy underlay)"]


def _from_two(first: Path, second: Path) -> tuple[Path | None, Path, list[str]]:
    roles = (name_role(first), name_role(second))
    if roles == ("ct", "pet"):
        return first, second, []
    if roles == ("pet", "ct"):
        return second, first, []
    return _by_values(first, second)


def _by_values(first: Path, second: Path) -> tuple[Path, Path, list[str]]:
    """Tell CT from PET by their lowest value (air in CT is about -1000 HU; PET is non-negative)."""
    import SimpleITK as sitk

    lows = []
    for path in (first, second):
        _nifti1_header(path)  # a file that cannot be opened is named with the reason, not as corrupt
        try:
            image = sitk.ReadImage(str(path))
        except RuntimeError as exc:
            raise StudyError(f"{path} cannot be read as NIfTI (corrupt or truncated?)") from exc
        lows.append(float(np.nanmin(sitk.GetArrayViewFromImage(image))))
    if lows[0] < -100 and lows[1] >= -1e-3:
        return first, second, ["CT and PET told apart by their values (file names did not say)"]
    if lows[1] < -100 and lows[0] >= -1e-3:
        return second, first, ["CT and PET told apart by their values (file names did not say)"]
    raise StudyError(
        f"cannot tell which of {first.name} and {second.name} is the CT and which the PET "
        f"(lowest values {lows[0]:g} and {lows[1]:g}); name them e.g. case_ct.nii.gz and case_pet.nii.gz"
    )


def _from_folder(folder: Path) -> tuple[Path | None, Path, list[str]]:
    files = sorted(p for p in folder.iterdir() if p.is_file() and is_nifti(p))
    by_stem = {stem(p): p for p in files}
    if "suv" in by_stem and ("ctres" in by_stem or "ct" in by_stem):  # autoPET
        ct = by_stem.get("ctres", by_stem.get("ct"))
        return ct, by_stem["suv"], []
    images = [p for p in files if not LABEL_NAME.search(stem(p))]
    cases = sorted({stem(p)[:-5] for p in images if stem(p).endswith(("_0000", "_0001"))})
    if len(cases) > 1:
        raise StudyError(
            f"{folder.name} holds {len(cases)} nnU-Net cases ({', '.join(cases[:5])}...); "
            "open one case's _0000 and _0001 files"
        )
    if len(cases) == 1:
        ct = by_stem.get(f"{cases[0]}_0000")
        pet = by_stem.get(f"{cases[0]}_0001")
        if pet is None:
            raise StudyError(f"{folder.name} has {cases[0]}_0000 (CT) but no {cases[0]}_0001 (PET)")
        return ct, pet, []
    if len(images) == 2:
        return _from_two(images[0], images[1])
    if len(images) == 1:
        return _from_single(images[0])
    if not images:
        labels = ", ".join(p.name for p in files[:8]) + (" ..." if len(files) > 8 else "")
        raise StudyError(
            f"{folder.name} holds only label maps or masks ({labels}), no CT or PET image; "
            "choose the folder that holds the images, or select the CT and PET files"
        )
    names = ", ".join(p.name for p in images[:8]) + (" ..." if len(images) > 8 else "")
    raise StudyError(
        f"{folder.name} holds {len(images)} NIfTI images ({names}); put one CT and one PET in a folder "
        "or select the two files"
    )


def pet_units(volume: Volume, path: Path) -> tuple[str, bool, list[str]]:
    """(units, is_suv, notes) for a NIfTI PET, which carries no units of its own."""
    finite = volume.data[np.isfinite(volume.data)] if volume.data.dtype.kind == "f" else volume.data
    peak = float(finite.max()) if finite.size else 0.0  # one stray +Inf voxel must not decide the units
    if peak <= MAX_PLAUSIBLE_SUV:
        return "SUVbw", True, [f"{path.name}: NIfTI has no units; values taken as SUV (maximum {peak:.2f})"]
    return "unknown", False, [
        f"{path.name}: maximum {peak:g} is not a plausible SUV (Bq/ml?); PET is shown in its stored units, "
        "not SUV. Convert it to SUV (e.g. from the DICOM) for SUV-based findings"
    ]


SIDECAR_NAME = "phantom.json"  # written by phantom.io.save_phantom beside its NIfTI images
_SIDECAR_LIMIT = 16 << 20  # bytes: a sidecar holds a report and truth tables, never images
_SUV_UNITS = ("SUVbw", "SUV")


@dataclass
class Sidecar:
    """What a ``phantom.json`` beside a NIfTI PET says about the images (NIfTI itself carries none of it)."""

    tracer: str = ""
    report: str = ""
    convention: str = ""  # image-number convention ("head_first", "feet_first") or "" when not given
    numbers: tuple[int, ...] = ()  # image number of every PET slice, indexed by z
    pet_units: str = ""  # "SUVbw" for the phantom's PET; "" when not said


def read_sidecar(pet_path: Path) -> tuple[Sidecar | None, list[str]]:
    """(Sidecar or None, notes) from ``phantom.json`` in the PET file's folder.

    Only that file name is looked at, only a JSON object is used, and a missing file is the normal case
    (None, no note): a damaged sidecar must never stop the images from opening, so it is a note, not an error.
    """
    path = pet_path.parent / SIDECAR_NAME
    try:
        if not path.is_file():
            return None, []
        if path.stat().st_size > _SIDECAR_LIMIT:
            return None, [f"{path.name} beside {pet_path.name} is too large to be a phantom's description; ignored"]
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return None, [f"{path.name} beside {pet_path.name} could not be read ({type(exc).__name__}); "
                      "tracer, report and units were not taken from it"]
    if not isinstance(meta, dict) or meta.get("format", "nifti") != "nifti":
        return None, []  # a DICOM phantom's sidecar describes its DICOM series, not these files
    from .suv import normalise_tracer

    tracer = meta.get("tracer")
    report = meta.get("report")
    numbering = meta.get("numbering") if isinstance(meta.get("numbering"), dict) else {}
    convention = numbering.get("convention") if isinstance(numbering.get("convention"), str) else ""
    numbers = numbering.get("numbers")
    whole = isinstance(numbers, list) and all(isinstance(n, int) and not isinstance(n, bool) for n in numbers)
    units = meta.get("pet_units")
    if not isinstance(units, str):
        units = "SUVbw" if "seed" in meta else ""  # every phantom PET is written in SUVbw
    return Sidecar(
        tracer=normalise_tracer(tracer) if isinstance(tracer, str) else "",
        report=report if isinstance(report, str) else "",
        convention=convention if convention in ("head_first", "feet_first") else "",
        numbers=tuple(numbers) if whole else (),
        pet_units=units,
    ), []


def sidecar_units(sidecar: Sidecar | None) -> tuple[str, bool] | None:
    """(units, is_suv) when the sidecar names the PET's units, else None (the values decide)."""
    if sidecar is None or not sidecar.pet_units:
        return None
    return sidecar.pet_units, sidecar.pet_units in _SUV_UNITS
