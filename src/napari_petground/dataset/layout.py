"""The dataset layout: nnU-Net raw folders plus one row per sentence.

::

    DATASET/
      dataset.json                      nnU-Net description (+ "petground" block)
      imagesTr/{case}_0000.nii.gz       CT in HU, resampled onto the PET grid
      imagesTr/{case}_0001.nii.gz       PET in SUVbw
      labelsTr/{case}.nii.gz            uint16: value k = the mask of the sentence item whose ``label`` is k
      candidates/{case}_{index:03d}.nii.gz   uint16, for ambiguous items: value j+1 = candidate j
      numbering/{case}.json             the image number of every PET slice ({"convention", "numbers"}, z
                                        index order): the DICOM InstanceNumbers the report cites when the exam
                                        came from DICOM; a case without it counts from the head
      items/{case}.jsonl                one JSON row per sentence of the case; written last, atomically, so
                                        its presence means the case is complete (reruns skip it)
      failures/{case}.json              why a case could not be processed
      sentences.jsonl                   all rows of items/, made by ``DatasetWriter.finalize``

A case is one exam; every sentence of the exam is an item ``{case}:{index}``. Items share the exam's images
and point at their mask by label value, so a hundred sentences of one exam cost one copy of the images.
Geometry is the canonical LPS grid of the study (identity direction).

Every path is made from a case name and an index read from data files, so both are checked first
(:func:`check_case`): a case is one plain file name (no folder separator, no leading dot, no ``..``) and an
item's case is the case of the items file it is in. Nothing read from a dataset can name a file outside it.

Files are written through dot-named temporaries and renamed into place (napari_petground.atomic, the
package's one home for atomic writes); a killed writer leaves only such temporaries, which
:func:`remove_stale_temporaries` clears once they are an hour old.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..atomic import atomic_write, atomic_write_bytes
from ..errors import PetGroundError
from ..study.numbering import Convention, ImageNumbering
from ..study.volume import Volume

CT_SUFFIX = "_0000.nii.gz"
PET_SUFFIX = "_0001.nii.gz"
LAYOUT_FOLDERS = ("", "imagesTr", "labelsTr", "candidates", "numbering", "items", "failures")
TEMPORARY_PATTERNS = (".*.tmp", ".*.nii.gz")  # atomic_write_bytes, write_nifti (and review masks)
STALE_AFTER_S = 3600.0
_MAX_NAME = 200


def check_case(case: object, where: str = "") -> str:
    """``case`` when it is one plain file name, else PetGroundError: paths are built from it."""
    name = case if isinstance(case, str) else ""
    bad = (not name or len(name) > _MAX_NAME or name.startswith(".") or ".." in name
           or any(c in name for c in "/\\:") or any(ord(c) < 32 for c in name))
    if bad:
        place = f"{where}: " if where else ""
        raise PetGroundError(f"{place}case {case!r} is not a plain file name (no '/', '\\', ':', leading dot or '..'); "
                             "fix the dataset's items file")
    return name


def inside(root: Path, relpath: str, what: str = "file") -> Path:
    """``root / relpath`` when it stays inside ``root`` (links resolved), else PetGroundError."""
    base = Path(root).resolve()
    path = (base / relpath).resolve()
    if path != base and base not in path.parents:
        raise PetGroundError(f"{what} {relpath!r} points outside {root}; the dataset's records were edited or damaged")
    return path


@dataclass
class DatasetItem:
    """One sentence of one exam and where its mask is."""

    case: str
    index: int
    sentence: str
    finding: dict = field(default_factory=dict)  # Finding.to_dict()
    status: str = "matched"  # matched | ambiguous | no_match | rejected | truth | error
    label: int | None = None  # value in labelsTr/{case}.nii.gz, None when the item has no mask
    tracer: str = ""
    candidates: list[dict] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    reason: str = ""
    truth: dict = field(default_factory=dict)  # phantom cohorts: true lesion id, site, side, ...

    @property
    def item_id(self) -> str:
        return f"{self.case}:{self.index}"

    def to_dict(self) -> dict:
        out = asdict(self)
        out["item_id"] = self.item_id
        return out

    @classmethod
    def from_dict(cls, row: dict) -> DatasetItem:
        known = {k: v for k, v in row.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def stale_temporaries(folder: Path, older_than_s: float = STALE_AFTER_S,
                      patterns: Iterable[str] = TEMPORARY_PATTERNS) -> list[Path]:
    """Temporaries in ``folder`` left by interrupted writes, untouched for ``older_than_s`` seconds."""
    if not folder.is_dir():
        return []
    limit = time.time() - older_than_s
    found = set()
    for pattern in patterns:
        for path in folder.glob(pattern):
            try:
                if path.lstat().st_mtime < limit:
                    found.add(path)
            except OSError:  # removed meanwhile
                continue
    return sorted(found)


def remove_stale_temporaries(root: str | Path, folders: Iterable[str] = LAYOUT_FOLDERS,
                             older_than_s: float = STALE_AFTER_S,
                             patterns: Iterable[str] = TEMPORARY_PATTERNS) -> list[Path]:
    """Delete what :func:`stale_temporaries` finds under ``root``'s ``folders``; returns what went.

    An hour is far longer than any single write, so a writer still at work keeps its temporary.
    """
    patterns = tuple(patterns)
    removed = []
    for sub in folders:
        for path in stale_temporaries(Path(root) / sub, older_than_s, patterns):
            try:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
            except OSError:  # not ours to remove after all (permissions): leave it
                continue
            removed.append(path)
    return removed


def write_nifti(path: Path, data: np.ndarray, spacing: tuple, origin: tuple) -> None:
    """Write a (z, y, x) array on the canonical LPS grid as NIfTI, atomically."""
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(np.ascontiguousarray(data))
    image.SetSpacing(tuple(float(s) for s in spacing[::-1]))
    image.SetOrigin(tuple(float(o) for o in origin[::-1]))
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: sitk.WriteImage(image, str(tmp), True))


def read_nifti(path: Path) -> Volume:
    """Read a NIfTI written by this layout (canonical LPS grid) as a Volume."""
    import SimpleITK as sitk

    if not path.is_file():
        raise PetGroundError(f"dataset file missing: {path}")
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        raise PetGroundError(f"cannot read {path}: {exc}") from exc
    image = sitk.DICOMOrient(image, "LPS")
    return Volume(sitk.GetArrayFromImage(image), image.GetSpacing()[::-1], image.GetOrigin()[::-1])


def _check_index(index: object, where: str = "") -> str:
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < 10**6:
        place = f"{where}: " if where else ""
        raise PetGroundError(f"{place}item index {index!r} is not a whole number from 0; fix the dataset's items file")
    return f"{index:03d}"


def _parse_item(line: str, case: str, where: str) -> DatasetItem:
    """One row of ``items/{case}.jsonl``: valid JSON, a plain case equal to the file's, a whole index."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise PetGroundError(f"{where}: not valid JSON ({exc.msg}); fix or remove the line") from exc
    if not isinstance(row, dict):
        raise PetGroundError(f"{where}: a JSON object is expected; fix or remove the line")
    if check_case(row.get("case"), where) != case:
        raise PetGroundError(f"{where}: the row is of case {row.get('case')!r} but lies in {case}.jsonl; "
                             "a case's rows belong in its own items file")
    _check_index(row.get("index"), where)
    label = row.get("label")
    if label is not None and (isinstance(label, bool) or not isinstance(label, int) or label < 1):
        raise PetGroundError(f"{where}: label {label!r} is not a label value (1, 2, ...) or null")
    try:
        return DatasetItem.from_dict(row)
    except TypeError as exc:  # a required field missing
        raise PetGroundError(f"{where}: {exc}; fix or remove the line") from exc


