"""SUVbw factors from DICOM tags, checked against numbers computed by hand."""

from __future__ import annotations

import pytest
from pydicom.dataset import Dataset

from napari_petground.errors import SuvError
from napari_petground.study.suv import normalise_tracer, suv_bw_factor, suv_conversion, tracer_name


def pet_header(units="BQML", decay="ADMIN", weight="70", dose="370000000", half_life="6600",
               series_time="110000", injection_time="100000", injection_datetime=None, date="20240102",
               acquisition_time=None, tracer="FDG -- fluorodeoxyglucose") -> Dataset:
    ds = Dataset()
    ds.Modality = "PT"
    ds.Units = units
    ds.DecayCorrection = decay
    if weight is not None:
        ds.PatientWeight = weight
    ds.SeriesDate = ds.AcquisitionDate = date
    ds.SeriesTime = series_time
    ds.AcquisitionTime = acquisition_time or series_time
    item = Dataset()
    item.Radiopharmaceutical = tracer
    if dose is not None:
        item.RadionuclideTotalDose = dose
    if half_life is not None:
        item.RadionuclideHalfLife = half_life
    if injection_time is not None:
        item.RadiopharmaceuticalStartTime = injection_time
    if injection_datetime is not None:
        item.RadiopharmaceuticalStartDateTime = injection_datetime
    ds.RadiopharmaceuticalInformationSequence = [item]
    return ds


def test_bqml_admin_uses_the_injected_dose():
    # 70 kg = 70 000 g over 370 MBq, no decay (values corrected to the administration time)
    assert suv_bw_factor(pet_header(decay="ADMIN")) == pytest.approx(70_000 / 370e6, rel=1e-9)
    assert suv_bw_factor(pet_header(decay="ADMIN")) == pytest.approx(1.891892e-4, rel=1e-6)


def test_bqml_start_decays_the_dose_to_the_series_start():
    # 400 MBq injected at 10:00, series starts 11:00 -> 3600 s, half-life 6600 s:
    # dose at start = 400e6 * 0.5 ** (3600 / 6600) = 274.07 MBq; factor = 80 000 g / that = 2.91896e-4
    ds = pet_header(decay="START", weight="80", dose="400000000")
    assert suv_bw_factor(ds) == pytest.approx(2.918960e-4, rel=1e-6)


def test_bqml_none_decays_the_dose_to_each_image_acquisition():
    # no decay correction: the dose is decayed to this slice's acquisition at 11:30 -> 5400 s
    ds = pet_header(decay="NONE", weight="80", dose="400000000", series_time="110000", acquisition_time="113000")
    assert suv_bw_factor(ds) == pytest.approx(3.526365e-4, rel=1e-6)


def test_injection_time_only_before_midnight_scan_after_midnight():
    # injected 23:30 on Jan 1st, series at 00:30 on Jan 2nd: 3600 s, not -23 h
    ds = pet_header(decay="START", weight="80", dose="400000000", injection_time="233000", series_time="003000",
                    date="20240102")
    conversion = suv_conversion(ds)
    assert conversion.uptake_s == pytest.approx(3600.0)
    assert conversion.factor == pytest.approx(2.918960e-4, rel=1e-6)
    assert any("midnight" in note for note in conversion.notes)


def test_injection_datetime_is_preferred_over_time():
    ds = pet_header(decay="START", weight="60", dose="300000000", half_life="6586.2", injection_time="000000",
                    injection_datetime="20240101233000", series_time="003000", date="20240102")
    assert suv_conversion(ds).uptake_s == pytest.approx(3600.0)
    assert suv_bw_factor(ds) == pytest.approx(2.921273e-4, rel=1e-6)


def test_gml_is_already_suv():
    assert suv_bw_factor(pet_header(units="GML", weight=None, dose=None)) == 1.0


def test_philips_counts_use_the_private_suv_scale_factor():
    ds = pet_header(units="CNTS")
    ds.private_block(0x7053, "Philips PET Private Group", create=True).add_new(0x00, "DS", "0.000437")
    assert suv_bw_factor(ds) == pytest.approx(0.000437)


def test_philips_counts_without_scale_factor_name_the_tag():
    with pytest.raises(SuvError, match=r"7053,1000"):
        suv_bw_factor(pet_header(units="CNTS"))


def test_missing_weight_names_patient_weight():
    with pytest.raises(SuvError, match="PatientWeight"):
        suv_bw_factor(pet_header(weight=None))
    with pytest.raises(SuvError, match="PatientWeight"):
        suv_bw_factor(pet_header(weight="0"))


@pytest.mark.parametrize(
    ("changes", "tag"),
    [
        ({"dose": "370"}, "RadionuclideTotalDose"),  # MBq written where Bq belongs
        ({"dose": None}, "RadionuclideTotalDose"),
        ({"decay": "START", "half_life": None}, "RadionuclideHalfLife"),
        ({"decay": "START", "injection_time": None}, "RadiopharmaceuticalStartTime"),
        ({"decay": "START", "injection_datetime": "20240105100000"}, "RadiopharmaceuticalStartDateTime"),
        ({"units": "PROPCPS"}, "Units"),
        ({"decay": "WHATEVER"}, "DecayCorrection"),
        ({"weight": "7000"}, "PatientWeight"),
    ],
)
def test_absurd_or_missing_tags_raise_naming_the_tag(changes, tag):
    with pytest.raises(SuvError, match=tag):
        suv_bw_factor(pet_header(**changes))


def test_missing_radiopharmaceutical_sequence_is_named():
    ds = pet_header()
    del ds.RadiopharmaceuticalInformationSequence
    with pytest.raises(SuvError, match="RadiopharmaceuticalInformationSequence"):
        suv_bw_factor(ds)


def test_tracer_is_normalised_with_the_lexicon():
    assert tracer_name(pet_header(tracer="FDG -- fluorodeoxyglucose")) == "FDG"
    assert tracer_name(pet_header(tracer="Ga-68 DOTATATE")) == "DOTATATE"
    assert tracer_name(pet_header(tracer="Pylarify")) == "PSMA"
    assert normalise_tracer("Fluciclovine (Axumin)") == "FLUCICLOVINE"
    assert normalise_tracer("Rubidium-82") == ""
