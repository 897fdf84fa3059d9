"""The words check the answer (model.recheck): an answer from words alone that plainly looks like another site
is replaced by uptake that looks like the stated one, or withdrawn."""

from __future__ import annotations

import numpy as np
import pytest

from napari_petground.model.describe import Description
from napari_petground.model.recheck import (
    AGREES,
    ELSEWHERE,
    MAX_SPOTS,
    NEIGHBOUR,
    SUBSITE,
    disagreement,
    fit_level,
    hot_spots,
)
from napari_petground.report import extract_findings


def _description(site: str, side: str, probabilities: dict[str, float]) -> Description:
    return Description(site=site, side=side, sentence="", suvmax=5.0, image_number=1, volume_ml=1.0,
                       peak_index=(0, 0, 0), centroid_mm=(0.0, 0.0, 0.0), body_side=side,
                       site_probabilities=probabilities)


def test_only_a_plain_disagreement_reopens_the_answer():
    finding = extract_findings("Intensely FDG-avid right supraclavicular lymph node.")[0]
    assert finding.site == "supraclavicular_node" and finding.laterality == "right"
    # another station, the stated one nearly excluded: looked for elsewhere
    assert disagreement(finding, _description("kidney", "right", {"kidney": 0.9, "supraclavicular_node": 0.01})) \
        == ELSEWHERE
    # a neighbouring station the head still gives 30 %: kept, the ⚠ says so
    assert disagreement(finding, _description("cervical_level_4", "right",
                                              {"cervical_level_4": 0.6, "supraclavicular_node": 0.3})) == ""
    # the stated site on the other side
    assert disagreement(finding, _description("supraclavicular_node", "left", {"supraclavicular_node": 0.9})) \
        == ELSEWHERE
    # agreeing, or a body that cannot be placed: kept
    assert disagreement(finding, _description("supraclavicular_node", "right", {"supraclavicular_node": 0.9})) == ""
    assert disagreement(finding, _description("", "", {})) == ""
    assert disagreement(finding, None) == ""
    # another level of the stated bone: only the network's other regions are looked at, nothing is withdrawn
    t9 = extract_findings("Low-grade DOTATATE-avid T9 vertebral lesion.")[0]
    assert t9.site == "vertebra_t9"
    assert disagreement(t9, _description("vertebra_t4", "", {"vertebra_t4": 0.9, "vertebra_t9": 0.0})) == SUBSITE


def test_another_part_of_the_stated_site_on_its_side_is_a_neighbour_not_a_match():
    """Hot spots are taken first when they look like the stated site; failing that, when they look like another
    part of the same organ, bone or station on the stated side (the head's weakest level)."""
    ilium = extract_findings("PSMA-avid focus in the left supra-acetabular ilium.")[0]
    assert ilium.site == "ilium" and ilium.laterality == "left"
    assert fit_level(ilium, _description("ilium", "left", {"ilium": 0.8})) == AGREES
    assert fit_level(ilium, _description("acetabulum", "left", {"acetabulum": 0.9, "ilium": 0.01})) == NEIGHBOUR
    assert fit_level(ilium, _description("acetabulum", "right", {"acetabulum": 0.9})) == 0  # the other side
    assert fit_level(ilium, _description("proximal_femur", "left", {"proximal_femur": 0.9})) == 0  # another bone
    assert fit_level(ilium, _description("", "left", {})) == 0 and fit_level(ilium, None) == 0
    node = extract_findings("Intensely FDG-avid right periaortic node.")[0]
    assert fit_level(node, _description("aortocaval_node", "right", {"aortocaval_node": 0.9})) == NEIGHBOUR
    # no stated side: another part of an unpaired organ may be another lesion (a second liver metastasis)
    segment = extract_findings("DOTATATE-avid segment III hepatic lesion.")[0]
    assert segment.laterality not in ("left", "right")
    assert fit_level(segment, _description("liver_segment_6", "right", {"liver_segment_6": 0.9})) == 0


def test_hot_spots_are_distinct_stand_out_and_follow_the_prior():
    rng = np.random.default_rng(0)
    pet = (1.0 + 0.05 * rng.standard_normal((40, 40, 40))).astype(np.float32)
    pet[8:13, 8:13, 8:13] = 6.0  # a plateau lesion: many equal local maxima, one spot
    pet[10, 10, 10] = 6.2
    pet[30, 30, 30] = 4.0  # a small one where the prior points
    pet[20, 30, 10] = 1.6  # a ripple that does not stand out (under twice the SUV around it)
    weights = np.zeros(pet.shape, np.float32)
    weights[25:35, 25:35, 25:35] = 1.0
    spots = [peak for peak, _ in hot_spots(pet, weights)]
    assert spots[0] == (30, 30, 30)  # SUV 4 x (1 + floor) before SUV 6.2 x floor
    assert spots.count((10, 10, 10)) == 1 and len([s for s in spots if all(8 <= v < 13 for v in s)]) == 1
    assert (20, 30, 10) not in spots
    assert len(spots) <= MAX_SPOTS


@pytest.fixture(scope="module")
def demo_grounder():
    """The shipped demo checkpoint, loaded once for the phantom cases below."""
    pytest.importorskip("torch")
    from napari_petground.model import Grounder

    return Grounder.from_checkpoint(None, device="cpu")


