"""Version-2 phantoms: the anatomy of the whole vocabulary, lesions at its fine sites, reports in its words;
version 1 (the default) still gives the exams it always gave."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest

from napari_petground.phantom import make_phantom
from napari_petground.phantom.sites2 import HELD, fine_at
from napari_petground.report import extract_findings
from napari_petground.report.lexicon import FINE_SITES, SITE_BY_KEY

TRACERS = ("FDG", "PSMA", "DOTATATE", "FLUCICLOVINE")


@pytest.fixture(scope="module")
def phantoms():
    return [make_phantom(seed, tracer=TRACERS[seed % 4], resolution_mm=8.0, n_lesions=6, version=2,
                         extent=("neck_to_thighs", "whole_body")[seed % 2]) for seed in range(500, 516)]


def test_version_1_exams_are_unchanged():
    """The default generator gives exactly the exams it gave before version 2 existed (trained checkpoints,
    benchmarks and tests rely on seeds)."""
    ph = make_phantom(7, tracer="PSMA", resolution_mm=10.0)
    digest = hashlib.sha256()
    for a in (ph.study.pet.data, ph.study.ct.data, ph.lesion_labels, ph.site_map):
        digest.update(np.ascontiguousarray(a).tobytes())
    assert "version" not in ph.options
    assert [les.site for les in ph.lesions] == V1_SITES
    assert hashlib.sha256(ph.report.encode()).hexdigest()[:16] == V1_REPORT
    assert digest.hexdigest()[:16] == V1_ARRAYS


def test_lesions_sit_at_their_fine_site(phantoms):
    levels_of = {}
    for ph in phantoms:
        levels_of = {k: tuple(v) for k, v in ph.options["vertebral_levels"].items()}
        for les in ph.lesions:
            assert les.site in HELD
            assert SITE_BY_KEY[les.site].fine
            grid = _grid(ph)
            assert fine_at(ph.site_map, grid, les.center_mm, levels_of) == (les.site, les.laterality), les.site
            if les.laterality:
                assert (les.center_mm[2] < 0) == (les.laterality == "right")
    assert len({les.site for ph in phantoms for les in ph.lesions}) >= 40


def test_numbered_sentences_parse_to_the_fine_site_and_side(phantoms):
    checked = 0
    for ph in phantoms:
        findings = extract_findings(ph.report)
        for s in ph.sentences:
            if s.kind not in ("numbers", "prior"):
                continue
            found = [f for f in findings
                     if f.sentence_start <= s.start < f.sentence_start + len(f.sentence) and s.text in f.sentence]
            assert len(found) == 1, s.text
            les = ph.lesion(s.lesion_id)
            assert (found[0].suvmax, found[0].slice) == (s.suvmax, s.image_number), s.text
            assert found[0].site == les.site, s.text
            if les.laterality:
                assert found[0].laterality == les.laterality, s.text
            checked += 1
    assert checked >= 40


def test_negatives_never_deny_a_present_lesion(phantoms):
    for ph in phantoms:
        for s in ph.sentences:
            if s.kind == "negative":
                for f in extract_findings(s.text):
                    assert f.suvmax is None
        regions = {les.region for les in ph.lesions}
        text = ph.report.lower()
        if "bone" in regions:
            assert "no suspicious osseous" not in text and "avid osseous lesions" not in text
        if "soft_tissue" in regions:
            assert "no suspicious soft tissue" not in text


def test_the_docs_list_the_sites_a_phantom_cannot_hold():
    doc = (Path(__file__).parents[1] / "docs" / "phantoms.md").read_text(encoding="utf-8")
    section = doc.split("### Sites a phantom cannot hold", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"`([a-z0-9_]+)`", section))
    assert listed == {s.key for s in FINE_SITES} - set(HELD)


def _grid(ph):
    from napari_petground.phantom.shapes import Grid

    pet = ph.study.pet
    return Grid(tuple(pet.shape), tuple(pet.spacing), tuple(pet.origin))


V1_SITES = ["rib", "rib", "liver"]
V1_REPORT = "50ce4fa014875325"
V1_ARRAYS = "f3800189719e3f4e"
