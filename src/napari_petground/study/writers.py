"""Lesion labels on the PET grid -> files in the study's source geometry (NIfTI, DICOM SEG), and back.

The format follows the file name: ``.nii`` / ``.nii.gz`` -> NIfTI with the source direction restored (works for
every study); ``.dcm`` -> DICOM SEG referencing the source PET images (DICOM studies only, highdicom). Every
write goes through napari_petground.atomic (a temporary file in the target folder, renamed into place), so a
crash never leaves half a file where accepted work used to be.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ..atomic import atomic_write
from ..errors import StudyError, WriteError
from .geometry import canonical_volume, source_geometry, to_source_array
from .study import Study

SegmentNames = Mapping[int, str] | Sequence[str] | None
_TRACKING = re.compile(r"^label (\d+)$")
_TYPE2_COPIED = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
                 "AccessionNumber", "ReferringPhysicianName", "StudyID")


def _labels_array(labels, study: Study) -> np.ndarray:
    data = np.asarray(labels)
    if data.shape != study.pet.shape:
        raise WriteError(
            f"labels of shape {data.shape} do not match the PET grid {study.pet.shape} of {study.name}; "
            "draw labels on the PET grid (same scale and translate as the PET layer)"
        )
    return label_values(data)


def label_values(data: np.ndarray) -> np.ndarray:
    """Labels as the smallest unsigned integers that hold them; WriteError instead of any silent cast.

    Floats must be whole, every value 0 .. 2**32 - 1: a -1 or 2.5 is refused, never stored as 65535 or 2.
    """
    data = np.asarray(data)
    if data.dtype == bool:
        return data.astype(np.uint8)
    if not np.issubdtype(data.dtype, np.integer):
        if not np.issubdtype(data.dtype, np.floating):
            raise WriteError(f"labels of type {data.dtype} cannot be saved; use whole numbers (0 = background, "
                             "1, 2, ... = lesions)")
        with np.errstate(invalid="ignore"):
            whole = np.isfinite(data) & (np.mod(data, 1) == 0)
        if data.size and not np.all(whole):
            raise WriteError("labels must be whole numbers (0 = background, 1, 2, ... = lesions); convert the layer "
                             "to integer labels before saving")
    if data.size and data.min() < 0:
        raise WriteError("labels must not be negative (0 = background, 1, 2, ... = lesions)")
    top = data.max() if data.size else 0
    if top > np.iinfo(np.uint32).max:
        raise WriteError(f"label value {top} is too large to save (at most {np.iinfo(np.uint32).max})")
    top = int(top)
    return data.astype(np.uint8 if top < 256 else np.uint16 if top < 65536 else np.uint32)


def write_labels(path: str | os.PathLike, labels, study: Study, *,
                 segment_names: SegmentNames = None) -> list[Path]:
    """Write ``labels`` (PET grid) to ``path`` in the study's source geometry; returns the written files."""
    path = Path(path)
    data = _labels_array(labels, study)
    name = path.name.lower()
    if not path.parent.is_dir():
        raise WriteError(f"folder {path.parent} does not exist; choose an existing folder")
    if name.endswith((".nii", ".nii.gz")):
        return [_write_nifti(path, data, study)]
    if name.endswith(".dcm"):
        return [_write_seg(path, data, study, segment_names)]
    raise WriteError(f"cannot write labels as {path.name!r}; use a .nii.gz (NIfTI) or .dcm (DICOM SEG) name")


def _write_nifti(path: Path, data: np.ndarray, study: Study) -> Path:
    import SimpleITK as sitk

    geometry = source_geometry(study.pet)
    image = sitk.GetImageFromArray(to_source_array(data, study.pet))
    image.SetSpacing([float(v) for v in geometry.spacing])
    image.SetOrigin([float(v) for v in geometry.origin])
    image.SetDirection([float(v) for v in geometry.direction])
    return _write_image_atomically(image, path)


def _filled(study: Study) -> list[int]:
    """Source-order PET slices that no file holds (filled in by the reader for missing images)."""
    return [int(z) for z in study.extras.get("pet_filled_slices") or []]


