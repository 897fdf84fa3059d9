"""On real sarcoma PET with physicians' contours, the default delineation finds and outlines the tumour a report
sentence describes, large heterogeneous tumours included, and beats every fixed rule."""

from __future__ import annotations

import numpy as np
import pytest

from napari_petground.report import extract_findings
from napari_petground.weaklabel.grow import DEFAULT_METHOD, grow_lesion
from napari_petground.weaklabel.rtstruct import rasterize_rtstruct, roi_names

SMALL = ("STS_002", "STS_008", "STS_019", "STS_025")
LARGE_HETEROGENEOUS = ("STS_009", "STS_049", "STS_022")  # 2 l, 1 l and 0.8 l; the previous default gave < 0.05
# the half of the sample the default's parameters were not chosen on (benchmarks/bench_weaklabel.py)
HELD_OUT = ("STS_002", "STS_005", "STS_006", "STS_008", "STS_009", "STS_018", "STS_022", "STS_033")
SENTENCE = "Large hypermetabolic soft tissue mass with SUV max {suv} (PET/CT axial slice {image})."


def dice(a, b):
    return 2 * (a & b).sum() / (a.sum() + b.sum())


def patient(ibsi_dir, name):
    from napari_petground.study import load_study

    if not (ibsi_dir / name).is_dir():
        pytest.skip(f"{name} is not in the real sample folder")
    study = load_study(ibsi_dir / name)
    rs = ibsi_dir / name / "PET" / "mask" / "RS.dcm"
    assert any("GTV" in r for r in roi_names(rs))
    gtv = rasterize_rtstruct(rs, study.pet)
    pet = np.asarray(study.pet.data)
    seed = np.unravel_index(int(np.argmax(np.where(gtv, pet, -1))), pet.shape)
    return study, gtv, seed


def sentence_for(study, seed) -> str:
    pet = np.asarray(study.pet.data)
    return SENTENCE.format(suv=f"{pet[seed]:.1f}", image=study.numbering.image_for_index(int(seed[0])))


def test_default_method_beats_fixed_rules_on_small_real_tumours(ibsi_dir):
    scores: dict[str, list[float]] = {}
    for name in SMALL:
        study, gtv, seed = patient(ibsi_dir, name)
        assert 10 < gtv.sum() * study.pet.voxel_volume_ml < 100  # tumours of tens of ml
        for method in (DEFAULT_METHOD, "jentzen", "fixed41", "fixed50", "suv2.5"):
            result = grow_lesion(study.pet.data, seed, study.pet.spacing, method)
            scores.setdefault(method, []).append(dice(result.mask, gtv))
    means = {m: float(np.mean(v)) for m, v in scores.items()}
    assert means[DEFAULT_METHOD] > max(means[m] for m in ("jentzen", "fixed41", "fixed50", "suv2.5")), means
    assert means[DEFAULT_METHOD] >= 0.65, means


@pytest.mark.parametrize("name", LARGE_HETEROGENEOUS)
def test_weak_label_outlines_a_large_heterogeneous_tumour_from_its_sentence(ibsi_dir, name):
    """The sentence's SUVmax and image find the tumour, and the mask covers it, not only its hottest core."""
    from napari_petground.weaklabel import weak_label

    study, gtv, seed = patient(ibsi_dir, name)
    (finding,) = extract_findings(sentence_for(study, seed))
    label = weak_label(study, finding)
    assert label.status == "matched", label.reason
    assert dice(label.mask, gtv) >= 0.5, dice(label.mask, gtv)
    assert label.volume_ml >= 0.4 * gtv.sum() * study.pet.voxel_volume_ml


def test_held_out_real_tumours_beat_every_fixed_rule(ibsi_dir):
    """On the patients its parameters were not chosen on, the default's mean Dice is >= 0.65 and above SUV >= 2.5,
    41 % and 50 % of SUVmax, Jentzen and Nestle."""
    if sum((ibsi_dir / n).is_dir() for n in HELD_OUT) < len(HELD_OUT):
        pytest.skip("the real sample folder lacks some held-out patients")
    rules = (DEFAULT_METHOD, "suv2.5", "fixed41", "fixed50", "jentzen", "nestle")
    scores: dict[str, list[float]] = {m: [] for m in rules}
    for name in HELD_OUT:
        study, gtv, seed = patient(ibsi_dir, name)
        for m in rules:
            scores[m].append(dice(grow_lesion(study.pet.data, seed, study.pet.spacing, m).mask, gtv))
    means = {m: float(np.mean(v)) for m, v in scores.items()}
    assert means[DEFAULT_METHOD] >= 0.65, means
    assert all(means[DEFAULT_METHOD] > means[m] for m in rules[1:]), means
    assert min(scores[DEFAULT_METHOD]) >= 0.5, scores[DEFAULT_METHOD]


def test_number_aware_grounding_outlines_the_real_tumour(ibsi_dir):
    """The grounder with the shipped checkpoint: the sentence's numbers pick the tumour and its mask is grown with
    the same delineation, on a real exam the network was never trained on."""
    from napari_petground.model import Grounder

    study, gtv, seed = patient(ibsi_dir, "STS_049")
    grounding = Grounder.from_checkpoint(None, device="cpu").ground(study, sentence_for(study, seed))
    assert (grounding.mask & gtv).any()
    assert dice(grounding.mask, gtv) >= 0.5, (dice(grounding.mask, gtv), grounding.method)


@pytest.mark.parametrize("images", ["PET/CT", "PET only"])
@pytest.mark.parametrize("side", ["left", "right"])
def test_a_limb_crop_does_not_judge_the_stated_side(ibsi_dir, side, images):
    """A crop a few centimetres around a thigh tumour does not show the body's midline: the middle of the crop
    is the limb's. A stated side is neither used nor held against the tumour, and the user is told why; also
    without the CT (PET only: the crop is narrower than any trunk and the body fills it to its border)."""
    import dataclasses

    from napari_petground.weaklabel import weak_label
    from napari_petground.weaklabel.components import body_midline_x_mm

    study, gtv, seed = patient(ibsi_dir, "STS_009")
    if images == "PET only":
        study = dataclasses.replace(study, ct=None, extras={})
    assert np.isnan(body_midline_x_mm(study))
    sentence = sentence_for(study, seed).replace("Large hypermetabolic", f"Large hypermetabolic {side} thigh")
    (finding,) = extract_findings(sentence)
    assert finding.laterality == side
    label = weak_label(study, finding)
    assert label.status == "matched", label.reason
    assert dice(label.mask, gtv) >= 0.5
    assert "laterality_mismatch" not in label.flags
    messages = " ".join(m for c in label.candidates for m in c.candidate.agreement.messages)
    assert "side not judged" in messages
