"""PET stored values -> SUV body weight, from the DICOM tags of one PET image.

SUVbw = activity concentration (Bq/ml) * body weight (g) / injected dose decayed to the time the values are
corrected to (Bq). The factor returned multiplies the value *after* Rescale Slope/Intercept, so a reader
applies it slice by slice together with that slice's own slope. Follows the QIBA vendor-neutral SUV recipe:

- Units ``GML``: already SUVbw (factor 1).
- Units ``BQML``: DecayCorrection ``ADMIN`` -> dose as injected; ``START`` -> dose decayed to the series start;
  ``NONE`` -> dose decayed to this image's acquisition time (so the factor varies by slice).
- Units ``CNTS`` (Philips): the private SUV Scale Factor (7053,1000).

Every missing or absurd tag raises ``SuvError`` naming the tag, so nothing pretends to be SUV. So does an
image that is not attenuation-corrected (CorrectedImage (0028,0051) given without ATTN): its values are not
activity concentrations, whatever its Units say.

The converted values are checked too (``check_suv_values``): no tracer reaches an SUVmax of ``MAX_SUV``
(1000). The hottest real uptake (urine in the bladder or kidneys, some PSMA and DOTATATE lesions) stays
within a few hundred, while a series in Bq/ml always peaks far above 1000: SUV 1 is the injected dose over
the body weight, at least about 300 Bq/ml for any clinical dose and patient, and every scan holds uptake of
several SUV. So a maximum above 1000 means the Units tag (GML in Bq/ml data) or the dose, weight or times are
wrong, and the values are not called SUV. A series with no positive value holds no uptake at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from ..errors import SuvError
from ..report.lexicon import TRACERS

PHILIPS_SUV_SCALE = (0x7053, 0x1000)
PHILIPS_ACTIVITY_SCALE = (0x7053, 0x1009)

# plausibility limits: outside them a tag is taken as wrong rather than converted silently
WEIGHT_KG = (1.0, 400.0)
DOSE_BQ = (1.0e6, 5.0e10)  # 1 MBq .. 50 GBq (a value in MBq by mistake falls below)
HALF_LIFE_S = (60.0, 1.0e7)
UPTAKE_S = (0.0, 24 * 3600.0)
MAX_SUV = 1000.0  # no uptake comes near it; Bq/ml data always exceed it (see the module notes)


@dataclass(frozen=True)
class SuvConversion:
    """How one PET image's rescaled values become SUVbw."""

    factor: float
    units: str
    decay_correction: str
    weight_kg: float | None
    dose_bq: float | None
    uptake_s: float | None  # injection -> reference time the dose was decayed to
    notes: tuple[str, ...] = ()


def suv_bw_factor(ds) -> float:
    """Factor turning this image's stored value after rescale into SUVbw; SuvError names a missing tag."""
    return suv_conversion(ds).factor


def suv_conversion(ds) -> SuvConversion:
    """The full conversion record for one PET dataset (factor, inputs, notes for the user)."""
    units = str(ds.get("Units", "") or "").strip().upper()
    decay = str(ds.get("DecayCorrection", "") or "").strip().upper()
    if not units:
        raise SuvError("PET has no Units (0054,1001); its values cannot be converted to SUV")
    corrected = _corrections(ds)
    if corrected and "ATTN" not in corrected:
        raise SuvError(
            f"PET is not attenuation-corrected (CorrectedImage (0028,0051) is {'/'.join(corrected)}, without "
            "ATTN), so its values are not activity concentrations and do not convert to SUV; open the "
            "attenuation-corrected PET series"
        )
    if units == "GML":
        return SuvConversion(1.0, units, decay, _weight_or_none(ds), None, None, ("values are already SUVbw",))
    if units == "CNTS":
        return _philips_counts(ds, decay)
    if units != "BQML":
        raise SuvError(f"PET Units (0054,1001) is {units!r}; only BQML, GML and Philips CNTS convert to SUV")
    return _bqml(ds, decay, activity_scale=1.0)


def _corrections(ds) -> list[str]:
    try:
        value = ds.get("CorrectedImage", None) or []
    except Exception:  # a malformed value: as if absent (many exports leave it out)
        return []
    values = [value] if isinstance(value, str) else list(value)
    return [str(v).strip().upper() for v in values if str(v).strip()]


