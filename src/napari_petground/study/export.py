"""A Study written out as files other tools read: DICOM PET and CT series, or a NIfTI pair.

Used to hand synthetic studies (phantoms, benchmarks, tests) to the same readers real data goes through, so
the whole path from files to layers is exercised. PET is stored as Bq/ml (``BQML``, decay-corrected to
administration) with the weight and dose that turn it back into the SUV it came from.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .dicom_series import write_series
from .study import Study

CT_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
PET_STORAGE = "1.2.840.10008.5.1.4.1.1.128"
DEFAULT_WEIGHT_KG = 75.0
DEFAULT_DOSE_BQ = 370.0e6


def _base(study: Study, uids: dict, modality: str, series_uid: str):
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = PET_STORAGE if modality == "PT" else CT_STORAGE
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = modality
    ds.PatientID = study.patient.patient_id or study.name
    ds.PatientName = study.patient.name or study.name
    ds.PatientSex = study.patient.sex
    ds.PatientBirthDate = ""
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.StudyID = "1"
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = uids["date"]
    ds.StudyTime = "100000"
    ds.SeriesTime = ds.AcquisitionTime = "110000"
    ds.StudyInstanceUID = uids["study"]
    ds.SeriesInstanceUID = series_uid
    ds.FrameOfReferenceUID = uids["frame"]
    ds.SeriesNumber = 2 if modality == "CT" else 3
    ds.SeriesDescription = f"{study.name} {modality}"
    ds.PatientPosition = "HFS"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    return ds


def export_dicom(study: Study, folder: str | os.PathLike, *, weight_kg: float | None = None,
                 dose_bq: float = DEFAULT_DOSE_BQ, date: str = "20240102") -> Path:
    """Write ``study`` (PET in SUV, CT in HU) as DICOM PET and CT series under ``folder``; returns it.

    The PET's InstanceNumbers are the study's image numbers (``study.numbering``), so a report's "image N"
    means the same slice after reading the files back; the CT is numbered in the same direction from 1.
    """
    from pydicom.dataset import Dataset
    from pydicom.uid import generate_uid

    folder = Path(folder)
    weight = weight_kg or study.patient.weight_kg or DEFAULT_WEIGHT_KG
    uids = {"study": study.study_uid or generate_uid(), "frame": study.frame_of_reference_uid or generate_uid(),
            "date": date}
    numbers = [int(v) for v in study.numbering.numbers]
    if study.ct is not None:
        ct_dir = folder / "CT"
        ct_dir.mkdir(parents=True, exist_ok=True)
        series_uid = generate_uid()
        n_ct = study.ct.shape[0]
        feet_first = len(numbers) > 1 and numbers[1] > numbers[0]  # numbers grow towards the head

        def ct_slice(z: int):
            ds = _base(study, uids, "CT", series_uid)
            ds.RescaleIntercept, ds.RescaleSlope = "-1024", "1"
            ds.PixelData = (np.clip(study.ct.data[z], -1024, 31743).astype(np.int32) + 1024).astype(np.int16).tobytes()
            return ds

        write_series(study.ct, ct_dir, [z + 1 if feet_first else n_ct - z for z in range(n_ct)],
                     [f"CT{z:04d}.dcm" for z in range(n_ct)], ct_slice)
    pet_dir = folder / "PET"
    pet_dir.mkdir(parents=True, exist_ok=True)
    series_uid = generate_uid()
    activity_per_suv = dose_bq / (weight * 1000.0)  # Bq/ml of SUV 1 (decay-corrected to administration)

    def pet_slice(z: int):
        ds = _base(study, uids, "PT", series_uid)
        ds.PatientWeight = f"{weight:g}"
        ds.Units = "BQML"
        ds.DecayCorrection = "ADMIN"
        ds.CorrectedImage = ["ATTN", "DECY"]
        item = Dataset()
        item.Radiopharmaceutical = study.tracer or "FDG"
        item.RadiopharmaceuticalStartDateTime = f"{date}100000"
        item.RadionuclideTotalDose = f"{dose_bq:.0f}"
        item.RadionuclideHalfLife = "6586.2"
        ds.RadiopharmaceuticalInformationSequence = [item]
        activity = np.clip(study.pet.data[z].astype(np.float64), 0, None) * activity_per_suv
        peak = float(activity.max())
        slope = peak / 32767.0 if peak > 0 else 1.0  # per-slice slope, as scanners store PET
        ds.RescaleSlope, ds.RescaleIntercept = f"{slope:.10g}", "0"
        ds.PixelData = np.round(activity / float(ds.RescaleSlope)).clip(0, 32767).astype(np.int16).tobytes()
        return ds

    write_series(study.pet, pet_dir, numbers, [f"PT{z:04d}.dcm" for z in range(study.pet.shape[0])], pet_slice)
    return folder


def export_nifti(study: Study, folder: str | os.PathLike, *, layout: str = "autopet", case: str = "case") -> list[Path]:
    """Write the study as NIfTI: ``autopet`` (CTres + SUV) or ``nnunet`` (case_0000 CT, case_0001 PET)."""
    import SimpleITK as sitk

    from .geometry import source_geometry, to_source_array

    names = {"autopet": ("CTres.nii.gz", "SUV.nii.gz"), "nnunet": (f"{case}_0000.nii.gz", f"{case}_0001.nii.gz")}
    if layout not in names:
        raise ValueError(f"layout must be one of {', '.join(names)}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for volume, name in ((study.ct, names[layout][0]), (study.pet, names[layout][1])):
        if volume is None:
            continue
        geometry = source_geometry(volume)
        image = sitk.GetImageFromArray(to_source_array(volume.data, volume))
        image.SetSpacing([float(v) for v in geometry.spacing])
        image.SetOrigin([float(v) for v in geometry.origin])
        image.SetDirection([float(v) for v in geometry.direction])
        sitk.WriteImage(image, str(folder / name), True)
        written.append(folder / name)
    return written