def _segment_name(value: int, index: int, names: SegmentNames) -> str:
    if isinstance(names, Mapping):
        return str(names.get(value, f"lesion {value}"))
    if names is not None and index < len(names):
        return str(names[index])
    return f"lesion {value}"


def _pet_headers(study: Study) -> list:
    import pydicom

    files = study.extras.get("pet_files") or []
    if study.source_kind != "dicom" or not files:
        raise WriteError(
            f"{study.name} was not read from DICOM, so there is no PET series to reference; save as .nii.gz"
        )
    try:
        headers = [pydicom.dcmread(f, stop_before_pixels=True) for f in files]
    except (OSError, pydicom.errors.InvalidDicomError) as exc:
        raise WriteError(f"the source PET images are no longer readable ({exc}); save as .nii.gz") from exc
    for ds in headers:  # the SEG copies these type 2 attributes: empty is allowed, absent is not
        for keyword in _TYPE2_COPIED:
            if keyword not in ds:
                setattr(ds, keyword, "")
    return headers


def _write_seg(path: Path, data: np.ndarray, study: Study, names: SegmentNames) -> Path:
    import highdicom as hd
    from pydicom.sr.codedict import codes

    from .. import __version__

    values = [int(v) for v in np.unique(data) if v != 0]
    if not values:
        raise WriteError("the labels are empty: nothing to save as DICOM SEG (save an empty mask as .nii.gz)")
    headers = _pet_headers(study)
    # slices filled in for missing images have no image to reference: their labels cannot go into a SEG
    source = to_source_array(data, study.pet)
    filled = _filled(study)
    if filled and np.any(source[filled]):
        raise WriteError(
            f"labels lie on PET slice(s) that were filled in for missing images ({len(filled)} in this series); "
            "a DICOM SEG can only reference images that exist. Save as .nii.gz to keep every label"
        )
    source = np.delete(source, filled, axis=0)
    if source.shape != (len(headers), int(headers[0].Rows), int(headers[0].Columns)):
        raise WriteError("the PET files changed since the study was opened; reopen it and save again")
    numbered = np.zeros(source.shape, dtype=np.uint8 if len(values) < 256 else np.uint16)
    algorithm = hd.AlgorithmIdentificationSequence(
        name="napari-petground", family=codes.cid7162.ArtificialIntelligence, version=str(__version__)
    )
    descriptions = []
    for number, value in enumerate(values, start=1):
        numbered[source == value] = number
        descriptions.append(hd.seg.SegmentDescription(
            segment_number=number,
            segment_label=_segment_name(value, number - 1, names),
            segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
            segmented_property_type=codes.SCT.Lesion,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.SEMIAUTOMATIC,
            algorithm_identification=algorithm,
            tracking_id=f"label {value}",
            tracking_uid=hd.UID(),
        ))
    try:
        seg = hd.seg.Segmentation(
            source_images=headers, pixel_array=numbered,
            segmentation_type=hd.seg.SegmentationTypeValues.BINARY, segment_descriptions=descriptions,
            series_instance_uid=hd.UID(), series_number=9001, sop_instance_uid=hd.UID(), instance_number=1,
            manufacturer="napari-petground", manufacturer_model_name="napari-petground",
            software_versions=str(__version__), device_serial_number="0",
            series_description="PET lesion labels",
        )
    except (ValueError, TypeError, AttributeError) as exc:
        raise WriteError(f"cannot build a DICOM SEG for {study.name}: {exc}") from exc
    try:
        return atomic_write(path, seg.save_as)
    except OSError as exc:
        raise WriteError(f"cannot write {path}: {exc}") from exc


def load_labels(path: str | os.PathLike, study: Study) -> np.ndarray:
    """Labels from a NIfTI or DICOM SEG file, on the study's PET grid (label values as written)."""
    path = Path(path)
    name = path.name.lower()
    if name.endswith((".nii", ".nii.gz")):
        return _load_nifti_labels(path, study)
    if name.endswith(".dcm"):
        return _load_seg(path, study)
    raise StudyError(f"{path.name} is neither NIfTI (.nii.gz) nor DICOM SEG (.dcm)")