def check_suv_values(data, units: str) -> None:
    """SuvError when converted values cannot be SUV: a maximum above MAX_SUV, or nothing above 0."""
    import numpy as np

    finite = data[np.isfinite(data)]
    peak = float(finite.max()) if finite.size else 0.0
    if peak <= 0:
        raise SuvError("PET holds no value above 0 (an empty or broken series); there is no uptake to express "
                       "as SUV. Re-export the series")
    if peak > MAX_SUV:
        cause = ("the values look like Bq/ml although Units (0054,1001) says GML (SUV); re-export the series "
                 "in BQML with the patient's weight and the injected dose" if units == "GML" else
                 "the injected dose, weight or times in the header are probably wrong; check them")
        raise SuvError(f"PET values would reach SUV {peak:,.0f}, far above any uptake (no tracer comes near "
                       f"{MAX_SUV:,.0f}): {cause}")


def _bqml(ds, decay: str, activity_scale: float, extra_notes: tuple[str, ...] = ()) -> SuvConversion:
    weight_kg = _weight(ds)
    info = _radiopharmaceutical(ds)
    dose = _positive(info, "RadionuclideTotalDose", "(0018,1074)", DOSE_BQ, "Bq")
    notes = list(extra_notes)
    if decay == "ADMIN":
        uptake = 0.0
    elif decay in ("START", "NONE"):
        half_life = _positive(info, "RadionuclideHalfLife", "(0018,1075)", HALF_LIFE_S, "s")
        injection = _injection_time(ds, info)
        reference = _series_start(ds) if decay == "START" else _acquisition_start(ds)
        uptake = _uptake_seconds(injection, reference)
        dose = dose * math.exp(-math.log(2.0) * uptake / half_life)
        if injection.crossed_midnight:
            notes.append("injection was on the day before the scan (times cross midnight)")
    else:
        raise SuvError(
            f"PET DecayCorrection (0054,1102) is {decay or 'missing'!r}; expected START, ADMIN or NONE"
        )
    factor = activity_scale * weight_kg * 1000.0 / dose
    return SuvConversion(factor, "BQML", decay, weight_kg, dose, uptake, tuple(notes))


def _philips_counts(ds, decay: str) -> SuvConversion:
    scale = _private_float(ds, PHILIPS_SUV_SCALE)
    if scale is not None and scale > 0:
        return SuvConversion(
            scale, "CNTS", decay, _weight_or_none(ds), None, None, ("Philips SUV Scale Factor (7053,1000)",)
        )
    activity = _private_float(ds, PHILIPS_ACTIVITY_SCALE)
    if activity is not None and activity > 0:  # counts -> Bq/ml, then the BQML recipe
        return _bqml(ds, decay, activity, ("Philips Activity Concentration Scale Factor (7053,1009)",))
    raise SuvError(
        "PET Units are CNTS but the Philips SUV Scale Factor (7053,1000) is missing or zero; "
        "export the series in BQML or as SUV"
    )


def _private_float(ds, tag: tuple[int, int]) -> float | None:
    if tag not in ds:
        return None
    value = ds[tag].value
    if isinstance(value, bytes):  # implicit VR of an unknown private tag: DS text or binary double
        text = value.decode("ascii", "ignore").strip("\x00 ")
        try:
            return float(text)
        except ValueError:
            import struct

            return struct.unpack("<d", value[:8])[0] if len(value) >= 8 else None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _weight(ds) -> float:
    value = _weight_or_none(ds)
    if value is None:
        raise SuvError("PET has no PatientWeight (0010,1030); enter the weight in the DICOM or read PET in Bq/ml")
    if not WEIGHT_KG[0] <= value <= WEIGHT_KG[1]:
        raise SuvError(f"PatientWeight (0010,1030) of {value:g} kg is not plausible; correct it in the DICOM")
    return value


def _weight_or_none(ds) -> float | None:
    raw = ds.get("PatientWeight", None)
    try:
        value = float(raw) if raw not in (None, "") else None
    except (TypeError, ValueError):
        value = None
    return value if value else None


def _radiopharmaceutical(ds):
    seq = ds.get("RadiopharmaceuticalInformationSequence", None)
    if not seq:
        raise SuvError(
            "PET has no RadiopharmaceuticalInformationSequence (0054,0016): injected dose and time are unknown"
        )
    return seq[0]


def _positive(item, keyword: str, tag: str, limits: tuple[float, float], unit: str) -> float:
    raw = item.get(keyword, None)
    try:
        value = float(raw) if raw not in (None, "") else None
    except (TypeError, ValueError):
        value = None
    if value is None:
        raise SuvError(f"PET has no {keyword} {tag}; SUV cannot be computed")
    if not limits[0] <= value <= limits[1]:
        raise SuvError(f"{keyword} {tag} of {value:g} {unit} is not plausible; SUV cannot be computed")
    return value


@dataclass(frozen=True)
class _Injection:
    when: datetime
    crossed_midnight: bool = False


