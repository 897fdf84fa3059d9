"""The anatomical vocabulary (report/vocabulary.json) and how the parser reads it: every word of every site
and side, the longest word first, sub-sites named next to their site, negated clauses and lists."""

from __future__ import annotations

import json

import pytest

from napari_petground.report.lexicon import (
    COARSE_SITES,
    FINE_SITES,
    SITE_BY_KEY,
    SITES,
    Region,
    children,
    coarse_of,
    load_vocabulary,
    within,
)
from napari_petground.report.parse import findings_in_sentence

FIRST_LEXICON = (
    "cervical_node", "supraclavicular_node", "thyroid", "axillary_node", "mediastinal_node", "hilar_node",
    "lung_upper_lobe", "lung_middle_lobe", "lung_lower_lobe", "breast", "liver", "spleen", "pancreas", "adrenal",
    "kidney", "retroperitoneal_node", "mesenteric_node", "common_iliac_node", "external_iliac_node",
    "internal_iliac_node", "inguinal_node", "prostate", "vertebra", "rib", "iliac_bone", "sacrum", "femur",
)


def _one(sentence: str) -> tuple[str, str]:
    (f,) = findings_in_sentence(sentence)
    return f.site, f.laterality


def test_the_vocabulary_is_hierarchical_and_large():
    assert len(FINE_SITES) >= 120 and len(COARSE_SITES) >= 40
    assert {s.region for s in SITES} == set(Region)
    for s in SITES:
        if s.parent:
            assert SITE_BY_KEY[s.parent].parent == "" and s.region is not None
            assert s in children(s.parent) and coarse_of(s.key) == s.parent and within(s.key, s.parent)
        if s.group:
            assert children(s.key), s.key  # a grouping has sub-sites
    for key in FIRST_LEXICON:  # keys stored in datasets, findings sidecars and describe heads still load
        assert key in SITE_BY_KEY
    assert len([s for s in SITES if s.key.startswith("vertebra_")]) == 24
    assert len([s for s in SITES if s.key.startswith("rib_")]) == 12
    assert len([s for s in SITES if s.key.startswith("liver_segment_")]) == 8


def test_a_word_names_one_site_only():
    with pytest.raises(ValueError, match="names both"):
        load_vocabulary(json.dumps({"regions": {"chest": "chest"}, "sites": [
            {"key": "a", "region": "chest", "words": ["node x"]}, {"key": "b", "region": "chest", "words": ["node x"]}]}))


@pytest.mark.parametrize("site", SITES, ids=lambda s: s.key)
def test_every_word_of_every_site_and_side(site):
    """Each word, with the side when the site is paired, parses to that site and side."""
    for word in (*site.synonyms, *site.weak):
        if word.split()[0] in ("left", "right"):  # "right middle lobe": the word states its side
            assert _one(f"Intensely avid {word} with SUVmax 5.1 (image 100).") == (site.key, word.split()[0])
            continue
        for side in (("right", "left") if site.lateral else ("",)):
            text = f"Intensely avid {side} {word} with SUVmax 5.1 (image 100).".replace("  ", " ")
            assert _one(text) == (site.key, side), text
    for word, side in site.sided:
        assert _one(f"Hypermetabolic {word} focus, SUVmax 5.1, image 100.") == (site.key, side), word


@pytest.mark.parametrize("sub", [s for s in SITES if s.qualifiers], ids=lambda s: s.key)
def test_a_qualifier_names_the_sub_site_next_to_its_site(sub):
    parent = SITE_BY_KEY[sub.parent]
    side = "left " if parent.lateral and sub.lateral else ""
    for word in sub.qualifiers:
        text = f"Focus in the {word} of the {side}{parent.synonyms[0]}, SUVmax 4.2 (image 90)."
        assert _one(text)[0] == sub.key, text


def test_longest_word_wins():
    assert _one("Right lower paratracheal node SUVmax 4.1 image 70.") == ("lower_paratracheal_node", "right")
    assert _one("Para-aortic mediastinal node SUVmax 4.1 image 70.")[0] == "para_aortic_mediastinal_node"
    assert _one("Left para-aortic node SUVmax 4.1 image 170.") == ("para_aortic_node", "left")
    assert _one("Mass in the head of the pancreas, SUVmax 9.1, image 150.")[0] == "pancreas_head"
    assert _one("Base of tongue mass, SUVmax 12, image 30.")[0] == "base_of_tongue"
    assert _one("Gall bladder wall focus, SUVmax 3, image 130.")[0] == "gallbladder"


