"""Inference API on a phantom with a tiny untrained network: progress stages, PET-grid outputs, caching,
sliding windows, number-aware choice and errors. (The trained demo checkpoint is tested in
test_model_demo.py.)"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from napari_petground.errors import ModelError  # noqa: E402
from napari_petground.model.config import ModelConfig, NetworkConfig  # noqa: E402
from napari_petground.model.depth import DEPTH, DepthProfile  # noqa: E402


@pytest.fixture(scope="module")
def phantom():
    from napari_petground.phantom import make_phantom

    return make_phantom(3, resolution_mm=8.0)


@pytest.fixture(scope="module")
def grounder(tmp_path_factory):
    from napari_petground.model.checkpoint import save_checkpoint
    from napari_petground.model.grounder import Grounder
    from napari_petground.model.network import build_network
    from napari_petground.model.text import TextEncoder

    torch.manual_seed(0)
    cfg = ModelConfig(network=NetworkConfig(features=(8, 16, 32), strides=(1, 2, 2), gated_stages=(0, 1)))
    cfg.preprocess.spacing_mm = (16.0, 16.0, 16.0)
    cfg.preprocess.patch_size = (32, 16, 32)
    encoder = TextEncoder(cfg.text)
    cfg.text.fingerprint = encoder.fingerprint()
    folder = save_checkpoint(tmp_path_factory.mktemp("ck") / "tiny", build_network(cfg), cfg)
    return Grounder.from_checkpoint(folder, device="cpu")


def test_iter_ground_reports_every_stage_and_returns_pet_grid_outputs(grounder, phantom):
    study = phantom.study
    steps = []
    generator = grounder.iter_ground(study, "Intensely FDG-avid right hilar node, SUVmax 12.3, image 45.")
    while True:
        try:
            steps.append(next(generator))
        except StopIteration as stop:
            result = stop.value
            break
    stages = [s for s, _ in steps if s != DEPTH]
    assert [s for s in dict.fromkeys(stages)] == ["text", "preprocessing", "inference", "post-processing"]
    assert all(0.0 <= f <= 1.0 for s, f in steps if s != DEPTH)
    # where the sentence points comes twice: from the location prior as soon as the text and the study are
    # ready (before the decoder), then from the network's answer right after inference (before post-processing)
    depth_at = [i for i, (s, _) in enumerate(steps) if s == DEPTH]
    assert grounder.network.location is not None and len(depth_at) == 2
    early, late = depth_at
    assert steps[early - 1] == ("preprocessing", 1.0) and steps[early][1].method == "prior"
    assert steps[early][1].probability.sum() == pytest.approx(1.0)
    assert steps[late - 1] == ("inference", 1.0) and steps[late + 1][0] == "post-processing"
    profile = steps[late][1]
    assert isinstance(profile, DepthProfile) and result.depth is profile
    assert profile.probability.sum() == pytest.approx(1.0)
    assert result.probability.shape == study.pet.shape and result.probability.dtype == np.float32
    assert result.mask.shape == study.pet.shape and result.mask.dtype == bool
    assert result.finding is not None and result.finding.suvmax == 12.3 and result.finding.slice == 45
    assert set(result.timings) >= {"text", "preprocessing", "inference", "post-processing", "total"}


def test_second_sentence_reuses_the_study_features(grounder, phantom):
    grounder.clear_cache()
    first = grounder.ground(phantom.study, "Left axillary node.")
    second = grounder.ground(phantom.study, "Right axillary node.")
    assert not first.cached_study and second.cached_study
    assert not np.allclose(first.probability, second.probability)


def test_a_second_sentence_does_not_hash_the_study_again(grounder, phantom, monkeypatch):
    """The study's arrays are hashed once, when first grounded (a whole body takes tens of milliseconds), not
    again for every sentence."""
    import dataclasses

    import napari_petground.model.grounder as grounder_module

    grounder.clear_cache()
    calls = []
    original = grounder_module.study_signature
    monkeypatch.setattr(grounder_module, "study_signature", lambda study: calls.append(study) or original(study))
    grounder.ground(phantom.study, "Left axillary node.")
    grounder.ground(phantom.study, "Right axillary node.")
    assert len(calls) == 1
    grounder.ground(dataclasses.replace(phantom.study), "Left axillary node.")  # another Study object: hashed
    assert len(calls) == 2


def test_a_confident_one_voxel_answer_keeps_its_probability_on_the_pet_grid(grounder, phantom, monkeypatch):
    """A lesion smaller than a model voxel is answered by one voxel; on the finer PET grid every PET voxel
    inside it keeps that probability (interpolating with its neighbours would drop p = 0.88 below 0.5 and the
    threshold would discard the answer)."""
    grounder.clear_cache()
    prepared, windows, _ = grounder._study_features(phantom.study)
    spot = tuple(n // 2 for n in prepared.shape)

    def decode(skips, tokens=None, mask=None, exam_index=None):
        shape = skips[0].shape[2:]
        logits = torch.full((1, 1, *shape), -10.0)
        for box, window_skips in windows:  # the spot, in whichever window this is
            if window_skips[0] is skips[0]:
                local = tuple(c - b.start for c, b in zip(spot, box, strict=True))
                if all(0 <= c < n for c, n in zip(local, shape, strict=True)):
                    logits[(0, 0, *local)] = 2.0
        return logits

    monkeypatch.setattr(grounder.network, "decode", decode)
    probability = grounder.probability(phantom.study, "Left axillary node.")
    above = probability > 0.5
    assert above.any() and probability.max() == pytest.approx(1 / (1 + np.exp(-2.0)), abs=0.01)
    # the PET voxels above 0.5 are those inside the model voxel: one 16 mm voxel holds (16 / 8)^3 of them
    ratio = np.prod(prepared.spacing) / np.prod(phantom.study.pet.spacing)
    assert 0.5 * ratio <= above.sum() <= ratio


def test_sliding_windows_cover_the_volume_with_gaussian_blend(grounder, phantom):
    from napari_petground.model.grounder import gaussian_weights, window_starts

    assert window_starts(10, 16, 0.5) == [0]
    starts = window_starts(100, 32, 0.5)
    assert starts[0] == 0 and starts[-1] == 68 and all(b - a <= 16 for a, b in zip(starts, starts[1:], strict=False))
    w = gaussian_weights((8, 8, 8))
    assert w[4, 4, 4] == pytest.approx(1.0) and w[0, 0, 0] < 0.1
    assert gaussian_weights((8, 8, 8)) is w and not w.flags.writeable  # one map per window shape, never changed
    grounder.clear_cache()
    prepared, windows, _ = grounder._study_features(phantom.study)
    assert len(windows) > 1  # the phantom is taller than the 32-voxel network input
    covered = np.zeros(prepared.shape, bool)
    for box, _skips in windows:
        covered[box] = True
    assert covered.all()


def test_numbers_choose_the_region_that_agrees(phantom):
    from napari_petground.model.select import select_lesion
    from napari_petground.report import extract_findings

    study = phantom.study
    lesion = max(phantom.lesions, key=lambda les: les.suvmax)
    other = [les for les in phantom.lesions if les.id != lesion.id]
    # a network that is more confident about every other lesion than about the described one
    probability = np.zeros(study.pet.shape, np.float32)
    probability[phantom.lesion_labels == lesion.id] = 0.6
    for les in other:
        probability[phantom.lesion_labels == les.id] = 0.95
    finding = extract_findings(f"Lesion with SUVmax {lesion.suvmax:.1f}, image {lesion.image_number}.")[0]
    chosen = select_lesion(probability, study, finding)
    assert chosen.method == "numbers"
    assert chosen.mask[phantom.lesion_labels == lesion.id].all()
    assert "SUVmax in mask" in chosen.agreement_text and f"include {lesion.image_number}" in chosen.agreement_text
    if other:  # without numbers the network alone decides
        alone = select_lesion(probability, study, extract_findings("Hypermetabolic lesion.")[0] if
                              extract_findings("Hypermetabolic lesion.") else None)
        assert alone.method == "network" and not alone.mask[phantom.lesion_labels == lesion.id].any()


def test_missed_lesion_falls_back_to_growing_from_the_numbers(phantom):
    from napari_petground.model.select import select_lesion
    from napari_petground.report import extract_findings

    study = phantom.study
    lesion = max(phantom.lesions, key=lambda les: les.suvmax)
    finding = extract_findings(f"Lesion with SUVmax {lesion.suvmax:.1f}, image {lesion.image_number}.")[0]
    nothing = np.zeros(study.pet.shape, np.float32)
    chosen = select_lesion(nothing, study, finding)
    if chosen.method == "weak label":
        assert chosen.mask[phantom.lesion_labels == lesion.id].any()
        assert any("grown from the numbers" in f for f in chosen.flags)
    else:  # the weak label itself could not decide: nothing is invented
        assert chosen.method == "none" and not chosen.mask.any()
    assert select_lesion(nothing, study, finding, fallback=False).method == "none"


def test_a_faint_region_is_shown_flagged_rather_than_nothing(phantom):
    from napari_petground.model.select import select_lesion
    from napari_petground.report import extract_findings

    study = phantom.study
    lesion = phantom.lesions[0]
    probability = np.zeros(study.pet.shape, np.float32)
    probability[phantom.lesion_labels == lesion.id] = 0.35  # the network leans to the lesion, below 0.5
    finding = extract_findings("Hypermetabolic right external iliac lymph node.")[0]  # no numbers
    chosen = select_lesion(probability, study, finding)
    assert chosen.method == "network (faint region)"
    assert chosen.mask[phantom.lesion_labels == lesion.id].all() and not chosen.mask[phantom.lesion_labels != lesion.id].any()
    assert any("low confidence" in f for f in chosen.flags)
    assert select_lesion(probability, study, finding, fallback=False).method == "none"
    assert select_lesion(probability * 0.25, study, finding).method == "none"  # below 0.1 nothing is shown
    # text that is no lesion finding ("No FDG-avid cervical lymphadenopathy.") gets no faint guess
    assert select_lesion(probability, study, None).method == "none"


def test_without_numbers_the_region_with_the_most_confident_voxel_is_chosen(phantom):
    """A small region the network is sure of at its centre beats a broad region of middling probability,
    although the broad one has the higher mean (the paper's rule, kept for "network alone")."""
    from napari_petground.model.metrics import most_confident_component
    from napari_petground.model.select import select_lesion
    from napari_petground.report import extract_findings

    study = phantom.study
    small, broad = sorted(phantom.lesions[:2], key=lambda les: les.volume_ml)
    probability = np.zeros(study.pet.shape, np.float32)
    probability[phantom.lesion_labels == broad.id] = 0.75
    inside = np.argwhere(phantom.lesion_labels == small.id)
    probability[tuple(inside.T)] = 0.55
    probability[tuple(inside[len(inside) // 2])] = 0.95  # its peak
    finding = extract_findings("Hypermetabolic right external iliac lymph node.")[0]
    chosen = select_lesion(probability, study, finding)
    assert chosen.method == "network" and chosen.mask[phantom.lesion_labels == small.id].all()
    assert most_confident_component(probability)[phantom.lesion_labels == broad.id].all()


def test_empty_sentence_and_missing_checkpoint_are_user_errors(grounder, phantom, tmp_path):
    from napari_petground.errors import CheckpointError
    from napari_petground.model.grounder import Grounder

    with pytest.raises(ModelError, match="empty"):
        grounder.ground(phantom.study, "   ")
    with pytest.raises(CheckpointError):
        Grounder.from_checkpoint(tmp_path)


@pytest.fixture(scope="module")
def blind_grounder(tmp_path_factory):
    from napari_petground.model.checkpoint import save_checkpoint
    from napari_petground.model.grounder import Grounder
    from napari_petground.model.network import build_network

    cfg = ModelConfig(network=NetworkConfig(features=(8, 16, 32), strides=(1, 2, 2), text_attention=False))
    cfg.preprocess.spacing_mm = (16.0, 16.0, 16.0)
    folder = save_checkpoint(tmp_path_factory.mktemp("ck") / "blind", build_network(cfg), cfg)
    return Grounder.from_checkpoint(folder, device="cpu")


def test_evaluation_scores_every_single_lesion_sentence_with_each_method(grounder, blind_grounder):
    from napari_petground.model.evaluate import evaluate_cases, phantom_cases, summarise

    cases = list(phantom_cases(1, 777, ("FDG",), resolution_mm=8.0))
    expected = len(cases[0].sentences)
    assert expected > 0 and all(key in cases[0].masks for _, key, _ in cases[0].sentences)
    records = evaluate_cases(cases, grounder, blind=blind_grounder, weak=True, progress=False)
    assert len(records) == expected
    for record in records:
        assert {"model", "model+numbers", "blind"} <= set(record.outcome)
        assert ("weak-label" in record.outcome) == ("with numbers" in record.groups)
    table = summarise(records)
    assert table["all"]["model"]["n"] == expected
    # a lesion with another at the same site and side is reported apart: only a number can tell them apart
    for (_, _, info), record in zip(cases[0].sentences, records, strict=True):
        assert ("same-site sibling present" in record.groups) == info["sibling"]
        assert ("without numbers, no same-site sibling" in record.groups) == (
            not info["sibling"] and "without numbers" in record.groups)


def test_same_site_siblings_are_found_in_a_cohort():
    from napari_petground.model.evaluate import phantom_cases

    siblings = [info["sibling"] for case in phantom_cases(6, 90000, ("FDG", "PSMA"), resolution_mm=8.0)
                for _, _, info in case.sentences]
    assert any(siblings) and not all(siblings)
