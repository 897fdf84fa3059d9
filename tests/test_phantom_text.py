"""Phantom report text: phrasings parse back to the truth, negatives never deny a present lesion."""

from __future__ import annotations

import numpy as np
import pytest

from napari_petground.phantom import lesion_sentence, make_phantom
from napari_petground.phantom.text import _ORDINALS
from napari_petground.report import extract_findings
from napari_petground.report.lexicon import within


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
            assert within(f.site, les.site), s.text  # the site, or the sub-site the sentence names
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
        assert within(f.site, les.site)
    bare = lesion_sentence(les, rng, with_numbers=False)
    assert f"{les.suvmax:.1f}" not in bare and str(les.image_number) not in bare.split()


def _siblings(ph):
    return [(a, b) for a in ph.lesions for b in ph.lesions
            if a.id < b.id and a.site == b.site and a.laterality == b.laterality]


def test_lesions_at_one_site_are_told_apart_by_their_words():
    """Two lesions of one exam at the same site and side: every sentence about either says which one it is
    (a sub-site such as the hepatic segment or vertebral level, or "the more cranial of two")."""
    pairs = 0
    rng = np.random.default_rng(3)
    for seed in range(100, 160):
        ph = make_phantom(seed, tracer=("FDG", "PSMA", "DOTATATE")[seed % 3], resolution_mm=10.0)
        for a, b in _siblings(ph):
            pairs += 1
            assert (a.subsite, a.qualifier) != (b.subsite, b.qualifier)
            for les in (a, b):
                texts = [s.text for s in ph.sentences if s.lesion_ids == [les.id]]
                texts += [lesion_sentence(les, rng, with_numbers=bool(k % 2)) for k in range(6)]
                for text in texts:
                    words = f"{_ORDINALS[les.subsite]} rib" if les.site == "rib" else les.subsite
                    words = words[:-2] if words.endswith("ar") else words  # "acetabular" or "acetabulum"
                    said = (words and words.lower() in text.lower()) or (les.qualifier and les.qualifier in text)
                    assert said, (les.site, les.subsite, les.qualifier, text)
            if a.subsite == b.subsite:  # told apart by height: the qualifier follows it
                group = sorted((les for les in ph.lesions if (les.site, les.laterality, les.subsite)
                                == (a.site, a.laterality, a.subsite)), key=lambda les: -les.center_mm[0])
                assert group[0].qualifier.startswith(("the more cranial", "the most cranial"))
                assert "caudal" in group[-1].qualifier
    assert pairs >= 10


def test_sub_site_words_are_true_of_the_position():
    """'upper pole' lies above 'lower pole', hepatic segment II/III left of segments V-VIII, a para-aortic node
    'at L3' within L3's height, 'iliac wing' above 'acetabular'."""
    from napari_petground.phantom.subsites import vertebral_level

    seen: dict[tuple[str, str], list] = {}
    for seed in range(200, 260):
        ph = make_phantom(seed, tracer=("FDG", "DOTATATE")[seed % 2], resolution_mm=10.0)
        levels = {k: tuple(v) for k, v in ph.options["vertebral_levels"].items()}
        for les in ph.lesions:
            if les.subsite:
                seen.setdefault((les.site, les.subsite), []).append(les.center_mm)
            if les.site == "retroperitoneal_node":
                assert les.subsite == vertebral_level(les.center_mm[0], levels)
    z = {key: np.mean([c[0] for c in v]) for key, v in seen.items()}
    x = {key: np.mean([c[2] for c in v]) for key, v in seen.items()}
    assert ("liver", "III") in x and ("liver", "VI") in x and x[("liver", "III")] > x[("liver", "VI")] + 40
    assert z[("liver", "VIII")] > z[("liver", "V")] and z[("liver", "VII")] > z[("liver", "VI")]
    assert z[("iliac_bone", "iliac wing")] > z[("iliac_bone", "acetabular")] + 30
    if ("kidney", "upper pole") in z and ("kidney", "lower pole") in z:
        assert z[("kidney", "upper pole")] > z[("kidney", "lower pole")] + 30
