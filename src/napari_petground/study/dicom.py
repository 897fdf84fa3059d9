"""DICOM folder trees -> a PET/CT Study: find series by Modality, pair PET and CT, stack slices, SUV.

Headers are scanned first (no pixel data), series grouped by SeriesInstanceUID, PET ('PT') and CT series
paired by StudyInstanceUID / FrameOfReferenceUID. Pixel data is then read only for the two chosen series,
slices sorted by their position along the slice normal, rescaled slice by slice (PET slopes vary per slice)
and canonicalised to LPS.
"""

from __future__ import annotations

import warnings as _warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import StudyError, SuvError
from .geometry import SourceGeometry, canonical_volume
from .numbering import Convention, ImageNumbering
from .selection import select_pair
from .study import PatientInfo, Study
from .suv import suv_conversion, tracer_name
from .volume import Volume

SKIP_NAMES = {"DICOMDIR"}
DEFER_BYTES = 4096
UNCOMPRESSED = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2"}
IMAGE_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.2",  # CT Image Storage
    "1.2.840.10008.5.1.4.1.1.128",  # PET Image Storage
    "1.2.840.10008.5.1.4.1.1.2.1",  # Enhanced CT
    "1.2.840.10008.5.1.4.1.1.130",  # Enhanced PET
}


@dataclass
class Series:
    """One DICOM image series found in a folder (headers only)."""

    uid: str
    modality: str
    description: str
    number: int | None
    study_uid: str
    frame_uid: str
    patient_id: str
    header: object  # the first file's header (pydicom Dataset, pixel data deferred)
    files: list[Path] = field(default_factory=list)
    headers: list = field(default_factory=list)  # one per file, pixel data deferred (read on access)

    @property
    def attenuation_corrected(self) -> bool:
        corrected = self.header.get("CorrectedImage", None) or []
        corrected = [corrected] if isinstance(corrected, str) else list(corrected)
        return "ATTN" in [str(c).upper() for c in corrected]

    def summary(self) -> str:
        number = f"#{self.number} " if self.number is not None else ""
        text = f"{self.modality} {number}{self.description!r} ({len(self.files)} images) uid={self.uid}"
        return text


