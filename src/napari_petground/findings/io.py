"""Save and reload accepted findings: a labels file (NIfTI or DICOM SEG) plus a JSON sidecar, written as a pair.

``x.nii.gz`` (or ``x.dcm``) holds the voxels in the study's source geometry (study.writers); the sidecar
``x.nii.gz.json`` (``x.dcm.json``: one per labels file, so the two formats never share one) says which label id
is which sentence, with statistics, the model and checkpoint that proposed it and when it was accepted. Sidecars
of earlier versions, ``x.json``, are still read when they name the labels file.

The pair is written so that a kill at any moment leaves either the old pair or the new one:

1. the labels go to a dot-named pending file beside ``x`` (``.pending-<token>-x.nii.gz``), flushed to disk;
2. the sidecar, which records the pending file's name and the SHA-256 of its bytes, replaces the old sidecar
   atomically: this is the commit;
3. the pending file is renamed to ``x``.

A reload whose sidecar's hash does not match ``x`` finishes step 3 from the pending file (an interrupted save,
said in the notes); a save interrupted before step 2 left the old sidecar, which still matches the old ``x``.
A labels file changed behind the sidecar's back is noticed through the checksum of its label values.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import __version__
from ..atomic import atomic_write_bytes, format_suffix, fsync_folder
from ..errors import StudyError, WriteError
from ..study.study import Study
from .records import FindingRecord, now_iso, present_labels
from .stats import label_stats

SIDECAR_FORMAT = "napari-petground findings"
SIDECAR_VERSION = 1
SEGMENT_LABEL_CHARS = 64  # DICOM LO value length
LABEL_SUFFIXES = (".nii.gz", ".nii", ".dcm")
_PARSE_ERRORS = (KeyError, TypeError, ValueError, AttributeError, OverflowError)


@dataclass
class LoadedFindings:
    """Labels on the PET grid and the records of the sidecar (empty when there is none), with notes."""

    labels: np.ndarray
    records: list[FindingRecord]
    sidecar: Path | None
    notes: list[str] = field(default_factory=list)


def sidecar_path(labels_path: str | os.PathLike) -> Path:
    """``x.nii.gz`` -> ``x.nii.gz.json``, ``x.dcm`` -> ``x.dcm.json``: one sidecar per labels file."""
    path = Path(labels_path)
    return path.with_name(path.name + ".json")


def legacy_sidecar_path(labels_path: str | os.PathLike) -> Path:
    """The name earlier versions gave the sidecar: ``x.nii.gz`` / ``x.nii`` / ``x.dcm`` -> ``x.json``."""
    path = Path(labels_path)
    name = path.name
    for suffix in LABEL_SUFFIXES:
        if name.lower().endswith(suffix):
            return path.with_name(name[: -len(suffix)] + ".json")
    return path.with_name(name + ".json")


def labels_checksum(labels: np.ndarray) -> str:
    """SHA-256 of the label values (as int64, C order) and the shape: independent of the array's dtype."""
    data = np.ascontiguousarray(np.asarray(labels), dtype=np.int64)
    digest = hashlib.sha256(str(data.shape).encode())
    digest.update(data.tobytes())
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def segment_names(records: list[FindingRecord]) -> dict[int, str]:
    """DICOM SEG segment labels: "<id>: <sentence>" cut to what the tag holds."""
    out = {}
    for record in records:
        text = f"{record.label}: {' '.join(record.sentence.split())}" if record.sentence else f"lesion {record.label}"
        out[record.label] = text[:SEGMENT_LABEL_CHARS]
    return out


def save_findings(path: str | os.PathLike, labels: np.ndarray, study: Study,
                  records: list[FindingRecord], *, extra: dict | None = None) -> list[Path]:
    """Write ``labels`` (PET grid) to ``path`` (.nii.gz / .nii / .dcm) and its sidecar as a pair; both paths.

    Only records whose label has voxels are saved; statistics are recomputed from ``labels``.
    """
    from ..study.writers import label_values, write_labels

    path = Path(path)
    if not path.name.lower().endswith(LABEL_SUFFIXES):
        raise WriteError(f"cannot write labels as {path.name!r}; use a .nii.gz (NIfTI) or .dcm (DICOM SEG) name")
    if not path.parent.is_dir():
        raise WriteError(f"folder {path.parent} does not exist; choose an existing folder")
    labels = label_values(np.asarray(labels))  # WriteError for values a labels file cannot hold as they are
    ids = present_labels(labels)
    kept = [r for r in records if r.label in ids]
    pending = path.with_name(f".pending-{secrets.token_hex(4)}-{path.name}")
    try:
        write_labels(pending, labels, study, segment_names=segment_names(kept))  # step 1 (flushed to disk)
        document = _sidecar_document(path, pending, labels, study, kept, extra)
        sidecar = sidecar_path(path)
        atomic_write_bytes(sidecar, _json_bytes(document))  # step 2: the commit
        os.replace(pending, path)  # step 3
        fsync_folder(path.parent)
    except OSError as exc:
        pending.unlink(missing_ok=True)
        raise WriteError(f"cannot write {path}: {exc.strerror or exc}; the findings saved there before are "
                         "unchanged") from exc
    except BaseException:
        if not _committed(path, pending):
            pending.unlink(missing_ok=True)
        raise
    _clean_up(path)
    return [path, sidecar]


