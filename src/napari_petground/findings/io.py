"""Save and reload accepted findings: a labels file (NIfTI or DICOM SEG) plus a JSON sidecar.

``findings.nii.gz`` (or ``findings.dcm``) holds the voxels in the study's source geometry (study.writers);
``findings.json`` beside it says which label id is which sentence, with statistics, the model and checkpoint
that proposed it and when it was accepted. Both files are written to a temporary name and renamed into place.
The sidecar carries a checksum of the labels so a reload notices a labels file changed behind its back.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import __version__
from ..errors import StudyError, WriteError
from ..study.study import Study
from .records import FindingRecord, now_iso, present_labels
from .stats import label_stats

SIDECAR_FORMAT = "napari-petground findings"
SIDECAR_VERSION = 1
SEGMENT_LABEL_CHARS = 64  # DICOM LO value length


@dataclass
class LoadedFindings:
    """Labels on the PET grid and the records of the sidecar (empty when there is none), with notes."""

    labels: np.ndarray
    records: list[FindingRecord]
    sidecar: Path | None
    notes: list[str] = field(default_factory=list)


def sidecar_path(labels_path: str | os.PathLike) -> Path:
    """``x.nii.gz`` / ``x.nii`` / ``x.dcm`` -> ``x.json`` in the same folder."""
    path = Path(labels_path)
    name = path.name
    for suffix in (".nii.gz", ".nii", ".dcm"):
        if name.lower().endswith(suffix):
            return path.with_name(name[: -len(suffix)] + ".json")
    return path.with_name(name + ".json")


def labels_checksum(labels: np.ndarray) -> str:
    """SHA-256 of the label values (as int64, C order) and the shape: independent of the array's dtype."""
    data = np.ascontiguousarray(np.asarray(labels), dtype=np.int64)
    digest = hashlib.sha256(str(data.shape).encode())
    digest.update(data.tobytes())
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
    """Write ``labels`` (PET grid) to ``path`` (.nii.gz / .nii / .dcm) and its JSON sidecar; returns both paths.

    Only records whose label has voxels are saved; statistics are recomputed from ``labels``.
    """
    from ..study.writers import write_labels

    labels = np.asarray(labels)
    ids = present_labels(labels)
    kept = [r for r in records if r.label in ids]
    written = write_labels(path, labels, study, segment_names=segment_names(kept))
    stats = label_stats(study, labels)
    rows = []
    for record in kept:
        row = record.to_dict()
        row["stats"] = stats[record.label].to_dict()
        rows.append(row)
    document = {
        "format": SIDECAR_FORMAT,
        "version": SIDECAR_VERSION,
        "software": f"napari-petground {__version__}",
        "saved_at": now_iso(),
        "labels_file": Path(written[0]).name,
        "labels_sha256": labels_checksum(labels),
        "study": _study_summary(study),
        "findings": rows,
        **(extra or {}),
    }
    sidecar = sidecar_path(written[0])
    write_json_atomic(sidecar, document)
    return [*written, sidecar]


def load_findings(path: str | os.PathLike, study: Study) -> LoadedFindings:
    """Read a labels file saved by :func:`save_findings` (or any labels file) with its sidecar, if present."""
    from ..study.writers import load_labels

    path = Path(path)
    if not path.is_file():
        raise StudyError(f"{path} does not exist; choose a findings file saved before (.nii.gz or .dcm)")
    labels = np.asarray(load_labels(path, study))
    sidecar = sidecar_path(path)
    notes: list[str] = []
    if not sidecar.is_file():
        notes.append(f"no sidecar {sidecar.name}: labels loaded without their sentences")
        return LoadedFindings(labels, [], None, notes)
    try:
        document = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise StudyError(f"{sidecar} is not readable JSON ({exc}); restore it or load the labels alone") from exc
    if document.get("format") != SIDECAR_FORMAT:
        raise StudyError(f"{sidecar} is not a napari-petground findings sidecar")
    if int(document.get("version", 0)) > SIDECAR_VERSION:
        raise StudyError(f"{sidecar} was written by a newer napari-petground; update the plugin to read it")
    try:
        records = [FindingRecord.from_dict(row) for row in document.get("findings", [])]
    except (KeyError, TypeError, ValueError) as exc:
        raise StudyError(f"{sidecar} has a malformed finding ({exc})") from exc
    if document.get("labels_sha256") and document["labels_sha256"] != labels_checksum(labels):
        notes.append(f"{path.name} changed since {sidecar.name} was written: check the sentences against the labels")
    summary = document.get("study") or {}
    if summary.get("pet_shape") and tuple(summary["pet_shape"]) != tuple(study.pet.shape):
        notes.append(f"the findings were saved for a PET grid of {tuple(summary['pet_shape'])}, "
                     f"this study has {study.pet.shape}")
    ids = present_labels(labels)
    missing = [r.label for r in records if r.label not in ids]
    if missing:
        notes.append(f"labels {missing} of the sidecar have no voxels in {path.name}")
    return LoadedFindings(labels, [r for r in records if r.label in ids], sidecar, notes)


def write_json_atomic(path: Path, document: dict) -> None:
    """JSON to a temporary file in the same folder, flushed to disk, then renamed over ``path``."""
    temporary = path.with_name(f".tmp-{uuid.uuid4().hex[:8]}-{path.name}")
    try:
        with temporary.open("w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2, ensure_ascii=False)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
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