def _injection_time(ds, info) -> _Injection:
    """Injection moment: the DateTime when given, else the Time on the scan's date (day before if later)."""
    stamp = str(info.get("RadiopharmaceuticalStartDateTime", "") or "").strip()
    if stamp:
        parsed = _parse_datetime(stamp)
        if parsed is None:
            raise SuvError(f"RadiopharmaceuticalStartDateTime (0018,1078) {stamp!r} is not a DICOM date-time")
        return _Injection(parsed)
    clock = _parse_time(str(info.get("RadiopharmaceuticalStartTime", "") or ""))
    if clock is None:
        raise SuvError(
            "PET has neither RadiopharmaceuticalStartDateTime (0018,1078) nor RadiopharmaceuticalStartTime "
            "(0018,1072); the injection time is needed for decay correction"
        )
    reference = _series_start(ds)
    injected = datetime.combine(reference.date(), clock)
    if injected > reference:  # scan after midnight, injection the evening before
        return _Injection(injected - timedelta(days=1), crossed_midnight=True)
    return _Injection(injected)


def _uptake_seconds(injection: _Injection, reference: datetime) -> float:
    seconds = (reference - injection.when).total_seconds()
    if not UPTAKE_S[0] <= seconds <= UPTAKE_S[1]:
        raise SuvError(
            f"time from injection (RadiopharmaceuticalStartDateTime/Time, {injection.when:%Y-%m-%d %H:%M:%S}) "
            f"to the scan ({reference:%Y-%m-%d %H:%M:%S}) is {seconds / 3600:.1f} h, which is not plausible"
        )
    return seconds


def _series_start(ds) -> datetime:
    return _date_time(ds, ("SeriesDate", "AcquisitionDate", "StudyDate"), ("SeriesTime", "AcquisitionTime"),
                      "SeriesTime (0008,0031)")


def _acquisition_start(ds) -> datetime:
    return _date_time(ds, ("AcquisitionDate", "SeriesDate", "StudyDate"), ("AcquisitionTime", "SeriesTime"),
                      "AcquisitionTime (0008,0032)")


def _date_time(ds, date_keys: tuple[str, ...], time_keys: tuple[str, ...], name: str) -> datetime:
    day = next((d for d in (_parse_date(str(ds.get(k, "") or "")) for k in date_keys) if d), None)
    clock = next((t for t in (_parse_time(str(ds.get(k, "") or "")) for k in time_keys) if t), None)
    if clock is None:
        raise SuvError(f"PET has no {name}; the scan time is needed for decay correction")
    if day is None:
        raise SuvError(f"PET has no {date_keys[0]}; the scan date is needed for decay correction")
    return datetime.combine(day, clock)


def _parse_date(text: str) -> date | None:
    text = text.strip()
    try:
        return datetime.strptime(text[:8], "%Y%m%d").date() if len(text) >= 8 else None
    except ValueError:
        return None


def _parse_time(text: str) -> time | None:
    """DICOM TM 'HHMMSS.FFFFFF' (also 'HH:MM:SS' of old files) -> time."""
    text = text.strip().replace(":", "")
    if len(text) < 4 or not text[:2].isdigit():
        return None
    try:
        hours, minutes = int(text[0:2]), int(text[2:4])
        seconds = float(text[4:]) if len(text) > 4 else 0.0
        whole = int(seconds)
        return time(hours, minutes, whole, int(round((seconds - whole) * 1e6)) % 1_000_000)
    except ValueError:
        return None


def _parse_datetime(text: str) -> datetime | None:
    text = text.strip()
    for sign in "+-":  # drop a UTC offset suffix
        if sign in text[8:]:
            text = text[: 8 + text[8:].index(sign)]
    day = _parse_date(text[:8])
    clock = _parse_time(text[8:]) if len(text) > 8 else time(0, 0)
    return datetime.combine(day, clock) if day and clock else None


def tracer_name(ds) -> str:
    """Normalised tracer ('FDG', 'PSMA', ...) from the RadiopharmaceuticalInformationSequence, or ''."""
    seq = ds.get("RadiopharmaceuticalInformationSequence", None)
    if not seq:
        return ""
    item = seq[0]
    texts = [str(item.get("Radiopharmaceutical", "") or "")]
    for code in item.get("RadiopharmaceuticalCodeSequence", None) or []:
        texts.append(str(code.get("CodeMeaning", "") or ""))
    return normalise_tracer(" ".join(texts))


def normalise_tracer(text: str) -> str:
    lowered = text.lower()
    for key, synonyms in TRACERS.items():
        if key.lower() in lowered or any(s in lowered for s in synonyms):
            return key
    return ""
