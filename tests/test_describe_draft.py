"""Drafted sentences read like report sentences: the parser gets back the site, side and numbers."""

from __future__ import annotations

import pytest

from napari_petground.model.describe_vocab import entry_index, phrase_table, vocabulary
from napari_petground.model.draft import (
    DraftLine,
    draft_paragraph,
    draft_sentence,
    format_volume,
    lesion_noun,
)
from napari_petground.report.lexicon import COARSE_SITES, FINE_SITES, SITES
from napari_petground.report.parse import findings_in_sentence


def test_vocabulary_covers_the_lexicon_with_sides():
    entries = vocabulary()
    assert len(FINE_SITES) >= 120 and len(COARSE_SITES) >= 40
    for site in SITES:
        sides = sorted(e.side for e in entries if e.site == site.key)
        assert sides == ([] if site.group else ["left", "right"] if site.lateral else [""])
    phrases, owner = phrase_table(entries)
    assert "left external iliac lymph node" in phrases
    assert entries[owner[phrases.index("right obturator node")]].key == "right obturator_node"
    assert entries[owner[phrases.index("right obturator node")]].coarse == "internal_iliac_node"
    assert entry_index(entries, "hilar_node", "") is None  # a paired site needs its side
    assert entries[entry_index(entries, "spleen", "left")].side == ""  # an unpaired site ignores a side
    assert entry_index(entries, "liver", "") is None  # a grouping of sub-sites is not a fine answer


def test_the_example_sentence():
    sentence = draft_sentence("external_iliac_node", "left", 8.84, 258, 2.08, "FDG")
    assert sentence == "Hypermetabolic left external iliac lymph node, SUVmax 8.8 (image 258), 2.1 ml."


@pytest.mark.parametrize("entry", vocabulary(), ids=lambda e: e.key)
def test_every_drafted_sentence_parses_back(entry):
    sentence = draft_sentence(entry.site, entry.side, 7.26, 143, 0.42, "PSMA")
    found = findings_in_sentence(sentence)
    assert len(found) == 1, sentence
    f = found[0]
    assert (f.site, f.suvmax, f.slice) == (entry.site, 7.3, 143), sentence
    # an unpaired site may name a side in its own noun ("right middle lobe nodule")
    expected_side = entry.side or next((w for w in ("left", "right") if w in lesion_noun(entry.site).split()), "")
    assert f.laterality == expected_side, sentence


def test_unknown_parts_are_left_out():
    assert draft_sentence("", "", None, None, None) == "Hypermetabolic lesion."
    assert draft_sentence("liver", "left", 4.0, None, 12.0, "DOTATATE") == "DOTATATE-avid hepatic lesion, SUVmax 4.0, 12.0 ml."
    assert lesion_noun("rib", "right") == "right rib lesion"
    assert format_volume(0.4) == "0.40 ml"


def test_paragraph_runs_head_to_feet():
    lines = [DraftLine("Pelvic node.", -300.0, 1), DraftLine("Neck node.", 200.0, 2), DraftLine("Liver.", 0.0, 3)]
    assert draft_paragraph(lines) == "Neck node. Liver. Pelvic node."
