"""Phantoms on disk: NIfTI or DICOM images plus ``phantom.json`` (report, sentences, truth), and cohorts
written in the training dataset layout (napari_petground.dataset).

::

    OUT/ct.nii.gz  pet_suv.nii.gz  lesions.nii.gz  sites.nii.gz  phantom.json      (format="nifti")
    OUT/CT/*.dcm   OUT/PET/*.dcm   lesions.nii.gz  sites.nii.gz  phantom.json      (format="dicom")

The DICOM PET is stored as BQML with dose, weight, half-life and times, so SUV has to be computed back
by the reader exactly as for a scanner's export (a real test of the SUV path, not a shortcut).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..atomic import atomic_write_bytes
from ..dataset.layout import DatasetItem, DatasetWriter, read_nifti, write_nifti
from ..errors import PhantomError, WriteError
from ..study.numbering import Convention, ImageNumbering
from ..study.study import PatientInfo
from .generate import Phantom, make_phantom
from .lesions import LesionTruth
from .pet import TRACER_NAMES
from .text import SentenceTruth, lesion_sentence

JSON_NAME = "phantom.json"


def save_phantom(phantom: Phantom, out_dir: str | os.PathLike, format: str = "nifti") -> Path:
    """Write images, masks and ``phantom.json`` into ``out_dir``; returns the folder."""
    out = Path(out_dir)
    if format not in ("nifti", "dicom"):
        raise PhantomError(f"format is 'nifti' or 'dicom', not {format!r}")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(f"cannot create {out}: {exc}; choose a writable folder") from exc
    pet = phantom.study.pet
    if format == "nifti":
        write_nifti(out / "ct.nii.gz", phantom.study.ct.data, phantom.study.ct.spacing, phantom.study.ct.origin)
        write_nifti(out / "pet_suv.nii.gz", pet.data.astype(np.float32), pet.spacing, pet.origin)
    else:
        from .dicom_io import write_dicom

        write_dicom(phantom, out)
    write_nifti(out / "lesions.nii.gz", phantom.lesion_labels.astype(np.uint16), pet.spacing, pet.origin)
    write_nifti(out / "sites.nii.gz", phantom.site_map.astype(np.uint8), pet.spacing, pet.origin)
    payload = {
        "format": format,
        "report": phantom.report,
        "pet_units": "SUVbw",  # NIfTI carries no units; the study reader takes them from here
        "patient": {"id": phantom.study.patient.patient_id, "sex": phantom.study.patient.sex,
                    "weight_kg": phantom.study.patient.weight_kg, "height_m": phantom.study.patient.height_m},
        "study_uid": phantom.study.study_uid,
        "frame_of_reference_uid": phantom.study.frame_of_reference_uid,
        **phantom.truth(),
    }
    atomic_write_bytes(out / JSON_NAME, json.dumps(payload, indent=1).encode("utf-8"))
    return out


def load_phantom(path: str | os.PathLike) -> Phantom:
    """Read a folder written by ``save_phantom`` back into a Phantom (images through study.load_study)."""
    folder = Path(path)
    meta_path = folder / JSON_NAME
    if not meta_path.is_file():
        raise PhantomError(f"{folder} has no {JSON_NAME}; it was not written by save_phantom")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    from ..study import load_study

    if meta.get("format") == "dicom":
        study = load_study(folder / "PET") if not (folder / "CT").is_dir() else load_study([folder / "CT", folder / "PET"])
    else:
        study = load_study([folder / "ct.nii.gz", folder / "pet_suv.nii.gz"])
        numbers = tuple(meta["numbering"]["numbers"])
        if len(numbers) == study.pet.shape[0]:
            study.numbering = ImageNumbering(numbers, Convention(meta["numbering"]["convention"]))
    lesion_labels = read_nifti(folder / "lesions.nii.gz").data.astype(np.uint16)
    site_map = read_nifti(folder / "sites.nii.gz").data.astype(np.uint8)
    lesions = [LesionTruth.from_dict(row) for row in meta["lesions"]]
    sentences = [SentenceTruth.from_dict(row) for row in meta["sentences"]]
    study.source_kind = "phantom"
    study.report = meta["report"]
    study.tracer = meta["tracer"]
    patient = meta.get("patient", {})
    study.patient = PatientInfo(patient_id=patient.get("id", ""), sex=patient.get("sex", ""),
                                weight_kg=patient.get("weight_kg"), height_m=patient.get("height_m"))
    phantom = Phantom(int(meta["seed"]), meta["tracer"], study, lesion_labels, site_map, lesions, meta["report"],
                      sentences, meta.get("options", {}))
    study.extras.update({"site_map": site_map, "lesion_labels": lesion_labels, "truth": phantom.truth(),
                         "phantom_seed": phantom.seed})
    return phantom


def _tracer_for(tracer: str, rng: np.random.Generator) -> str:
    if tracer.lower() == "mixed":
        return str(rng.choice(TRACER_NAMES, p=[0.55, 0.2, 0.1, 0.15]))
    return tracer


def phantom_items(phantom: Phantom, case: str, variants_per_lesion: int = 0,
                  rng: np.random.Generator | None = None) -> list[DatasetItem]:
    """Dataset rows: every report sentence (label = lesion id, or None) plus optional extra phrasings."""
    items = []
    for index, s in enumerate(phantom.sentences):
        items.append(_item(phantom, case, index, s))
    if variants_per_lesion > 0:
        rng = rng or np.random.default_rng(phantom.seed)
        for les in phantom.lesions:
            for v in range(variants_per_lesion):
                with_numbers = v % 2 == 0
                text = lesion_sentence(les, rng, with_numbers, phantom.tracer)
                s = SentenceTruth(text, les.id, "variant_numbers" if with_numbers else "variant_no_numbers",
                                  suvmax=round(les.suvmax, 1) if with_numbers else None,
                                  image_number=les.image_number if with_numbers else None, lesion_ids=[les.id])
                items.append(_item(phantom, case, len(items), s))
    return items


def _item(phantom: Phantom, case: str, index: int, s: SentenceTruth) -> DatasetItem:
    truth: dict = {"kind": s.kind, "lesion_id": s.lesion_id, "lesion_ids": s.lesion_ids,
                   "stated_suvmax": s.suvmax, "stated_image": s.image_number, "stated_prior": s.prior_suvmax,
                   "section": s.section}
    finding = {"sentence": s.text, "suvmax": s.suvmax, "prior_suvmax": s.prior_suvmax, "slice": s.image_number,
               "series": s.series, "laterality": "", "site": "", "tracer": phantom.tracer, "spans": {},
               "sentence_start": s.start}
    if s.lesion_id is not None:
        les = phantom.lesion(s.lesion_id)
        truth.update({"site": les.site, "laterality": les.laterality, "suvmax": round(les.suvmax, 4),
                      "image_number": les.image_number, "diameter_mm": les.diameter_mm,
                      "volume_ml": les.volume_ml, "true_suv": les.true_suv, "lesion_kind": les.kind,
                      "group": les.group, "center_mm": list(les.center_mm), "region": les.region})
        finding.update({"laterality": les.laterality, "site": les.site})
    return DatasetItem(case=case, index=index, sentence=s.text, finding=finding, status="truth",
                       label=s.lesion_id, tracer=phantom.tracer, truth=truth)


def save_cohort_dataset(
    n: int,
    seed: int,
    out: str | os.PathLike,
    *,
    tracer: str = "FDG",
    resolution_mm: float = 8.0,
    extent: str = "neck_to_thighs",
    pet_resolution_mm: float | None = None,
    variants_per_lesion: int = 0,
    confusable: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write ``n`` phantoms (seeds ``seed`` … ``seed + n - 1``) as a training dataset; resumes finished cases.

    ``tracer="mixed"`` draws a tracer per case. Returns the dataset's sentences.jsonl.
    """
    if n < 1:
        raise PhantomError(f"n must be at least 1, got {n}")
    writer = DatasetWriter(out, name="petground-phantoms",
                           description=f"synthetic PET/CT phantoms, seeds {seed}..{seed + n - 1}")
    for i in range(n):
        case_seed = seed + i
        case = f"phantom_{case_seed:06d}"
        if not writer.is_done(case):
            pick = np.random.default_rng([case_seed, 7919])
            ph = make_phantom(case_seed, tracer=_tracer_for(tracer, pick), resolution_mm=resolution_mm,
                              extent=extent, pet_resolution_mm=pet_resolution_mm, confusable=confusable)
            ct = ph.study.ct
            if not ct.same_grid(ph.study.pet):
                from ..study.resample import resample_to_grid

                ct = resample_to_grid(ct, ph.study.pet)
            items = phantom_items(ph, case, variants_per_lesion, np.random.default_rng([case_seed, 104729]))
            writer.write_case(case, ct, ph.study.pet, ph.lesion_labels, items)
        if progress is not None:
            progress(i + 1, n)
    return writer.finalize({"source": "phantom", "seed": seed, "n": n, "tracer": tracer,
                            "resolution_mm": resolution_mm, "extent": extent})


__all__ = ["load_phantom", "phantom_items", "save_cohort_dataset", "save_phantom"]