class Dataset:
    """Read access to a dataset folder."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise PetGroundError(f"dataset folder not found: {self.root}")

    @property
    def description(self) -> dict:
        path = self.root / "dataset.json"
        if not path.is_file():
            return {}
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PetGroundError(f"{path} is not readable JSON ({exc}); restore it or write it again") from exc
        if not isinstance(value, dict):
            raise PetGroundError(f"{path} does not describe a dataset (a JSON object is expected)")
        return value

    def cases(self) -> list[str]:
        """Cases whose processing finished (their items file exists); dot-named files are temporaries."""
        return sorted(p.name[: -len(".jsonl")] for p in (self.root / "items").glob("*.jsonl")
                      if not p.name.startswith("."))

    def items(self, case: str | None = None) -> list[DatasetItem]:
        return list(self.iter_items(case))

    def iter_items(self, case: str | None = None) -> Iterator[DatasetItem]:
        """Rows of one case or of all, checked: PetGroundError names the file and line of a bad row."""
        for name in [check_case(case)] if case else self.cases():
            path = self.items_path(name)
            if not path.is_file():
                continue
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise PetGroundError(f"cannot read {path} ({exc}); restore the file or rerun the case") from exc
            for number, line in enumerate(text.splitlines(), start=1):
                if line.strip():
                    yield _parse_item(line, name, f"{path}:{number}")

    def items_path(self, case: str) -> Path:
        return self.root / "items" / f"{check_case(case)}.jsonl"

    def ct_path(self, case: str) -> Path:
        return self.root / "imagesTr" / f"{check_case(case)}{CT_SUFFIX}"

    def pet_path(self, case: str) -> Path:
        return self.root / "imagesTr" / f"{check_case(case)}{PET_SUFFIX}"

    def label_path(self, case: str) -> Path:
        return self.root / "labelsTr" / f"{check_case(case)}.nii.gz"

    def candidates_path(self, case: str, index: int) -> Path:
        return self.root / "candidates" / f"{check_case(case)}_{_check_index(index)}.nii.gz"

    def numbering_path(self, case: str) -> Path:
        return self.root / "numbering" / f"{check_case(case)}.json"

    def numbering(self, case: str, n_slices: int) -> ImageNumbering:
        """The image number of each of the case's ``n_slices`` PET slices as the exam had them (DICOM
        InstanceNumbers); counted from the head for a case written without them. PetGroundError for a file
        that does not fit the PET."""
        path = self.numbering_path(case)
        if not path.is_file():
            return ImageNumbering.from_convention(n_slices)
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            numbering = ImageNumbering(tuple(int(v) for v in document["numbers"]), Convention(document["convention"]))
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            raise PetGroundError(f"{path} does not hold the case's image numbers ({exc}); restore it or rerun the "
                                 "case") from exc
        if len(numbering.numbers) != n_slices:
            raise PetGroundError(f"{path} numbers {len(numbering.numbers)} images but the PET of {case} has "
                                 f"{n_slices} slices; restore it or rerun the case")
        return numbering

    def load_images(self, case: str) -> tuple[Volume, Volume]:
        """(CT on the PET grid, PET in SUV)."""
        return read_nifti(self.ct_path(case)), read_nifti(self.pet_path(case))

    def load_labels(self, case: str) -> np.ndarray:
        return read_nifti(self.label_path(case)).data

    def item_mask(self, item: DatasetItem) -> np.ndarray | None:
        """Boolean mask of one item on the PET grid, or None when the item has no mask."""
        if item.label is None:
            return None
        return self.load_labels(item.case) == item.label


class DatasetWriter:
    """Writes cases one at a time; a case is complete only once its items file lands."""

    def __init__(self, root: str | Path, name: str = "petground", description: str = "") -> None:
        self.root = Path(root)
        for sub in ("imagesTr", "labelsTr", "items", "candidates", "numbering", "failures"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(self.root)
        self.name = name
        self.description = description

    def is_done(self, case: str) -> bool:
        return (self.root / "items" / f"{check_case(case)}.jsonl").is_file()

    def write_case(
        self,
        case: str,
        ct_on_pet_grid: Volume | None,
        pet: Volume,
        labels: np.ndarray,
        items: list[DatasetItem],
        candidate_masks: dict[int, list[np.ndarray]] | None = None,
        numbering: ImageNumbering | None = None,
    ) -> None:
        """Write images, labels, candidate masks, the image numbering (``numbering``: the exam's, so that
        "image N" keeps meaning what the report meant; default counted from the head), then (last) the items
        file that marks the case complete."""
        check_case(case)
        if labels.shape != pet.shape:
            raise PetGroundError(f"labels shape {labels.shape} differs from PET shape {pet.shape} in case {case}")
        for item in items:
            if item.case != case:
                raise PetGroundError(f"item {item.item_id} is not of case {case}; write each case's items with it")
            _check_index(item.index, item.item_id)
        ct_data = ct_on_pet_grid.data if ct_on_pet_grid is not None else np.full(pet.shape, -1000, np.int16)
        write_nifti(self.root / "imagesTr" / f"{case}{CT_SUFFIX}", ct_data.astype(np.int16), pet.spacing, pet.origin)
        write_nifti(self.root / "imagesTr" / f"{case}{PET_SUFFIX}", pet.data.astype(np.float32), pet.spacing, pet.origin)
        write_nifti(self.root / "labelsTr" / f"{case}.nii.gz", labels.astype(np.uint16), pet.spacing, pet.origin)
        numbering = numbering or ImageNumbering.from_convention(pet.shape[0])
        if len(numbering.numbers) != pet.shape[0]:
            raise PetGroundError(f"the image numbering of case {case} has {len(numbering.numbers)} numbers for "
                                 f"{pet.shape[0]} PET slices")
        atomic_write_bytes(self.root / "numbering" / f"{case}.json", json.dumps(
            {"convention": str(numbering.convention), "numbers": [int(v) for v in numbering.numbers]}).encode())
        for index, masks in (candidate_masks or {}).items():
            stack = np.zeros(pet.shape, np.uint16)
            for j, mask in enumerate(masks):
                stack[mask.astype(bool)] = j + 1
            write_nifti(self.root / "candidates" / f"{case}_{_check_index(index)}.nii.gz", stack, pet.spacing,
                        pet.origin)
        rows = "".join(json.dumps(item.to_dict(), ensure_ascii=False) + "\n" for item in items)
        atomic_write_bytes(self.root / "items" / f"{case}.jsonl", rows.encode("utf-8"))
        (self.root / "failures" / f"{case}.json").unlink(missing_ok=True)

    def write_failure(self, case: str, reason: str, extra: dict | None = None) -> None:
        """Record why ``case`` could not be processed (``extra``: e.g. its tracer, for summaries)."""
        payload = json.dumps({**(extra or {}), "case": case, "reason": reason}, ensure_ascii=False).encode("utf-8")
        atomic_write_bytes(self.root / "failures" / f"{check_case(case)}.json", payload)

    def finalize(self, extra: dict | None = None) -> Path:
        """Write dataset.json and the consolidated sentences.jsonl from every completed case."""
        dataset = Dataset(self.root)
        cases = dataset.cases()
        rows = "".join(json.dumps(i.to_dict(), ensure_ascii=False) + "\n" for i in dataset.iter_items())
        atomic_write_bytes(self.root / "sentences.jsonl", rows.encode("utf-8"))
        description = {
            "name": self.name,
            "description": self.description,
            "channel_names": {"0": "CT", "1": "PET"},
            "labels": {"background": 0, "lesion": 1},
            "numTraining": len(cases),
            "file_ending": ".nii.gz",
            "petground": {
                "layout_version": 1,
                "label_semantics": "labelsTr value k is the mask of the sentence item with label k "
                "(see sentences.jsonl); treat any value > 0 as lesion for plain nnU-Net training",
                **(extra or {}),
            },
        }
        atomic_write_bytes(self.root / "dataset.json", json.dumps(description, indent=2).encode("utf-8"))
        return self.root / "sentences.jsonl"