def _committed(path: Path, pending: Path) -> bool:
    """Whether the sidecar already names ``pending`` (then it must stay: it is the new labels file)."""
    try:
        return json.loads(sidecar_path(path).read_text(encoding="utf-8")).get("pending_labels") == pending.name
    except (OSError, ValueError, AttributeError):
        return False


def _sidecar_document(path: Path, pending: Path, labels: np.ndarray, study: Study, kept: list[FindingRecord],
                      extra: dict | None) -> dict:
    stats = label_stats(study, labels)
    rows = []
    for record in kept:
        row = record.to_dict()
        row["stats"] = stats[record.label].to_dict()
        rows.append(row)
    return {
        "format": SIDECAR_FORMAT,
        "version": SIDECAR_VERSION,
        "software": f"napari-petground {__version__}",
        "saved_at": now_iso(),
        "labels_file": path.name,
        "labels_sha256": labels_checksum(labels),
        "labels_file_sha256": file_sha256(pending),
        "pending_labels": pending.name,
        "study": _study_summary(study),
        "findings": rows,
        **(extra or {}),
    }


def _json_bytes(document: dict) -> bytes:
    """The sidecar's bytes; text that UTF-8 cannot hold (a lone surrogate) is escaped, so it round-trips."""
    try:
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    except (TypeError, ValueError) as exc:
        raise WriteError(f"the findings' extra information cannot be saved as JSON ({exc})") from exc
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(document, indent=2, ensure_ascii=True) + "\n").encode("ascii")


def _clean_up(path: Path) -> None:
    """After a save: pending files of earlier interrupted saves and a superseded old-style sidecar go."""
    name = glob.escape(path.name)
    suffix = format_suffix(path)
    stem = glob.escape(path.name[: len(path.name) - len(suffix)])
    leftovers = [*path.parent.glob(f".pending-*-{name}"),  # and the temporaries of atomic writes to either:
                 *path.parent.glob(f".{stem}.*.tmp{suffix}"), *path.parent.glob(f"..pending-*-{stem}.*.tmp{suffix}")]
    legacy = legacy_sidecar_path(path)
    if legacy.is_file() and legacy != sidecar_path(path):
        try:
            if json.loads(legacy.read_text(encoding="utf-8")).get("labels_file") == path.name:
                leftovers.append(legacy)
        except (OSError, ValueError, AttributeError):
            pass
    for leftover in leftovers:
        try:
            leftover.unlink()
        except OSError:
            continue


def load_findings(path: str | os.PathLike, study: Study) -> LoadedFindings:
    """Read a labels file saved by :func:`save_findings` (or any labels file) with its sidecar, if present."""
    from ..study.writers import load_labels

    path = Path(path)
    notes: list[str] = []
    sidecar, document = _find_sidecar(path, notes)
    source = _labels_source(path, document, notes) if document is not None else path
    if not source.is_file():
        raise StudyError(f"{path} does not exist; choose a findings file saved before (.nii.gz or .dcm)")
    labels = _label_values(np.asarray(load_labels(source, study)), path)
    if document is None:
        notes.append(f"no sidecar {sidecar_path(path).name}: labels loaded without their sentences")
        return LoadedFindings(labels, [], None, notes)
    records, summary = _parse_sidecar(sidecar, document)
    if document.get("labels_sha256") and document["labels_sha256"] != labels_checksum(labels):
        notes.append(f"{path.name} changed since {sidecar.name} was written: check the sentences against the labels")
    if summary.get("pet_shape") and tuple(summary["pet_shape"]) != tuple(study.pet.shape):
        notes.append(f"the findings were saved for a PET grid of {tuple(summary['pet_shape'])}, "
                     f"this study has {study.pet.shape}")
    ids = present_labels(labels)
    missing = [r.label for r in records if r.label not in ids]
    if missing:
        notes.append(f"labels {missing} of the sidecar have no voxels in {path.name}")
    return LoadedFindings(labels, [r for r in records if r.label in ids], sidecar, notes)


def _label_values(labels: np.ndarray, path: Path) -> np.ndarray:
    """Loaded labels as whole non-negative numbers; StudyError for a file that holds anything else."""
    if labels.dtype == bool:
        return labels.astype(np.uint8)
    if not np.issubdtype(labels.dtype, np.integer):
        with np.errstate(invalid="ignore"):
            whole = np.isfinite(labels) & (np.mod(labels, 1) == 0)
        if not np.all(whole):
            raise StudyError(f"{path} holds fractional values, so it is not a labels file; choose the findings file")
    if labels.size and (labels.min() < 0 or labels.max() > np.iinfo(np.uint32).max):
        raise StudyError(f"{path} holds label values outside 0 .. {np.iinfo(np.uint32).max}; it is not a findings "
                         "labels file")
    return labels if np.issubdtype(labels.dtype, np.integer) else labels.astype(np.int64)


