"""Sites only one sex has: a lesion in a man is never described as ovarian, nor one in a woman as prostatic."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from napari_petground.model.describe_train import gate_by_sex
from napari_petground.model.describe_vocab import VocabEntry
from napari_petground.report.lexicon import SITE_BY_KEY, load_vocabulary

ENTRIES = (VocabEntry("prostate", ""), VocabEntry("ovary", "left"), VocabEntry("cervix", ""),
           VocabEntry("testis", "right"), VocabEntry("liver", ""))


def test_the_vocabulary_marks_the_sites_one_sex_has_and_sub_sites_inherit_it():
    assert {k for k, s in SITE_BY_KEY.items() if s.sex == "M"} == {"prostate", "seminal_vesicle", "testis"}
    assert {k for k, s in SITE_BY_KEY.items() if s.sex == "F"} == {"uterus", "uterine_corpus", "cervix", "vagina",
                                                                   "ovary"}


def test_a_sex_other_than_m_or_f_in_the_vocabulary_is_refused():
    from importlib import resources

    text = resources.files("napari_petground.report").joinpath("vocabulary.json").read_text(encoding="utf-8")
    assert '"sex": "M"' in text
    with pytest.raises(ValueError, match="prostate.*'M' or 'F'"):
        load_vocabulary(text.replace('"sex": "M"', '"sex": "male"', 1))


def test_the_other_sexs_sites_get_nothing_and_the_rest_is_renormalised():
    probs = np.array([0.4, 0.2, 0.1, 0.1, 0.2])
    man = gate_by_sex(probs, ENTRIES, "M")
    np.testing.assert_allclose(man, [0.4 / 0.7, 0, 0, 0.1 / 0.7, 0.2 / 0.7])
    woman = gate_by_sex(probs, ENTRIES, " f ")  # as a DICOM string may hold it
    np.testing.assert_allclose(woman, [0, 0.2 / 0.5, 0.1 / 0.5, 0, 0.2 / 0.5])


@pytest.mark.parametrize("sex", ["", "O", "unknown"])
def test_without_a_recorded_sex_nothing_is_ruled_out(sex):
    probs = np.array([0.4, 0.2, 0.1, 0.1, 0.2])
    assert gate_by_sex(probs, ENTRIES, sex) is probs


def test_when_only_the_other_sexs_sites_had_probability_the_answer_is_left_as_it_was():
    probs = np.array([0.0, 0.7, 0.3, 0.0, 0.0])
    np.testing.assert_array_equal(gate_by_sex(probs, ENTRIES, "M"), probs)


def test_a_prostate_lesion_in_a_study_recorded_as_a_womans_is_not_called_prostate():
    """The shipped head names a PSMA phantom's prostate lesion; the same image with PatientSex F gets no site
    only men have, in the answer or in its alternatives, and its probabilities still sum to one."""
    from napari_petground.model.describe import Describer
    from napari_petground.phantom import make_phantom

    phantom = make_phantom(3, tracer="PSMA", version=2, resolution_mm=5.0)
    assert phantom.study.patient.sex == "M"
    lesion = next(les for les in phantom.lesions if les.site == "prostate")
    mask = phantom.lesion_labels == lesion.id
    describer = Describer.from_checkpoint()
    assert describer.describe(phantom.study, mask).site == "prostate"

    woman = replace(phantom.study, patient=replace(phantom.study.patient, sex="F"))
    scores = describer.site_scores(woman, mask, "")
    assert all(SITE_BY_KEY[s.site].sex != "M" for s in scores)
    assert sum(s.score for s in scores) == pytest.approx(1.0)
    description = describer.describe(woman, mask)
    assert SITE_BY_KEY[description.site].sex != "M"
    assert all(SITE_BY_KEY[a.site].sex != "M" for a in description.alternatives)