def test_abbreviations_and_levels():
    assert _one("RUL nodule SUVmax 3.1 image 40.") == ("lung_upper_lobe", "right")
    assert _one("LLL posterior basal segment nodule SUVmax 3.1 image 70.") == ("lung_lower_posterior_basal", "left")
    assert _one("Station 4L node SUVmax 4.1 image 70.") == ("lower_paratracheal_node", "left")
    assert _one("Lesion at T10, SUVmax 4.2 (image 88).")[0] == "vertebra_t10"
    assert _one("Sclerotic focus in L3, SUVmax 4.2 (image 188).")[0] == "vertebra_l3"
    assert _one("Vertebral body lesion at T10, SUVmax 4 (image 9).")[0] == "vertebra_t10"
    assert _one("Left para-aortic node at the level of L3, SUVmax 5.0 (image 200).") == ("para_aortic_node", "left")
    assert _one("Right 6th rib lesion SUVmax 3.3 image 90.") == ("rib_6", "right")
    assert _one("Distal oesophageal mass, SUVmax 11.2, image 120.")[0] == "esophagus_distal"
    assert _one("GEJ mass, SUVmax 11.2, image 130.")[0] == "gastroesophageal_junction"
    found = findings_in_sentence("L2 vertebral body: SUVmax 7.7 (image 206); L4: SUVmax 5.2 (image 221).")
    assert [f.site for f in found] == ["vertebra_l2", "vertebra_l4"]


def test_negated_clauses_and_lists():
    assert _one("No FDG-avid axillary nodes; right hilar node SUVmax 5.1, image 140.") == ("hilar_node", "right")
    assert _one("Right hilar node SUVmax 5.1 (image 140), no supraclavicular nodes.") == ("hilar_node", "right")
    assert _one("No change in the left axillary node, SUVmax 3.1, image 80.") == ("axillary_node", "left")
    assert findings_in_sentence("No FDG-avid axillary nodes.") == []
    found = findings_in_sentence("Left hilar and subcarinal nodes, SUVmax 6.1 and 5.2 respectively "
                                 "(images 130 and 135).")
    assert [(f.site, f.laterality) for f in found] == [("hilar_node", "left"), ("subcarinal_node", "")]
    found = findings_in_sentence("Left hilar and axillary nodes, SUVmax 6.1 and 5.2 respectively (images 130 and 95).")
    assert [(f.site, f.laterality) for f in found] == [("hilar_node", "left"), ("axillary_node", "left")]
    assert _one("Left hilar and subcarinal nodes, SUVmax 6.1 (image 130).") == ("hilar_node", "left")


def test_sub_site_wherever_it_stands():
    assert _one("Nodule in the apical segment of the right upper lobe, SUVmax 4.4, image 80.") == (
        "lung_upper_apical", "right")
    assert _one("Right upper lobe nodule, posterior segment, SUVmax 4.4, image 80.") == ("lung_upper_posterior", "right")
    assert _one("Mediastinal node in the subcarinal station, SUVmax 4.4, image 120.")[0] == "subcarinal_node"
    assert _one("Lesion in segment VII of the liver, SUVmax 8.4, image 102.")[0] == "liver_segment_7"
    assert _one("Lytic lesion of the left humeral head, SUVmax 6, image 30.") == ("proximal_humerus", "left")


def test_held_out_sentences_about_the_new_sites():
    """60 sentences written after the vocabulary was built (58 parsed right before any change for them)."""
    from pathlib import Path

    rows = [json.loads(line) for line in (Path(__file__).parent / "data" / "vocabulary_heldout.jsonl").read_text(
        encoding="utf-8").splitlines() if line.strip()]
    assert len(rows) == 60
    right = 0
    for row in rows:
        got = [(f.site, f.laterality) for f in findings_in_sentence(row["sentence"])]
        right += got == [(e["site"], e["laterality"]) for e in row["findings"]]
    assert right / len(rows) >= 0.95, f"{right}/{len(rows)}"


def test_a_site_word_that_is_a_qualifier_of_the_site_named_first():
    assert _one("Left axillary level II node with SUVmax 6.1 (image 110).") == ("axillary_level_2", "left")
    assert _one("Right sacral ala lesion at S1, SUVmax 6.2, image 276.") == ("sacrum_s1", "right")
