"""The grounder says when a study lies outside what its checkpoint was trained on, and why."""

from __future__ import annotations

import pytest

from napari_petground.anatomy.frame import AnatomicalFrame
from napari_petground.model.applicability import applicability_flag, outside_training
from napari_petground.model.checkpoint import read_config, shipped_checkpoint
from napari_petground.phantom import make_phantom
from napari_petground.phantom.fields import cut_phantom


@pytest.fixture(scope="module")
def config():
    return read_config(shipped_checkpoint("demo"))


@pytest.fixture(scope="module")
def box_config(config):
    """A checkpoint like the earlier demo: positions relative to the image's box, neck-to-thigh 4 mm phantoms."""
    from copy import deepcopy
    from dataclasses import replace

    training = deepcopy(config.training)
    training["settings"]["extra"].update(variety=False, resolution_mm=4.0)
    return replace(config, preprocess=replace(config.preprocess, coord_frame="box"), training=training)


@pytest.fixture(scope="module")
def phantom():
    return make_phantom(3)


def frame_of(study) -> AnatomicalFrame:
    return AnatomicalFrame.of(study.ct, study.pet)


def test_an_exam_like_the_training_ones_is_inside(config, phantom):
    assert outside_training(config, phantom.study, frame_of(phantom.study)) == []


def test_a_chest_only_exam_is_outside_a_checkpoint_that_learned_neck_to_thigh_positions(box_config, phantom):
    chest = cut_phantom(phantom, "chest").study
    (reason,) = outside_training(box_config, chest, frame_of(chest))
    assert "neck-to-thigh" in reason and "chest" in reason


def test_the_demo_checkpoint_reads_anatomy_so_a_chest_only_exam_is_inside(config, phantom):
    chest = cut_phantom(phantom, "chest").study
    assert config.preprocess.coord_frame == "anatomy"
    assert outside_training(config, chest, frame_of(chest)) == []


def test_no_ct_another_tracer_and_other_voxels_are_each_named(box_config, phantom):
    from dataclasses import replace

    from napari_petground.study.resample import resample_to_spacing

    study = replace(phantom.study, ct=None, tracer="FAPI", pet=resample_to_spacing(phantom.study.pet, (2.0,) * 3))
    reasons = outside_training(box_config, study, frame_of(phantom.study))
    text = " ".join(reasons)
    assert "no CT" in text and "tracer FAPI" in text and "2.0" in text and "4 mm" in text
    assert "still finds the lesion" in applicability_flag(reasons)


def test_a_limb_crop_grounded_from_words_says_it_cannot_place_them(ibsi_dir):
    from napari_petground.model import Grounder
    from napari_petground.study import load_study

    study = load_study(ibsi_dir / "STS_009")
    result = Grounder.from_checkpoint(None, device="cpu").ground(study, "Hypermetabolic mass in the right thigh")
    assert any("no anatomical landmark" in r for r in result.outside_training)
    assert any(f.startswith("outside what this checkpoint was trained on") for f in result.flags)
    assert result.method != "location prior + uptake"  # where the prior points means nothing in a limb crop


def test_a_limb_crop_is_described_without_a_site_or_side(ibsi_dir):
    """Real thigh sarcomas in 5 cm crops: no landmark places them in the body, and the head (reading anatomical
    coordinates) named them uterus, testis or C2 with confidence. The description keeps the lesion's numbers,
    names no site or side and says why; a grounding's site check is then not made."""
    import numpy as np

    from napari_petground.model import Grounder
    from napari_petground.model.describe import Describer
    from napari_petground.study import load_study
    from napari_petground.weaklabel.rtstruct import rasterize_rtstruct

    study = load_study(ibsi_dir / "STS_009")
    gtv = rasterize_rtstruct(ibsi_dir / "STS_009" / "PET" / "mask" / "RS.dcm", study.pet)
    description = Describer.from_checkpoint(None).describe(study, gtv)
    assert description.site == "" and description.body_side == "" and not description.alternatives
    assert "no anatomical landmark" in description.note and "not named" in description.note
    assert description.suvmax == pytest.approx(float(np.asarray(study.pet.data)[gtv].max()), rel=1e-3)
    result = Grounder.from_checkpoint(None, device="cpu").ground(
        study, "Large hypermetabolic soft tissue mass in the thigh with SUV max 26.1 (PET/CT axial slice 65)")
    assert result.consistency is None and (result.mask & gtv).any()