def has_dicom_preamble(path: Path) -> bool:
    """True when the file has the 'DICM' marker after its 128-byte preamble (cheap, reads 132 bytes)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def scan_series(paths: list[Path]) -> tuple[list[Series], list[Path]]:
    """Group the image files under ``paths`` (folders are walked) by series; also the unreadable DICOM files."""
    import pydicom

    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.name not in SKIP_NAMES))
        else:
            files.append(path)
    series: dict[str, Series] = {}
    broken: list[Path] = []
    for file in files:
        if file.suffix.lower() in (".nii", ".gz", ".json", ".txt", ".md", ".png", ".csv"):
            continue
        try:
            with _warnings.catch_warnings():
                _warnings.simplefilter("ignore")
                # large elements (pixel data) are deferred: read from the file only for the chosen series
                ds = pydicom.dcmread(file, defer_size=DEFER_BYTES, force=False)
        except Exception:  # pydicom raises several types for non-DICOM or truncated files
            if has_dicom_preamble(file) or file.suffix.lower() in (".dcm", ".ima"):
                broken.append(file)
            continue
        if "SeriesInstanceUID" not in ds or "ImagePositionPatient" not in ds or "Rows" not in ds:
            if str(ds.get("SOPClassUID", "")) in IMAGE_CLASSES:
                broken.append(file)  # an image whose header stops early: truncated
            continue  # RTSTRUCT, SEG, reports, localiser without position: not an image slice
        uid = str(ds.SeriesInstanceUID)
        if uid not in series:
            number = ds.get("SeriesNumber", None)
            series[uid] = Series(
                uid=uid,
                modality=str(ds.get("Modality", "") or "").upper(),
                description=str(ds.get("SeriesDescription", "") or ""),
                number=int(number) if number not in (None, "") else None,
                study_uid=str(ds.get("StudyInstanceUID", "") or ""),
                frame_uid=str(ds.get("FrameOfReferenceUID", "") or ""),
                patient_id=str(ds.get("PatientID", "") or ""),
                header=ds,
            )
        series[uid].files.append(file)
        series[uid].headers.append(ds)
    return list(series.values()), broken


def _check_broken(broken: list[Path], chosen: list[Series]) -> list[str]:
    """A broken file beside the chosen series may be one of its slices: refuse; elsewhere: warn."""
    folders = {f.parent for s in chosen for f in s.files}
    near = [f for f in broken if f.parent in folders]
    if near:
        shown = ", ".join(str(f) for f in near[:3]) + (" ..." if len(near) > 3 else "")
        raise StudyError(
            f"{len(near)} file(s) in the PET/CT series folders are corrupt or truncated: {shown}. "
            "Re-export the series, or remove the broken files if they are not part of it"
        )
    if broken:
        shown = ", ".join(f.name for f in broken[:5]) + (" ..." if len(broken) > 5 else "")
        return [f"{len(broken)} file(s) could not be read as DICOM and were skipped: {shown}"]
    return []


@dataclass
class _Stack:
    data: np.ndarray  # (z, y, x) in the file's order, sorted along the slice normal
    geometry: SourceGeometry
    datasets: list  # full datasets, sorted like data's z axis
    files: list[Path]
    warnings: list[str]


def _pixels(ds, file: Path, kind: str) -> np.ndarray:
    """One slice's stored values; uncompressed data straight from the bytes (pydicom's decoder otherwise)."""
    try:
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore")
            syntax = str(ds.file_meta.get("TransferSyntaxUID", "1.2.840.10008.1.2"))
            rows, cols = int(ds.Rows), int(ds.Columns)
            if syntax in UNCOMPRESSED and int(ds.get("SamplesPerPixel", 1)) == 1 and int(ds.BitsAllocated) in (8, 16, 32):
                signed = int(ds.get("PixelRepresentation", 0)) == 1
                dtype = np.dtype(f"{'>' if syntax.endswith('.2.2') else '<'}{'i' if signed else 'u'}{int(ds.BitsAllocated) // 8}")
                raw = ds.PixelData
                if len(raw) < rows * cols * dtype.itemsize:
                    raise ValueError(f"pixel data holds {len(raw)} bytes, {rows * cols * dtype.itemsize} expected")
                pixels = np.frombuffer(raw, dtype=dtype, count=rows * cols).reshape(rows, cols)
                bits = int(ds.get("BitsStored", ds.BitsAllocated))
                if bits < int(ds.BitsAllocated) and signed:  # sign-extend the stored bits
                    shift = int(ds.BitsAllocated) - bits
                    pixels = (pixels << shift) >> shift
                elif bits < int(ds.BitsAllocated):
                    pixels = pixels & ((1 << bits) - 1)
            else:
                pixels = ds.pixel_array
            del ds.PixelData  # keep one copy of a whole-body CT in memory
            return pixels
    except Exception as exc:
        raise StudyError(
            f"{kind} image {file} is corrupt or truncated ({type(exc).__name__}: {exc}); "
            "re-export the series or remove the file"
        ) from exc


def _read_stack(series: Series, kind: str) -> _Stack:
    """Sort the series' headers along the slice normal, check it is one 3D volume, then read the pixels."""
    headers, files = series.headers, series.files
    if any(int(ds.get("NumberOfFrames", 1) or 1) > 1 for ds in headers):
        raise StudyError(
            f"{kind} series {series.uid} is multi-frame (enhanced) DICOM; export it as single-frame images"
        )
    if len(headers) < 2:
        raise StudyError(
            f"{kind} series {series.summary()} has a single image (2D); a PET/CT study needs a 3D volume"
        )
    orientation = np.asarray([float(v) for v in headers[0].ImageOrientationPatient], dtype=float)
    row, col = orientation[:3], orientation[3:]
    normal = np.cross(row, col)
    shape = (int(headers[0].Rows), int(headers[0].Columns))
    for ds in headers:
        other = np.asarray([float(v) for v in ds.ImageOrientationPatient], dtype=float)
        if not np.allclose(other, orientation, atol=1e-4) or (int(ds.Rows), int(ds.Columns)) != shape:
            raise StudyError(f"{kind} series {series.uid} mixes image orientations or sizes; cannot stack it")
    positions = np.array([[float(v) for v in ds.ImagePositionPatient] for ds in headers])
    distance = positions @ normal
    order = np.argsort(distance, kind="stable")
    steps = np.diff(distance[order])
    if np.any(steps < 1e-3):
        raise StudyError(
            f"{kind} series {series.uid} has several images at the same position (4D: dynamic or gated); "
            "open one time frame exported as its own series"
        )
    notes = []
    spacing_z = float(np.median(steps))
    if np.max(np.abs(steps - spacing_z)) > 0.1 * spacing_z:
        notes.append(
            f"{kind} slice spacing varies from {steps.min():.2f} to {steps.max():.2f} mm; "
            f"{spacing_z:.2f} mm is used"
        )
    headers = [headers[i] for i in order]
    files = [files[i] for i in order]
    first = _pixels(headers[0], files[0], kind)
    raw = np.empty((len(headers), *shape), dtype=first.dtype)  # filled slice by slice: no list + stack copy
    raw[0] = first
    for z in range(1, len(headers)):
        raw[z] = _pixels(headers[z], files[z], kind)
    pixel_spacing = [float(v) for v in headers[0].PixelSpacing]
    direction = np.column_stack([row, col, normal])
    geometry = SourceGeometry(
        size=(shape[1], shape[0], len(headers)),
        spacing=(pixel_spacing[1], pixel_spacing[0], spacing_z),
        origin=tuple(float(v) for v in positions[order[0]]),
        direction=tuple(float(v) for v in direction.reshape(-1)),
    )
    return _Stack(raw, geometry, headers, files, notes)