def _find_sidecar(path: Path, notes: list[str]) -> tuple[Path | None, dict | None]:
    """The pair's sidecar and its JSON: ``x.nii.gz.json``, else an old ``x.json`` that names ``x.nii.gz``."""
    sidecar = sidecar_path(path)
    if sidecar.is_file():
        return sidecar, _read_json(sidecar)
    legacy = legacy_sidecar_path(path)
    if not legacy.is_file() or legacy == sidecar:
        return None, None
    try:  # x.json may be another program's (a BIDS sidecar): then it is simply not ours
        document = _read_json(legacy)
    except StudyError:
        notes.append(f"{legacy.name} is not a findings sidecar of napari-petground")
        return None, None
    named = document.get("labels_file")
    if named not in (None, path.name):
        notes.append(f"{legacy.name} is the sidecar of {named}, not of {path.name}")
        return None, None
    return legacy, document


def _read_json(sidecar: Path) -> dict:
    try:
        document = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StudyError(f"{sidecar} is not readable JSON ({exc}); restore it, or move it away to load the labels "
                         "without their sentences") from exc
    if not isinstance(document, dict) or document.get("format") != SIDECAR_FORMAT:
        raise StudyError(f"{sidecar} is not a napari-petground findings sidecar; move it away to load the labels "
                         "without sentences")
    return document


def _labels_source(path: Path, document: dict, notes: list[str]) -> Path:
    """``path``, after finishing a save that was interrupted between the sidecar and the labels file."""
    want, pending_name = document.get("labels_file_sha256"), document.get("pending_labels")
    if not isinstance(want, str) or not isinstance(pending_name, str) or "/" in pending_name \
            or "\\" in pending_name:
        return path
    if path.is_file() and file_sha256(path) == want:
        return path
    pending = path.with_name(pending_name)
    if not pending.is_file() or file_sha256(pending) != want:
        return path  # nothing to finish: the value checksum below says whether the pair still agrees
    try:
        os.replace(pending, path)
        fsync_folder(path.parent)
    except OSError as exc:
        notes.append(f"a save of {path.name} was interrupted; its labels were read from {pending.name} "
                     f"(could not finish the save here: {exc.strerror or exc})")
        return pending
    notes.append(f"a save of {path.name} was interrupted after its sentences were written; it was finished now")
    return path


def _parse_sidecar(sidecar: Path, document: dict) -> tuple[list[FindingRecord], dict]:
    """Records and study summary of a sidecar; StudyError saying what is wrong with a malformed one."""
    try:
        version = int(document.get("version", 0))
    except _PARSE_ERRORS:
        raise StudyError(f"{sidecar} has an unreadable version {document.get('version')!r}; restore the file or "
                         "move it away to load the labels without sentences") from None
    if version > SIDECAR_VERSION:
        raise StudyError(f"{sidecar} was written by a newer napari-petground; update the plugin to read it")
    rows = document.get("findings", [])
    summary = document.get("study") or {}
    try:
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise TypeError("'findings' is not a list of objects")
        records = [FindingRecord.from_dict(row) for row in rows]
        if not isinstance(summary, dict):
            raise TypeError("'study' is not an object")
        if summary.get("pet_shape") is not None:
            summary["pet_shape"] = [int(v) for v in summary["pet_shape"]]
    except _PARSE_ERRORS as exc:
        raise StudyError(f"{sidecar} has a malformed finding ({exc}); restore the file or move it away to load "
                         "the labels without sentences") from exc
    labels = [r.label for r in records]
    bad = sorted({v for v in labels if v < 1 or labels.count(v) > 1})
    if bad:
        raise StudyError(f"{sidecar} gives label ids {bad} twice or below 1; restore the file or move it away to "
                         "load the labels without sentences")
    return records, summary


def write_json_atomic(path: Path, document: dict) -> None:
    """JSON through the package's atomic write (temporary file, flush, rename); WriteError when it fails."""
    try:
        atomic_write_bytes(path, _json_bytes(document))
    except OSError as exc:
        raise WriteError(f"cannot write {path}: {exc}") from exc


def _study_summary(study: Study) -> dict:
    return {
        "name": study.name,
        "source_kind": study.source_kind,
        "source": [str(p) for p in study.source],
        "study_uid": study.study_uid,
        "frame_of_reference_uid": study.frame_of_reference_uid,
        "pet_shape": list(study.pet.shape),
        "pet_spacing_mm": list(study.pet.spacing),
        "pet_origin_mm": list(study.pet.origin),
        "pet_units": study.pet_units,
        "image_numbering": str(study.numbering.convention),
    }
