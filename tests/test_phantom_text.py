"""Phantom report text: phrasings parse back to the truth, negatives never deny a present lesion."""

from __future__ import annotations

import numpy as np
import pytest

from napari_petground.phantom import lesion_sentence, make_phantom
from napari_petground.report import extract_findings


@pytest.fixture(scope="module")
def phantoms():
    return [make_phantom(seed, tracer=t, resolution_mm=10.0)
            for seed, t in zip(range(30, 42), ["FDG", "PSMA", "DOTATATE", "FLUCICLOVINE"] * 3, strict=True)]


def test_whole_reports_parse_to_the_stated_numbers(phantoms):
    checked = 0
    for ph in phantoms:
        findings = extract_findings(ph.report)
        for s in ph.sentences:
            if s.kind not in ("numbers", "prior"):
                continue
            # the finding's sentence holds ours (a section header may be glued to it by the splitter)
            found = [f for f in findings
                     if f.sentence_start <= s.start < f.sentence_start + len(f.sentence) and s.text in f.sentence]
            assert len(found) == 1, s.text
            f = found[0]
            les = ph.lesion(s.lesion_id)
            assert (f.suvmax, f.slice, f.prior_suvmax) == (s.suvmax, s.image_number, s.prior_suvmax), s.text
            assert f.site == les.site, s.text
            if les.laterality:
                assert f.laterality == les.laterality, s.text
            checked += 1
    assert checked >= 15


def test_sentences_without_numbers_have_none(phantoms):
    for ph in phantoms:
        for s in ph.sentences:
            if s.kind in ("no_numbers", "negative", "physiologic"):
                assert all(f.suvmax is None or f.slice is None for f in extract_findings(s.text)), s.text


def test_negatives_do_not_deny_present_lesions(phantoms):
    for ph in phantoms:
        sites = {les.site for les in ph.lesions}
        for s in ph.sentences:
            if s.kind == "negative" and "pulmonary nodules" in s.text:
                assert not sites & {"lung_upper_lobe", "lung_middle_lobe", "lung_lower_lobe"}
            if s.kind == "negative" and "osseous" in s.text:
                assert not sites & {"vertebra", "rib", "iliac_bone", "sacrum", "femur"}


def test_every_lesion_is_described_and_reference_values_are_marked(phantoms):
    for ph in phantoms:
        described = {i for s in ph.sentences for i in s.lesion_ids}
        assert described >= {les.id for les in ph.lesions}
        refs = [s for s in ph.sentences if s.kind == "reference"]
        assert refs and all(s.lesion_id is None for s in refs)


def test_lesion_sentence_variants(phantoms):
    rng = np.random.default_rng(0)
    les = phantoms[0].lesions[0]
    texts = {lesion_sentence(les, rng, with_numbers=True) for _ in range(40)}
    assert len(texts) > 15  # many phrasings
    for text in texts:
        (f,) = extract_findings(text)
        assert f.suvmax == round(les.suvmax, 1) and f.slice == les.image_number
        assert f.site == les.site
    bare = lesion_sentence(les, rng, with_numbers=False)
    assert f"{les.suvmax:.1f}" not in bare and str(les.image_number) not in bare.split()
