"""One PET/CT exam in memory: CT in HU, PET in SUV (or stored units with a warning), geometry, numbering."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .numbering import ImageNumbering
from .volume import Volume


@dataclass
class PatientInfo:
    patient_id: str = ""
    name: str = ""
    sex: str = ""
    weight_kg: float | None = None
    height_m: float | None = None
    study_date: str = ""


@dataclass(repr=False)
class Study:
    """A PET/CT exam. ``pet`` holds SUVbw when ``pet_is_suv``; otherwise its stored units (``pet_units``)."""

    pet: Volume
    ct: Volume | None
    numbering: ImageNumbering
    pet_units: str = "SUVbw"
    pet_is_suv: bool = True
    tracer: str = ""  # normalised tracer name: "FDG", "PSMA", "DOTATATE", "FLUCICLOVINE" or "" (unknown)
    patient: PatientInfo = field(default_factory=PatientInfo)
    source: tuple[Path, ...] = ()
    source_kind: str = ""  # "dicom", "nifti", "phantom"
    study_uid: str = ""
    frame_of_reference_uid: str = ""
    warnings: list[str] = field(default_factory=list)
    report: str = ""  # report text shipped with the study (phantoms, datasets)
    extras: dict = field(default_factory=dict)  # reader-specific details (DICOM series info, phantom truth)
    title: str = ""  # display name when there is no PatientID (NIfTI case or folder name)

    def __repr__(self) -> str:  # short: the study travels in layer metadata and error messages
        return (f"Study({self.name!r}, {self.source_kind or 'memory'}, pet={self.pet!r}, ct={self.ct!r}, "
                f"pet_units={self.pet_units!r}, tracer={self.tracer!r}, warnings={len(self.warnings)})")

    @property
    def name(self) -> str:
        """Short label for layer names and messages."""
        if self.patient.patient_id:
            return self.patient.patient_id
        if self.title:
            return self.title
        return self.source[0].name if self.source else "study"

    def suvmax(self) -> float:
        return float(np.nanmax(self.pet.data))
