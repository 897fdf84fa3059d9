"""Choosing the PET and the CT series of one study among the series found in a DICOM folder.

The obvious choice is taken silently: the only PET (preferring attenuation-corrected ones over NAC), and the
only CT sharing its frame of reference (localisers and single images are not candidates). Anything else is a
question only the user can answer, so a StudyError lists the candidates and says how to choose
(``load_study(..., pet_series=UID, ct_series=UID)`` or ``ct_series="none"`` for PET alone).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import StudyError

if TYPE_CHECKING:
    from .scan import Series

NO_CT = ("none", "")


def _find(series: list[Series], uid: str, what: str) -> Series:
    matches = [s for s in series if s.uid == uid]
    if not matches:
        listing = "\n  ".join(s.summary() for s in series)
        raise StudyError(f"no series with {what} UID {uid} in this folder; series found:\n  {listing}")
    return matches[0]


def _listing(candidates: list[Series]) -> str:
    return "\n  ".join(s.summary() for s in candidates)


def _is_volume(s: Series) -> bool:
    image_type = s.header.get("ImageType", None) or []
    image_type = [image_type] if isinstance(image_type, str) else list(image_type)
    return len(s.files) > 1 and "LOCALIZER" not in [str(t).upper() for t in image_type]


def select_pair(series: list[Series], *, pet_series: str | None = None,
                ct_series: str | None = None) -> tuple[Series, Series | None, list[str]]:
    """(PET series, CT series or None, warnings) for one study; StudyError when the choice is not obvious."""
    notes: list[str] = []
    if pet_series:
        pet = _find(series, pet_series, "PET")
        if pet.modality != "PT":
            raise StudyError(f"series {pet_series} is {pet.modality}, not PET (PT)")
    else:
        pets = [s for s in series if s.modality == "PT" and _is_volume(s)]
        flat = [s for s in series if s.modality == "PT" and not _is_volume(s)]
        if not pets and flat:
            raise StudyError(
                f"the PET series here are single images or localisers (2D), not volumes:\n  {_listing(flat)}\n"
                "a PET/CT study needs the whole axial PET series"
            )
        if not pets:
            found = ", ".join(sorted({s.modality for s in series})) or "nothing"
            raise StudyError(
                f"no PET series (Modality PT) in this folder (found: {found}); "
                "choose the folder that holds the PET images"
            )
        corrected = [s for s in pets if s.attenuation_corrected]
        if len(pets) > 1 and corrected:
            pets = corrected
        patients = sorted({s.patient_id for s in pets if s.patient_id})
        if len(patients) > 1:
            raise StudyError(
                f"{len(pets)} PET series of {len(patients)} patients found ({', '.join(patients[:6])}); "
                f"open one patient's folder, or choose with pet_series=UID:\n  {_listing(pets)}"
            )
        if len(pets) > 1:
            raise StudyError(
                f"{len(pets)} PET series found; choose one with pet_series=UID "
                f"(command line: --pet-series UID):\n  {_listing(pets)}"
            )
        pet = pets[0]

    if ct_series is not None and ct_series.lower() in NO_CT:
        notes.append("CT not loaded (PET only, as asked)")
        return pet, None, notes
    if ct_series:
        ct = _find(series, ct_series, "CT")
        if ct.modality != "CT":
            raise StudyError(f"series {ct_series} is {ct.modality}, not CT")
    else:
        cts = [s for s in series if s.modality == "CT" and _is_volume(s)]
        if not cts:
            notes.append("no CT series found: PET only (no anatomy underlay)")
            return pet, None, notes
        same_frame = [s for s in cts if s.frame_uid and s.frame_uid == pet.frame_uid]
        if not same_frame:
            raise StudyError(
                "the CT and the PET are not in the same frame of reference (FrameOfReferenceUID differs), "
                "so they would not overlay; open a PET/CT pair from one exam, or the PET alone with "
                f"ct_series='none' (--ct-series none). CT series found:\n  {_listing(cts)}"
            )
        same_study = [s for s in same_frame if s.study_uid == pet.study_uid] or same_frame
        if len(same_study) > 1:
            raise StudyError(
                f"{len(same_study)} CT series share the PET's frame of reference; choose one with "
                f"ct_series=UID (command line: --ct-series UID):\n  {_listing(same_study)}"
            )
        ct = same_study[0]
    _check_same_patient(pet, ct)
    if ct.frame_uid and pet.frame_uid and ct.frame_uid != pet.frame_uid:
        raise StudyError(
            f"CT {ct.uid} and PET {pet.uid} have different FrameOfReferenceUIDs; they would not overlay. "
            "Choose a CT of the same exam, or ct_series='none' for PET alone"
        )
    return pet, ct, notes


def _check_same_patient(pet: Series, ct: Series) -> None:
    if pet.patient_id and ct.patient_id and pet.patient_id != ct.patient_id:
        raise StudyError(
            f"the CT belongs to patient {ct.patient_id!r} and the PET to {pet.patient_id!r}; "
            "open the PET and the CT of the same patient"
        )