def _rescale(ds) -> tuple[float, float]:
    slope = ds.get("RescaleSlope", None)
    intercept = ds.get("RescaleIntercept", None)
    return (float(slope) if slope not in (None, "") else 1.0, float(intercept) if intercept not in (None, "") else 0.0)


def _ct_volume(stack: _Stack) -> tuple[Volume, list[str]]:
    rescales = [_rescale(ds) for ds in stack.datasets]
    integral = all(s == 1.0 and float(i).is_integer() for s, i in rescales)
    if integral:
        low = int(stack.data.min()) + int(min(i for _s, i in rescales))
        high = int(stack.data.max()) + int(max(i for _s, i in rescales))
        integral = low >= -32768 and high <= 32767 and int(stack.data.max()) <= 32767
    if integral:  # keep HU as int16: half the memory of float32 for a whole-body CT
        data = stack.data.astype(np.int16, copy=False)  # the stack is not used afterwards: edit in place
        for z, (_s, intercept) in enumerate(rescales):
            if intercept:
                data[z] += np.int16(intercept)
    else:
        data = np.empty(stack.data.shape, dtype=np.float32)
        for z, (slope, intercept) in enumerate(rescales):
            data[z] = stack.data[z] * slope + intercept
    volume, notes = canonical_volume(data, stack.geometry, {"modality": "CT"})
    return volume, notes


def _pet_volume(stack: _Stack) -> tuple[Volume, str, bool, list[str]]:
    """PET in SUVbw when the tags allow it, else in stored units with a warning naming the tag."""
    notes: list[str] = []
    try:
        conversions = [suv_conversion(ds) for ds in stack.datasets]
        factors = [c.factor for c in conversions]
        units, is_suv = "SUVbw", True
        notes.extend(n for n in conversions[0].notes if "midnight" in n)
    except SuvError as exc:
        stored = str(stack.datasets[0].get("Units", "") or "stored units")
        factors = [1.0] * len(stack.datasets)
        units, is_suv = stored, False
        notes.append(f"PET is shown in {stored}, not SUV: {exc}")
    rescales = np.array([_rescale(ds) for ds in stack.datasets], dtype=np.float64)
    scale = (rescales[:, 0] * np.asarray(factors)).astype(np.float32)[:, None, None]
    offset = (rescales[:, 1] * np.asarray(factors)).astype(np.float32)[:, None, None]
    data = stack.data.astype(np.float32)
    data *= scale  # per slice: each slice has its own rescale slope (and, with NONE, its own SUV factor)
    data += offset
    volume, geo_notes = canonical_volume(data, stack.geometry, {"modality": "PT", "units": units})
    return volume, units, is_suv, notes + geo_notes


