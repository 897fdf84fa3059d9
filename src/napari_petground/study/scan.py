"""Finding the PET and CT image series among the files a user points at (headers only, no pixel data).

Files are grouped by SeriesInstanceUID. What cannot be used is kept with its reason rather than dropped in
silence: DICOM files that are corrupt, truncated or lack their position, and files or folders that cannot be
read (permission denied). The reader refuses when such files sit beside the chosen series (they may be its
slices) or when the CT is missing (they may be the CT), and mentions them otherwise.
"""

from __future__ import annotations

import warnings as _warnings
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import StudyError
from ..wording import agree, plural
from .files import Listing, has_dicom_preamble, reason, walk_files

SKIP_NAMES = {"DICOMDIR"}
DEFER_BYTES = 4096
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


def _header(file: Path):
    """A file's header with pixel data deferred (read from the file only for the chosen series)."""
    import pydicom

    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        return pydicom.dcmread(file, defer_size=DEFER_BYTES, force=False)


def holds_dicom_images(folder: Path, limit: int = 512) -> bool:
    """True when a PET or CT image (not a SEG, RTSTRUCT or report) is among the first files under ``folder``."""
    for file in walk_files(folder, limit=limit, skip_names=frozenset(SKIP_NAMES)).files:
        if not has_dicom_preamble(file):
            continue
        try:
            ds = _header(file)
        except Exception:  # pydicom raises several types for a broken file: the scan will name it
            return True
        if str(ds.get("SOPClassUID", "")) in IMAGE_CLASSES or str(ds.get("Modality", "")).upper() in ("PT", "CT"):
            return True
    return False


def scan_series(paths: list[Path]) -> tuple[list[Series], list[Path], Listing]:
    """Group the image files under ``paths`` (folders are walked) by series; also the corrupt DICOM files and
    what could not be read (with why) or is not a regular file."""
    listing = Listing()
    for path in paths:
        if path.is_dir():
            found = walk_files(path, skip_names=frozenset(SKIP_NAMES))
            listing.files.extend(found.files)
            listing.unreadable.extend(found.unreadable)
            listing.special.extend(found.special)
        else:
            listing.files.append(path)
    series: dict[str, Series] = {}
    broken: list[Path] = []
    for file in listing.files:
        if file.suffix.lower() in (".nii", ".gz", ".json", ".txt", ".md", ".png", ".csv"):
            continue
        try:
            ds = _header(file)
        except OSError as exc:
            listing.unreadable.append((file, reason(exc)))
            continue
        except Exception:  # pydicom raises several types for non-DICOM or truncated files
            if has_dicom_preamble(file) or file.suffix.lower() in (".dcm", ".ima"):
                broken.append(file)
            continue
        if "SeriesInstanceUID" not in ds or "ImagePositionPatient" not in ds or "Rows" not in ds:
            if str(ds.get("SOPClassUID", "")) in IMAGE_CLASSES:
                broken.append(file)  # an image whose header stops early (truncated) or lacks its position
            continue  # RTSTRUCT, SEG, reports, localiser without position: not an image slice
        uid = str(ds.SeriesInstanceUID)
        if uid not in series:
            number = ds.get("SeriesNumber", None)
            try:
                number = int(number) if number not in (None, "") else None
            except (TypeError, ValueError):
                number = None
            series[uid] = Series(
                uid=uid,
                modality=str(ds.get("Modality", "") or "").upper(),
                description=str(ds.get("SeriesDescription", "") or ""),
                number=number,
                study_uid=str(ds.get("StudyInstanceUID", "") or ""),
                frame_uid=str(ds.get("FrameOfReferenceUID", "") or ""),
                patient_id=str(ds.get("PatientID", "") or ""),
                header=ds,
            )
        series[uid].files.append(file)
        series[uid].headers.append(ds)
    return list(series.values()), broken, listing


def check_broken(broken: list[Path], chosen: list[Series], complete: bool) -> list[str]:
    """A broken file beside the chosen series may be one of its slices, and broken files while the CT is
    missing may be the CT: refuse; elsewhere: warn."""
    folders = {f.parent for s in chosen for f in s.files}
    near = [f for f in broken if f.parent in folders]
    if near:
        shown = ", ".join(str(f) for f in near[:3]) + (" ..." if len(near) > 3 else "")
        raise StudyError(
            f"{plural(len(near), 'file')} in the PET/CT series folders {agree(len(near), 'is', 'are')} corrupt, "
            f"truncated or {agree(len(near), 'lacks', 'lack')} the image "
            f"position: {shown}. Re-export the series, or remove the broken files if they are not part of it"
        )
    if broken and not complete:
        shown = ", ".join(str(f) for f in broken[:3]) + (" ..." if len(broken) > 3 else "")
        raise StudyError(
            f"{plural(len(broken), 'DICOM file')} {agree(len(broken), 'is', 'are')} corrupt, truncated or "
            f"{agree(len(broken), 'lacks', 'lack')} the image position ({shown}), so the "
            "CT may be missing; re-export them, or open the PET alone with ct_series='none' (--ct-series none)"
        )
    if broken:
        shown = ", ".join(f.name for f in broken[:5]) + (" ..." if len(broken) > 5 else "")
        return [f"{plural(len(broken), 'file')} could not be read as DICOM and {agree(len(broken), 'was', 'were')} "
                f"skipped: {shown}"]
    return []


def check_unreadable(listing: Listing, chosen: list[Series], complete: bool) -> list[str]:
    """Unreadable files beside the chosen series, or anything unreadable while the CT is missing: refuse."""
    folders = {f.parent for s in chosen for f in s.files}
    near = [(p, why) for p, why in listing.unreadable if p.parent in folders]
    if near:
        shown = ", ".join(f"{p} ({why})" for p, why in near[:3]) + (" ..." if len(near) > 3 else "")
        raise StudyError(f"{plural(len(near), 'file')} in the PET/CT series folders cannot be read: {shown}; "
                         "check their permissions, then open the study again")
    notes = []
    if listing.unreadable and not complete:
        raise StudyError(
            f"cannot read {listing.unreadable_text()}, so the CT may be missing; check the permissions, "
            "or open the PET alone with ct_series='none' (--ct-series none)"
        )
    if listing.unreadable:
        notes.append(f"could not read {listing.unreadable_text()}; skipped")
    if listing.special:
        shown = ", ".join(p.name for p in listing.special[:3]) + (" ..." if len(listing.special) > 3 else "")
        notes.append(f"{len(listing.special)} entries that are not regular files (pipes, sockets, devices) "
                     f"were skipped: {shown}")
    return notes
