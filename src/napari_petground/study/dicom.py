"""DICOM folder trees -> a PET/CT Study: find series by Modality, pair PET and CT, stack slices, SUV.

Headers are scanned first (study.scan: no pixel data, series grouped by SeriesInstanceUID), PET ('PT') and
CT series paired by StudyInstanceUID / FrameOfReferenceUID (study.selection). Pixel data is then read only
for the two chosen series, slices placed by their real positions (study.slices: checked headers, missing
slices filled or refused), rescaled slice by slice (PET slopes vary per slice; a slope that is not a
positive number is refused) and canonicalised to LPS. Files that cannot be opened are named with the
reason, so an unreadable CT folder never turns into a PET-only study without a word.
"""

from __future__ import annotations

import warnings as _warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import StudyError, SuvError
from ..wording import agree, plural
from .files import reason
from .geometry import SourceGeometry, canonical_volume
from .numbering import Convention, ImageNumbering
from .scan import Series, check_broken, check_unreadable, scan_series
from .selection import select_pair
from .slices import Placement, fill_missing, infer_number, missing_note, place_slices
from .study import PatientInfo, Study
from .suv import check_suv_values, suv_conversion, tracer_name
from .volume import Volume

UNCOMPRESSED = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2"}


@dataclass
class _Stack:
    data: np.ndarray  # (images, y, x) of the images present, sorted along the slice normal
    placement: Placement  # where they go on the grid (missing slices are filled after rescaling)
    datasets: list  # full datasets, sorted like data's first axis
    files: list[Path]
    warnings: list[str]

    @property
    def geometry(self) -> SourceGeometry:
        return self.placement.geometry

    @property
    def slots(self) -> np.ndarray:
        return self.placement.slots


def _pixels(ds, file: Path, kind: str) -> np.ndarray:
    """One slice's stored values; uncompressed data straight from the bytes (pydicom's decoder otherwise)."""
    try:
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore")
            syntax = str(ds.file_meta.get("TransferSyntaxUID", "1.2.840.10008.1.2"))
            rows, cols = int(ds.Rows), int(ds.Columns)
            allocated = int(ds.BitsAllocated)
            bits = int(ds.get("BitsStored", allocated))
            if not 1 <= bits <= allocated:
                raise ValueError(f"BitsStored {bits} does not fit BitsAllocated {allocated}")
            if syntax in UNCOMPRESSED and int(ds.get("SamplesPerPixel", 1)) == 1 and allocated in (8, 16, 32):
                signed = int(ds.get("PixelRepresentation", 0)) == 1
                dtype = np.dtype(f"{'>' if syntax.endswith('.2.2') else '<'}{'i' if signed else 'u'}{allocated // 8}")
                raw = ds.PixelData
                expected = rows * cols * dtype.itemsize
                if len(raw) < expected:
                    raise ValueError(f"pixel data holds {len(raw)} bytes, {expected} expected")
                if len(raw) > expected + 1:  # one pad byte evens an odd length; more: the header is wrong
                    raise ValueError(f"pixel data holds {len(raw)} bytes, but Rows x Columns x BitsAllocated "
                                     f"say {expected}")
                pixels = np.frombuffer(raw, dtype=dtype, count=rows * cols).reshape(rows, cols)
                if bits < allocated and signed:  # sign-extend the stored bits
                    shift = allocated - bits
                    pixels = (pixels << shift) >> shift
                elif bits < allocated:
                    pixels = pixels & ((1 << bits) - 1)
            else:
                pixels = ds.pixel_array
                if pixels.shape != (rows, cols):
                    raise ValueError(f"pixel data of shape {pixels.shape}, one {rows} x {cols} grey image expected")
            del ds.PixelData  # keep one copy of a whole-body CT in memory
            return pixels
    except OSError as exc:
        raise StudyError(f"{kind} image {file} cannot be read: {reason(exc)}; check its permissions") from exc
    except Exception as exc:
        raise StudyError(
            f"{kind} image {file} is corrupt, truncated or its header does not match its pixel data "
            f"({type(exc).__name__}: {exc}); re-export the series or remove the file"
        ) from exc


