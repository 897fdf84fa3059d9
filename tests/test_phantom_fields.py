"""Phantoms in other fields of view: the cut keeps whole lesions, their sentences and the exam's image numbers."""

from __future__ import annotations

import numpy as np
import pytest

from napari_petground.errors import PhantomError
from napari_petground.phantom import make_phantom
from napari_petground.phantom.fields import cut_phantom, field_window, phantom_in_field
from napari_petground.report import extract_findings


@pytest.fixture(scope="module")
def phantom():
    return make_phantom(3)


@pytest.mark.parametrize("field", ["chest", "abdomen_pelvis", "neck_chest"])
def test_a_cut_keeps_whole_lesions_their_sentences_and_image_numbers(phantom, field):
    from napari_petground.weaklabel import weak_label

    cut = cut_phantom(phantom, field)
    z0, z1 = field_window(phantom, field)
    pet = cut.study.pet
    assert z0 - pet.spacing[0] <= pet.origin[0] and pet.origin[0] + (pet.shape[0] - 1) * pet.spacing[0] <= z1 + 1
    assert cut.study.ct.shape == pet.shape and cut.lesion_labels.shape == pet.shape
    assert {les.id for les in cut.lesions} == set(np.unique(cut.lesion_labels[cut.lesion_labels > 0]).tolist())
    for les in cut.lesions:  # each kept lesion is whole: as many voxels as before the cut
        assert (cut.lesion_labels == les.id).sum() == (phantom.lesion_labels == les.id).sum()
        assert cut.lesion_labels[les.peak_index] == les.id
    numbered = [s for s in cut.sentences if s.kind == "numbers" and s.lesion_id is not None]
    assert numbered
    for s in numbered:  # a sentence's "image N" still points at its lesion in the cut exam
        label = weak_label(cut.study, extract_findings(s.text)[0])
        assert label.status == "matched" and (label.mask & (cut.lesion_labels == s.lesion_id)).any(), s.text


def test_a_cut_without_lesions_or_landmarks_is_refused(phantom):
    with pytest.raises(PhantomError, match="head_neck"):
        cut_phantom(phantom, "head_neck")
    with pytest.raises(PhantomError, match="not a cut"):
        cut_phantom(phantom, "legs")


def test_a_cut_needs_only_its_own_landmarks():
    """A chest cut of an exam whose pelvis is not seen (its own cut of the chest) still works."""
    chest = cut_phantom(make_phantom(3), "chest")
    again = cut_phantom(chest, "chest")
    assert again.lesions and again.study.pet.shape[0] <= chest.study.pet.shape[0]


def test_a_phantom_in_a_field_is_generated_then_cut():
    """Head and neck comes from a whole-body exam (a neck-to-thigh one starts below the skull base)."""
    head = phantom_in_field(5, "head_neck", tracer="FDG")
    assert head.options["field_of_view"] == "head_neck" and head.options["extent"] == "whole_body"
    assert phantom_in_field(5, "neck_to_thighs").study.pet.shape == make_phantom(5).study.pet.shape
    with pytest.raises(PhantomError, match="unknown"):
        phantom_in_field(5, "legs")
