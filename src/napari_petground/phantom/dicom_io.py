"""Write a phantom as a DICOM PET/CT study: CT in HU (int16 with rescale), PET in BQML with real SUV tags.

PET values are activity concentrations at the series start (DecayCorrection START): SUV × decayed dose /
body weight. Reading them back needs the weight, dose, half-life and injection/series times, exactly as a
scanner export does. InstanceNumber counts from the head (image 1 = most superior slice), both series share
one FrameOfReferenceUID, and every UID is a valid one from pydicom.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from ..errors import WriteError
from ..study.dicom_series import write_series
from .generate import NUCLIDES, Phantom

CT_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
PET_STORAGE = "1.2.840.10008.5.1.4.1.1.128"
_TRACER_TEXT = {"FDG": "Fluorodeoxyglucose F^18^", "PSMA": "Piflufolastat F 18 (DCFPyL)",
                "DOTATATE": "Ga-68 DOTATATE", "FLUCICLOVINE": "Fluciclovine F 18"}


def _uid(*parts: str) -> str:
    from pydicom.uid import generate_uid

    return str(generate_uid(entropy_srcs=["napari-petground phantom", *parts]))


def _base(phantom: Phantom, modality: str, sop_class: str, series_uid: str, series_number: int, description: str,
          when: datetime):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    study = phantom.study
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = sop_class
    ds.Modality = modality
    ds.PatientName = study.patient.name or study.patient.patient_id
    ds.PatientID = study.patient.patient_id
    ds.PatientSex = study.patient.sex
    ds.PatientWeight = f"{study.patient.weight_kg:.1f}"
    ds.PatientSize = f"{study.patient.height_m:.2f}"
    ds.StudyInstanceUID = study.study_uid or _uid(str(phantom.seed), "study")
    ds.FrameOfReferenceUID = study.frame_of_reference_uid or _uid(str(phantom.seed), "frame")
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = series_number
    ds.SeriesDescription = description
    ds.StudyDescription = f"{phantom.tracer} PET/CT (synthetic phantom)"
    ds.StudyID = str(phantom.seed)
    ds.Manufacturer = "napari-petground phantom"
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = when.strftime("%Y%m%d")
    ds.StudyTime = when.strftime("%H%M%S")
    ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = when.strftime("%H%M%S")
    ds.PatientPosition = "HFS"
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PositionReferenceIndicator = ""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    return ds


def _slices(volume, numbers, make, folder: Path, prefix: str) -> None:
    """The series through the package's one series writer (study.dicom_series), with reproducible UIDs."""
    def made(z: int):
        ds = make(z)
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = _uid(ds.SeriesInstanceUID, str(z))
        return ds

    write_series(volume, folder, numbers, [f"{prefix}{int(n):04d}.dcm" for n in numbers], made)


def write_dicom(phantom: Phantom, out: Path) -> None:
    """CT/ and PET/ series in ``out`` (HEAD_FIRST InstanceNumbers, shared frame of reference)."""
    study = phantom.study
    acq = phantom.options.get("acquisition") or {"dose_mbq": 370.0, "uptake_min": 60}
    nuclide, half_life = NUCLIDES[phantom.tracer]
    injection = datetime(2025, 1, 1, 9, 0, 0)
    start = injection + timedelta(minutes=int(acq["uptake_min"]))
    dose_bq = float(acq["dose_mbq"]) * 1e6
    decayed = dose_bq * math.exp(-math.log(2.0) * (start - injection).total_seconds() / half_life)
    bq_per_suv = decayed / (float(study.patient.weight_kg) * 1000.0)
    ct_dir, pet_dir = out / "CT", out / "PET"
    try:
        ct_dir.mkdir(parents=True, exist_ok=True)
        pet_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(f"cannot create DICOM folders in {out}: {exc}") from exc
    for folder in (ct_dir, pet_dir):  # a rewrite must not leave slices of an older, larger phantom
        for old in folder.glob("*.dcm"):
            old.unlink()

    ct = study.ct
    ct_numbers = list(range(ct.shape[0], 0, -1))  # head first, like the PET
    ct_series = _uid(str(phantom.seed), "ct-series")

    def make_ct(z: int):
        ds = _base(phantom, "CT", CT_STORAGE, ct_series, 3, "CT (phantom)", start - timedelta(minutes=2))
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.KVP = "120"
        ds.RescaleIntercept = "-1024"
        ds.RescaleSlope = "1"
        ds.RescaleType = "HU"
        ds.WindowCenter, ds.WindowWidth = "40", "400"
        ds.PixelData = (ct.data[z].astype(np.int32) + 1024).clip(-32768, 32767).astype("<i2").tobytes()
        return ds

    _slices(ct, ct_numbers, make_ct, ct_dir, "CT")

    pet = study.pet
    pet_series = _uid(str(phantom.seed), "pet-series")

    def make_pet(z: int):
        from pydicom.dataset import Dataset

        ds = _base(phantom, "PT", PET_STORAGE, pet_series, 2, f"PET {phantom.tracer} AC (phantom)", start)
        ds.ImageType = ["ORIGINAL", "PRIMARY"]
        ds.SeriesType = ["WHOLE BODY", "IMAGE"]
        ds.Units = "BQML"
        ds.DecayCorrection = "START"
        ds.CorrectedImage = ["DECY", "ATTN", "SCAT", "DTIM", "RAN", "NORM"]
        ds.CountsSource = "EMISSION"
        ds.NumberOfSlices = pet.shape[0]
        ds.ImageIndex = z + 1
        ds.FrameReferenceTime = "0"
        ds.ActualFrameDuration = 120000
        info = Dataset()
        info.Radiopharmaceutical = _TRACER_TEXT[phantom.tracer]
        info.RadionuclideTotalDose = f"{dose_bq:.1f}"
        info.RadionuclideHalfLife = f"{half_life}"
        info.RadionuclidePositronFraction = "0.97" if nuclide == "F-18" else "0.89"
        info.RadiopharmaceuticalStartTime = injection.strftime("%H%M%S")
        info.RadiopharmaceuticalStartDateTime = injection.strftime("%Y%m%d%H%M%S")
        code = Dataset()
        code.CodeValue = "C-111A1" if nuclide == "F-18" else "C-131A3"
        code.CodingSchemeDesignator = "SRT"
        code.CodeMeaning = "^18^Fluorine" if nuclide == "F-18" else "^68^Gallium"
        info.RadionuclideCodeSequence = [code]
        ds.RadiopharmaceuticalInformationSequence = [info]
        activity = pet.data[z].astype(np.float64) * bq_per_suv
        peak = float(activity.max())
        slope = peak / 32767.0 if peak > 0 else 1.0
        ds.RescaleSlope = f"{slope:.10g}"
        ds.RescaleIntercept = "0"
        slope = float(ds.RescaleSlope)
        ds.PixelData = np.rint(activity / slope).clip(0, 32767).astype("<i2").tobytes()
        return ds

    _slices(pet, list(study.numbering.numbers), make_pet, pet_dir, "PT")