def _read_stack(series: Series, kind: str) -> _Stack:
    """Place the series' images by their positions (headers checked), then read the pixels of those kept."""
    if any(_frames(ds, kind, file) > 1 for ds, file in zip(series.headers, series.files, strict=True)):
        raise StudyError(
            f"{kind} series {series.uid} is multi-frame (enhanced) DICOM; export it as single-frame images"
        )
    label = series.summary() if len(series.headers) < 2 else series.uid
    placement = place_slices(series.headers, series.files, kind, label, _same_pixels(series))
    headers = [series.headers[i] for i in placement.order]
    files = [series.files[i] for i in placement.order]
    notes = list(placement.notes)
    if placement.filled:
        numbers = [ds.get("InstanceNumber", None) for ds in headers]
        labels = [f"image {n}" if n not in (None, "") else f.name for n, f in zip(numbers, files, strict=True)]
        notes.append(missing_note(placement, numbers, labels, kind))
    first = _pixels(headers[0], files[0], kind)
    raw = np.empty((len(headers), *first.shape), dtype=first.dtype)  # filled slice by slice: no list + copy
    raw[0] = first
    for z in range(1, len(headers)):
        raw[z] = _pixels(headers[z], files[z], kind)
    return _Stack(raw, placement, headers, files, notes)


def _same_pixels(series: Series):
    """Whether two images of the series hold the same stored pixels and rescale (a copy under a new UID)."""
    def same(i: int, j: int) -> bool:
        a, b = series.headers[i], series.headers[j]
        try:
            with _warnings.catch_warnings():
                _warnings.simplefilter("ignore")
                keys = ("RescaleSlope", "RescaleIntercept")
                return (all(str(a.get(k, "")) == str(b.get(k, "")) for k in keys)
                        and bytes(a.PixelData) == bytes(b.PixelData))
        except Exception:  # unreadable pixels are named when the stack is read
            return False
    return same


def _frames(ds, kind: str, file: Path) -> int:
    try:
        return int(ds.get("NumberOfFrames", 1) or 1)
    except (TypeError, ValueError) as exc:
        raise StudyError(f"{kind} image {file.name}: NumberOfFrames (0028,0008) cannot be read ({exc}); "
                         "re-export the series") from exc


def _number(ds, keyword: str, tag: str, what: str) -> float | None:
    """An optional numeric header value: None when absent; StudyError when present but not a finite number."""
    try:
        raw = ds.get(keyword, None)
        value = float(raw) if raw not in (None, "") else None
    except Exception as exc:  # malformed DS values raise on access
        raise StudyError(f"{what}: {keyword} {tag} cannot be read ({exc}); re-export the series") from exc
    if value is not None and not np.isfinite(value):
        raise StudyError(f"{what}: {keyword} {tag} is {value}; the stored values cannot be rescaled. "
                         "Re-export the series")
    return value


def _rescales(stack: _Stack, kind: str) -> np.ndarray:
    """(slope, intercept) per image; a slope that is not positive, or one given for only some images, is refused."""
    pairs = []
    for ds, file in zip(stack.datasets, stack.files, strict=True):
        what = f"{kind} image {file.name}"
        slope = _number(ds, "RescaleSlope", "(0028,1053)", what)
        intercept = _number(ds, "RescaleIntercept", "(0028,1052)", what)
        if slope is not None and slope <= 0:
            raise StudyError(f"{what}: RescaleSlope (0028,1053) is {slope:g}; it must be positive to turn stored "
                             "values into real ones. Re-export the series")
        pairs.append((slope, intercept))
    given = [slope is not None for slope, _i in pairs]
    if any(given) and not all(given):
        missing = stack.files[given.index(False)].name
        raise StudyError(f"{kind} image {missing} has no RescaleSlope (0028,1053) while other images of the "
                         "series have one; its values cannot be scaled like theirs. Re-export the series")
    return np.array([(1.0 if s is None else s, 0.0 if i is None else i) for s, i in pairs], dtype=np.float64)


def _ct_volume(stack: _Stack) -> tuple[Volume, list[str]]:
    rescales = _rescales(stack, "CT")
    integral = bool(np.all(rescales[:, 0] == 1.0) and np.all(np.mod(rescales[:, 1], 1) == 0))
    if integral:
        low = int(stack.data.min()) + int(rescales[:, 1].min())
        high = int(stack.data.max()) + int(rescales[:, 1].max())
        integral = low >= -32768 and high <= 32767 and int(stack.data.max()) <= 32767
    if integral:  # keep HU as int16: half the memory of float32 for a whole-body CT
        data = stack.data.astype(np.int16, copy=False)  # the stack is not used afterwards: edit in place
        for z, intercept in enumerate(rescales[:, 1]):
            if intercept:
                data[z] += np.int16(intercept)
    else:
        data = np.empty(stack.data.shape, dtype=np.float32)
        for z, (slope, intercept) in enumerate(rescales):
            data[z] = stack.data[z] * slope + intercept
    volume, notes = canonical_volume(fill_missing(data, stack.slots), stack.geometry, {"modality": "CT"})
    return volume, notes