def _numbering(stack: _Stack, volume: Volume, default: Convention) -> tuple[ImageNumbering, list[str]]:
    """InstanceNumber per canonical z slice; the convention when the numbers cannot be trusted."""
    numbers = [ds.get("InstanceNumber", None) for ds in stack.datasets]
    direction = stack.geometry.matrix()
    axial = abs(abs(direction[2, 2]) - 1.0) < 1e-3
    if any(n in (None, "") for n in numbers) or len(set(numbers)) != len(numbers) or not axial:
        note = "PET InstanceNumbers are missing, repeated or the series is not axial"
        return ImageNumbering.from_convention(volume.shape[0], default), [f"{note}; image numbers use {default}"]
    ordered = [int(n) for n in numbers]
    if direction[2, 2] < 0:  # file z runs inferior: canonical z is reversed
        ordered.reverse()
    return ImageNumbering(tuple(ordered), Convention.DICOM), []


def _patient(ds) -> PatientInfo:
    weight = ds.get("PatientWeight", None)
    height = ds.get("PatientSize", None)
    try:
        weight_kg = float(weight) if weight not in (None, "") and float(weight) > 0 else None
    except (TypeError, ValueError):
        weight_kg = None
    try:
        height_m = float(height) if height not in (None, "") and float(height) > 0 else None
    except (TypeError, ValueError):
        height_m = None
    return PatientInfo(
        patient_id=str(ds.get("PatientID", "") or ""),
        name=str(ds.get("PatientName", "") or ""),
        sex=str(ds.get("PatientSex", "") or ""),
        weight_kg=weight_kg,
        height_m=height_m,
        study_date=str(ds.get("StudyDate", "") or ""),
    )


def load_dicom_study(paths: list[Path], *, pet_series: str | None = None, ct_series: str | None = None,
                     numbering: Convention = Convention.HEAD_FIRST) -> Study:
    """Read the PET/CT pair found under ``paths`` (folders or files)."""
    series, broken = scan_series(paths)
    if not series:
        raise StudyError(f"no DICOM images found in {', '.join(str(p) for p in paths)}; "
                         "choose the folder that holds the PET and CT series")
    pet_info, ct_info, notes = select_pair(series, pet_series=pet_series, ct_series=ct_series)
    notes.extend(_check_broken(broken, [s for s in (pet_info, ct_info) if s is not None]))
    pet_stack = _read_stack(pet_info, "PET")
    pet, units, is_suv, pet_notes = _pet_volume(pet_stack)
    notes.extend(pet_stack.warnings + pet_notes)
    ct = None
    if ct_info is not None:
        ct_stack = _read_stack(ct_info, "CT")
        ct, ct_notes = _ct_volume(ct_stack)
        notes.extend(ct_stack.warnings + ct_notes)
        del ct_stack
    image_numbers, number_notes = _numbering(pet_stack, pet, numbering)
    notes.extend(number_notes)
    header = pet_stack.datasets[0]
    return Study(
        pet=pet,
        ct=ct,
        numbering=image_numbers,
        pet_units=units,
        pet_is_suv=is_suv,
        tracer=tracer_name(header),
        patient=_patient(header),
        source=tuple(paths),
        source_kind="dicom",
        study_uid=pet_info.study_uid,
        frame_of_reference_uid=pet_info.frame_uid,
        warnings=notes,
        extras={
            "pet_files": [str(f) for f in pet_stack.files],
            "pet_series_uid": pet_info.uid,
            "ct_series_uid": ct_info.uid if ct_info else "",
            "pet_series": pet_info.summary(),
            "ct_series": ct_info.summary() if ct_info else "",
        },
    )