def _phantom_sentence(seed: int, tracer: str, field: str, words: str):
    """(session, sentence, lesion mask, all lesion masks) of a fresh version-1 phantom's sentence holding
    ``words``."""
    from napari_petground.model.evaluate import phantom_cases
    from napari_petground.session import StudySession

    case = next(phantom_cases(1, seed, (tracer,), field=field))
    text, key, _ = next(s for s in case.sentences if words in s[0])
    return StudySession(case.study), text, case.masks[key], case.masks


def _depth_on(result, lesion, study) -> bool:
    """Does the result's depth (the strip's estimate, ``depth_mm``) fall within the lesion's slices?"""
    from napari_petground.model.depth import pet_z_mm

    z = pet_z_mm(study)[np.flatnonzero(lesion.any(axis=(1, 2)))]
    step = float(study.pet.spacing[0])
    return result.depth is not None and z.min() - step <= result.depth.estimate_mm() <= z.max() + step


def _only_on(mask, lesion, masks) -> bool:
    """Does ``mask`` touch ``lesion`` and no other lesion of ``masks``?"""
    return bool((mask & lesion).any()) and not any((mask & m).any() for m in masks.values() if m is not lesion)


@pytest.mark.slow
def test_a_guess_in_another_organ_gives_way_to_the_lesion_that_looks_like_the_stated_site(demo_grounder):
    """Fresh phantom 92015 (version 1, DOTATATE), "left supra-acetabular ilium", no numbers: the network has no
    region, the uptake where the location prior points is in the descending colon; the describe head says so,
    and the hottest spot that looks like a left iliac bone lesion is the described metastasis."""
    session, text, lesion, masks = _phantom_sentence(92015, "DOTATATE", "neck_to_thighs",
                                                     "left supra-acetabular ilium")
    result = demo_grounder.ground(session, text)
    assert result.method == "words + uptake", result.flags
    assert _only_on(result.mask, lesion, masks)
    assert _depth_on(result, lesion, session.study), result.depth.estimate_mm()
    assert result.consistency is not None and result.consistency[0], result.consistency
    assert any(f.startswith("low confidence") and "looks like the stated site and side" in f
               for f in result.flags), result.flags
    # with the numbers, the sentence's own SUVmax picks the lesion: the site check does not reopen it
    numbered = demo_grounder.ground(session, text.rstrip(".") + ", SUVmax 23.6.")
    assert numbered.method != "words + uptake" and (numbered.mask & lesion).any()


@pytest.mark.slow
def test_when_nothing_where_the_words_point_stands_out_the_hot_spot_that_looks_like_the_site_is_found(demo_grounder):
    """Fresh phantom 92000 (version 1, FDG), "intensely FDG-avid focus in the liver", no numbers: the network has
    no region, and the hottest uptake where the prior points is a one-voxel ripple of the liver that does not
    stand out once grown (it was offered before, a wrong mask). Nothing is guessed there; the hot spot that
    looks like a liver lesion is the described metastasis, flagged as found without a guess."""
    session, text, lesion, masks = _phantom_sentence(92000, "FDG", "neck_to_thighs", "focus in the liver")
    result = demo_grounder.ground(session, text)
    assert result.method == "words + uptake", result.flags
    assert _only_on(result.mask, lesion, masks) and result.mask.sum() > 100
    assert any(f.startswith("low confidence: nothing where the sentence points stands out as a lesion")
               and "looks like the stated site and side" in f for f in result.flags), result.flags


@pytest.mark.slow
def test_a_confident_region_at_another_level_gives_way_to_the_networks_region_at_the_stated_one(demo_grounder):
    """Fresh phantom 92011 (version 1, DOTATATE), "T9 vertebral lesion", no numbers: the network's most
    confident region is a T4 lesion; its second region, also above 0.5, looks like T9 and is the lesion."""
    session, text, lesion, _ = _phantom_sentence(92011, "DOTATATE", "neck_to_thighs", "T9 vertebral")
    result = demo_grounder.ground(session, text)
    assert result.method == "network (the region the words fit)", result.flags
    assert (result.mask & lesion).any()
    assert _depth_on(result, lesion, session.study), result.depth.estimate_mm()  # T9's level, not T4's
    assert result.consistency is not None and result.consistency[0], result.consistency
    assert not any(f.startswith("low confidence") for f in result.flags), result.flags


@pytest.mark.slow
def test_a_lesion_the_head_calls_a_neighbouring_station_on_the_stated_side_is_found_and_flagged(demo_grounder):
    """Fresh phantom 92008 (version 1, FDG, neck to thighs), "right periaortic node", no numbers: the guess
    looks like a palatine tonsil and no hot spot looks like a para-aortic node; the described node looks like
    an aortocaval node (another station of the same group, on the stated side) and is shown, with the ⚠
    saying so."""
    session, text, lesion, masks = _phantom_sentence(92008, "FDG", "neck_to_thighs", "right periaortic node")
    result = demo_grounder.ground(session, text)
    assert result.method == "words + uptake", result.flags
    assert _only_on(result.mask, lesion, masks)
    assert any("another part of the stated organ, bone or station, on the stated side" in f
               for f in result.flags), result.flags
    assert result.consistency is not None and not result.consistency[0]
    assert "aortocaval" in result.consistency[1]