def _load_nifti_labels(path: Path, study: Study) -> np.ndarray:
    from .nifti import read_nifti
    from .resample import resample_to_grid

    volume, _notes = read_nifti(path, "nearest")
    if volume.same_grid(study.pet):
        return volume.data
    return resample_to_grid(volume, study.pet, interpolation="nearest").data


def _load_seg(path: Path, study: Study) -> np.ndarray:
    import highdicom as hd

    try:
        seg = hd.seg.segread(path)
    except Exception as exc:  # pydicom/highdicom raise many types for a bad file
        raise StudyError(f"{path} cannot be read as DICOM SEG: {exc}") from exc
    headers = _pet_headers(study)
    uids = [str(h.SOPInstanceUID) for h in headers]
    numbers = seg.get_pixels_by_source_instance(
        source_sop_instance_uids=uids, combine_segments=True, skip_overlap_checks=True,
    )
    values = {}
    for number in seg.segment_numbers:
        description = seg.get_segment_description(number)
        match = _TRACKING.match(str(description.tracking_id or ""))
        values[number] = int(match.group(1)) if match else number
    top = max(values.values()) if values else 0
    lut = np.zeros(max(int(numbers.max()), max(values, default=0)) + 1,
                   dtype=np.uint8 if top < 256 else np.uint16 if top < 65536 else np.uint32)
    for number, value in values.items():
        lut[number] = value
    source = lut[numbers]
    filled = _filled(study)
    if filled:  # back onto the full grid: the slices without an image hold no label
        full = np.zeros((source.shape[0] + len(filled), *source.shape[1:]), dtype=source.dtype)
        full[np.setdiff1d(np.arange(full.shape[0]), filled)] = source
        source = full
    geometry = source_geometry(study.pet)
    canonical, _notes = canonical_volume(source, geometry, interpolation="nearest")
    return canonical.data


def write_labels_layer(path: str | os.PathLike, data, attributes: dict) -> list[Path]:
    """npe2 writer of a Labels layer that belongs to no study (napari's "new labels" button): NIfTI only, on
    its own grid in LPS world millimetres (scale and translate), which is where napari showed it. A layer of
    a study session is written by the npe2 writer in ``_napari`` (labels and sentences, the study's geometry).
    """
    path = Path(path)
    if not path.name.lower().endswith((".nii", ".nii.gz")):
        raise WriteError(
            "this Labels layer is not attached to a PET/CT study, so it can only be saved as NIfTI (.nii.gz); "
            "for DICOM SEG draw on a layer created by napari-petground (the findings or prediction layer)"
        )
    return [_write_world_nifti(path, np.asarray(data), attributes)]


def _write_world_nifti(path: Path, data: np.ndarray, attributes: dict) -> Path:
    import SimpleITK as sitk

    if data.ndim != 3:
        raise WriteError(f"labels must be 3D (z, y, x), got shape {data.shape}")
    if not path.parent.is_dir():
        raise WriteError(f"folder {path.parent} does not exist; choose an existing folder")
    scale = [float(v) for v in (attributes.get("scale") or (1.0, 1.0, 1.0))][-3:]
    translate = [float(v) for v in (attributes.get("translate") or (0.0, 0.0, 0.0))][-3:]
    image = sitk.GetImageFromArray(np.ascontiguousarray(label_values(data)))
    image.SetSpacing(scale[::-1])
    image.SetOrigin(translate[::-1])
    return _write_image_atomically(image, path)


def _write_image_atomically(image, path: Path) -> Path:
    """Write a SimpleITK image compressed through a temporary file, so a failed write leaves nothing behind."""
    import SimpleITK as sitk

    try:
        return atomic_write(path, lambda tmp: sitk.WriteImage(image, str(tmp), True))
    except (RuntimeError, OSError) as exc:
        raise WriteError(f"cannot write {path}: {exc}") from exc