def _scaled(stack: _Stack, rescales: np.ndarray, factors: np.ndarray) -> np.ndarray:
    scale = (rescales[:, 0] * factors).astype(np.float32)[:, None, None]
    offset = (rescales[:, 1] * factors).astype(np.float32)[:, None, None]
    data = stack.data.astype(np.float32)
    data *= scale  # per slice: each slice has its own rescale slope (and, with NONE, its own SUV factor)
    data += offset
    return data


def _pet_volume(stack: _Stack) -> tuple[Volume, str, bool, list[str]]:
    """PET in SUVbw when the tags allow it and the values are plausible SUV; else in stored units, saying why."""
    notes: list[str] = []
    rescales = _rescales(stack, "PET")
    stored = str(stack.datasets[0].get("Units", "") or "").strip().upper() or "stored units"
    try:
        conversions = [suv_conversion(ds) for ds in stack.datasets]
        data = _scaled(stack, rescales, np.array([c.factor for c in conversions]))
        check_suv_values(data, stored)
        units, is_suv = "SUVbw", True
        notes.extend(n for n in conversions[0].notes if "midnight" in n)
    except SuvError as exc:
        data = _scaled(stack, rescales, np.ones(len(stack.datasets)))
        units, is_suv = ("unknown" if stored == "GML" else stored), False  # GML values that are no SUV
        shown = "its stored values (units unknown)" if units == "unknown" else units
        notes.append(f"PET is shown in {shown}, not SUV: {exc}")
    volume, geo_notes = canonical_volume(fill_missing(data, stack.slots), stack.geometry,
                                         {"modality": "PT", "units": units})
    return volume, units, is_suv, notes + geo_notes


def _numbering(stack: _Stack, volume: Volume, default: Convention) -> tuple[ImageNumbering, list[str]]:
    """InstanceNumber per canonical z slice; the convention when the numbers cannot be trusted."""
    try:
        numbers = [None if ds.get("InstanceNumber", None) in (None, "") else int(ds.InstanceNumber)
                   for ds in stack.datasets]
    except (TypeError, ValueError):
        numbers = [None]
    direction = stack.geometry.matrix()
    axial = abs(abs(direction[2, 2]) - 1.0) < 1e-3
    ordered: list = []
    if None not in numbers:
        for z, slot in enumerate(stack.slots):
            ordered.append(numbers[slot] if slot >= 0 else infer_number(numbers, stack.slots, z))
    if None in numbers or None in ordered or len(set(ordered)) != len(ordered) or not axial:
        note = "PET InstanceNumbers are missing, repeated or the series is not axial"
        if None not in numbers and len(set(numbers)) == len(numbers) and axial:
            note = "PET InstanceNumbers leave no room for the missing slice(s)"
        return ImageNumbering.from_convention(volume.shape[0], default), [f"{note}; image numbers use {default}"]
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
    series, broken, listing = scan_series(paths)
    if not series and listing.unreadable:
        raise StudyError(f"cannot read {listing.unreadable_text()}; check the permissions, then open it again")
    if not series:
        raise StudyError(f"no DICOM images found in {', '.join(str(p) for p in paths)}; "
                         "choose the folder that holds the PET and CT series")
    try:
        pet_info, ct_info, notes = select_pair(series, pet_series=pet_series, ct_series=ct_series)
    except StudyError as exc:  # the missing series may be in what could not be read
        if listing.unreadable:
            raise StudyError(f"cannot read {listing.unreadable_text()}; check the permissions. {exc}") from exc
        if broken:
            shown = ", ".join(str(f) for f in broken[:3]) + (" ..." if len(broken) > 3 else "")
            raise StudyError(f"{plural(len(broken), 'DICOM file')} {agree(len(broken), 'is', 'are')} corrupt, truncated "
                             f"or {agree(len(broken), 'lacks', 'lack')} the image position ({shown}). {exc}") from exc
        raise
    chosen = [s for s in (pet_info, ct_info) if s is not None]
    complete = ct_info is not None or (ct_series is not None and ct_series.lower() in ("none", ""))
    notes.extend(check_broken(broken, chosen, complete))
    notes.extend(check_unreadable(listing, chosen, complete))
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
            "pet_filled_slices": pet_stack.placement.filled,  # file-order slices no image holds
            "pet_series_uid": pet_info.uid,
            "ct_series_uid": ct_info.uid if ct_info else "",
            "pet_series": pet_info.summary(),
            "ct_series": ct_info.summary() if ct_info else "",
        },
    )
