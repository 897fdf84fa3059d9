"""Describing a lesion: numbers measured on the mask, side from the midline, site from a trained head.

A tiny randomly initialised grounding network stands in for the trained one (its encoder features still
carry position and intensity); the head is trained here on a few coarse phantoms in a few seconds.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from napari_petground.errors import CheckpointError, WeakLabelError
from napari_petground.model.config import ModelConfig, NetworkConfig
from napari_petground.model.describe import (
    Describer,
    Description,
    SiteScore,
    compare_description,
    describe_labels,
    describe_lesion,
    describer_for,
    draft_findings,
    grow_from_click,
)
from napari_petground.model.describe_features import FeatureSpec, mask_on_model_grid
from napari_petground.model.describe_head import info_nce, load_head, save_head
from napari_petground.model.describe_samples import LesionSample, samples_from_phantom
from napari_petground.model.describe_train import (
    HeadTrainSettings,
    default_vocabulary,
    evaluate_head,
    train_head,
)
from napari_petground.phantom import make_phantom
from napari_petground.report.finding import Finding
from napari_petground.report.parse import findings_in_sentence


@pytest.fixture(scope="module")
def trained():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    from napari_petground.model.network import build_network

    config = ModelConfig(network=NetworkConfig(features=(4, 8, 16, 16, 16)))
    network = build_network(config).eval()
    entries, phrases, owner = default_vocabulary()
    spec = FeatureSpec()
    samples = []
    for seed in range(5):
        samples += samples_from_phantom(network, config, make_phantom(seed, resolution_mm=8.0), spec, entries,
                                        grown=True)
    text = np.random.default_rng(0).standard_normal((len(phrases), 384)).astype(np.float32)
    head = train_head(samples, entries, text, owner, phrases, spec, HeadTrainSettings(steps=150, batch=32),
                      encoder_fingerprint="abc")
    return network, config, head, samples


@pytest.fixture(scope="module")
def fresh():
    return make_phantom(1234, resolution_mm=8.0, n_lesions=5)


def test_head_learns_the_lesions_it_was_shown(trained):
    _, _, head, samples = trained
    metrics = evaluate_head(head, samples)
    assert metrics["lesions"] == len(samples) >= 20
    assert metrics["fine_top1"] >= 0.9
    assert metrics["side"] == 1.0


def test_description_states_the_lesions_own_numbers_and_side(trained, fresh):
    network, config, head, _ = trained
    describer = Describer(network, config, head)
    for lesion in fresh.lesions:
        d = describer.describe(fresh.study, fresh.lesion_labels == lesion.id)
        assert d.suvmax == pytest.approx(lesion.suvmax, rel=1e-5)
        assert d.image_number == lesion.image_number
        assert d.volume_ml == pytest.approx(lesion.volume_ml, rel=1e-3)
        if lesion.laterality and d.body_side != "midline":
            assert d.body_side == lesion.laterality
        if d.site and d.side:
            assert d.side == d.body_side  # a paired site is named on the side the lesion is on
        parsed = findings_in_sentence(d.sentence)[0]
        assert (parsed.site, parsed.suvmax, parsed.slice) == (d.site, round(d.suvmax, 1), d.image_number)
        assert len(d.alternatives) == 3
        scores = [a.score for a in d.alternatives]
        assert scores == sorted(scores, reverse=True) and sum(scores) <= 1.0 + 1e-9
        assert (d.alternatives[0].site, d.alternatives[0].side or d.side) == (d.site, d.side)
        if d.body_side in ("left", "right"):
            assert all(a.side in ("", d.body_side) for a in d.alternatives)


def test_an_alternative_redrafts_the_sentence(trained, fresh):
    network, config, head, _ = trained
    d = describe_lesion(network, fresh.study, fresh.lesion_labels == fresh.lesions[0].id, head=head)
    other = d.with_site("inguinal_node")
    assert "inguinal lymph node" in other.sentence
    assert other.suvmax == d.suvmax and other.side in ("left", "right", "")
    assert d.to_dict()["alternatives"][0]["phrase"] == d.alternatives[0].phrase


def test_the_head_travels_in_the_checkpoint_folder(trained, fresh, tmp_path):
    network, config, head, samples = trained
    from napari_petground.model.checkpoint import save_checkpoint

    save_checkpoint(tmp_path, network, config)
    save_head(tmp_path, head)
    loaded = load_head(tmp_path, "abc")
    x = torch.from_numpy(np.stack([s.features for s in samples[:5]]))
    with torch.no_grad():
        assert torch.allclose(loaded.entry_logits(x), head.entry_logits(x), atol=1e-5)
    from napari_petground.model.describe_train import predict

    assert loaded.forest is not None and loaded.forest.classes == head.forest.classes
    np.testing.assert_allclose(predict(loaded, x.numpy()), predict(head, x.numpy()), atol=1e-6)
    with pytest.raises(CheckpointError, match="another text encoder"):
        load_head(tmp_path, "other")
    mask = fresh.lesion_labels == fresh.lesions[0].id
    from_disk = Describer.from_checkpoint(tmp_path).describe(fresh.study, mask)
    in_memory = Describer(network, config, head).describe(fresh.study, mask)
    assert from_disk.sentence == in_memory.sentence

    from napari_petground.model.grounder import Grounder

    grounder = Grounder(network, config, None, "cpu", tmp_path)
    assert describer_for(grounder).head is not None  # the head of the grounder's folder
    assert describer_for(grounder) is grounder.describer  # one describer per grounder: its features are shared
    (tmp_path / "describe_head.json").unlink()
    bare = Describer.from_checkpoint(tmp_path).describe(fresh.study, mask)
    assert bare.site == "" and "no describe head" in bare.note and "SUVmax" in bare.sentence


def test_click_near_a_lesion_grows_that_lesion(fresh):
    lesion = max(fresh.lesions, key=lambda les: les.suvmax)
    truth = fresh.lesion_labels == lesion.id
    click = np.array(lesion.peak_index) + np.array([0, 1, 0])
    result = grow_from_click(fresh.study, click)
    assert result.mask[tuple(lesion.peak_index)]
    overlap = np.logical_and(result.mask, truth).sum() / truth.sum()
    assert overlap > 0.5
    with pytest.raises(WeakLabelError):
        grow_from_click(fresh.study, (2, 2, 2))  # air in the corner of the field of view
    with pytest.raises(WeakLabelError, match="outside"):
        grow_from_click(fresh.study, (-5, 0, 0))


def test_model_grid_mask_is_the_grounding_target(trained, fresh):
    network, config, _, _ = trained
    from napari_petground.model.data import target_on_model_grid
    from napari_petground.model.preprocess import preprocess

    prepared = preprocess(fresh.study.pet, fresh.study.ct, config.preprocess, config.network.total_stride)
    for lesion in fresh.lesions:
        mask = fresh.lesion_labels == lesion.id
        fast = mask_on_model_grid(mask, prepared)
        reference = target_on_model_grid(mask, prepared)
        assert np.count_nonzero(fast != reference) <= max(1, 0.1 * reference.sum())


def test_findings_paragraph_runs_head_to_feet(trained, fresh):
    network, config, head, _ = trained
    describer = Describer(network, config, head)
    descriptions = describe_labels(describer, fresh.study, fresh.lesion_labels)
    assert set(descriptions) == {les.id for les in fresh.lesions}
    paragraph = draft_findings(descriptions, {fresh.lesions[0].id: "Given sentence."})
    by_height = sorted(descriptions.items(), key=lambda kv: -kv[1].centroid_mm[0])
    expected = [("Given sentence." if k == fresh.lesions[0].id else d.sentence) for k, d in by_height]
    assert paragraph == " ".join(expected)


def _description(site, side, body_side, alternatives):
    return Description(site, side, "", 5.0, 100, 2.0, (1, 1, 1), (0.0, 0.0, 0.0), body_side,
                       [SiteScore(s, sd, p) for s, sd, p in alternatives])


def test_compare_description_flags_side_and_site():
    d = _description("hilar_node", "right", "right", [("hilar_node", "right", 0.7), ("mediastinal_node", "", 0.2)])
    assert compare_description(Finding("right hilar node", site="hilar_node", laterality="right"), d)[0]
    ok, reason = compare_description(Finding("left hilar node", site="hilar_node", laterality="left"), d)
    assert not ok and "patient's right" in reason
    ok, reason = compare_description(Finding("mediastinal node", site="mediastinal_node"), d)
    assert not ok and "20%" in reason
    ok, reason = compare_description(Finding("liver lesion", site="liver"), d)
    assert not ok and "not a hepatic lesion" in reason
    assert compare_description(Finding("a node", site=""), d)[0]


def test_sites_agree_along_the_hierarchy():
    d = _description("liver_segment_7", "", "right", [("liver_segment_7", "", 0.6), ("liver_segment_8", "", 0.3),
                                                      ("kidney", "right", 0.05)])
    assert compare_description(Finding("liver lesion", site="liver"), d)[0]  # the sentence names the organ
    ok, reason = compare_description(Finding("segment VIII lesion", site="liver_segment_8"), d)
    assert ok and "possible too (30%)" in reason
    ok, reason = compare_description(Finding("segment II lesion", site="liver_segment_2"), d)
    assert not ok and "hepatic segment VII" in reason
    ok, reason = compare_description(Finding("right renal lesion", site="kidney", laterality="right"), d)
    assert not ok and "5%" in reason
    old = _description("vertebra", "", "midline", [("vertebra", "", 0.9)])  # a head of the first lexicon
    assert compare_description(Finding("T10 lesion", site="vertebra_t10"), old)[0]


def test_the_best_coarse_site_comes_first():
    from napari_petground.model.describe import rank_hierarchically

    scores = [SiteScore("kidney", "right", 0.4), SiteScore("liver_segment_7", "", 0.35),
              SiteScore("liver_segment_6", "", 0.25)]
    ranked, probs = rank_hierarchically(scores)
    assert [r.site for r in ranked] == ["liver_segment_7", "kidney", "liver_segment_6"]
    assert probs["liver"] == pytest.approx(0.6) and probs["kidney"] == pytest.approx(0.4)


def test_a_paired_site_near_the_midline_takes_the_side_its_centroid_leans_to():
    d = replace(_description("", "", "midline", []), lean_side="left")
    assert d.with_site("retroperitoneal_node").side == "left"  # 6 mm left of the midline is still left
    assert "left" in d.with_site("retroperitoneal_node").sentence
    assert d.with_site("mediastinal_node").side == ""  # an unpaired site has no side
    assert replace(d, body_side="right").with_site("retroperitoneal_node").side == "right"


def test_info_nce_masks_same_site_pairs_and_drops_easy_negatives():
    a = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), dim=1)
    scale = torch.tensor(10.0)
    same = info_nce(a[[0, 0]], a[[0, 0]], torch.tensor([3, 3]), scale)
    assert same.item() < 1e-6  # two findings at one site are not each other's wrong answers
    other = info_nce(a[[0, 0]], a[[0, 0]], torch.tensor([3, 4]), scale, margin=0.3)
    assert other.item() > 0.5  # the same picture for two different sites is a real confusion
    easy = info_nce(a, a, torch.tensor([3, 4]), scale, margin=0.3)
    assert easy.item() < 1e-6  # orthogonal negatives are far below the positive: dropped


def test_head_learns_from_a_grounding_runs_cached_exams(trained, fresh, tmp_path):
    """The sentence–mask exams grounding trained on (cached by model.data) are describe training data too."""
    network, config, _, _ = trained
    from napari_petground.model.data import Sentence, _save_cached, exam_from_arrays
    from napari_petground.model.describe_samples import cached_exams, samples_from_exam
    from napari_petground.model.describe_tissue import N_NATIVE

    masks = [fresh.lesion_labels == les.id for les in fresh.lesions]
    sentences = [Sentence(f"lesion {i}", i, "FDG", {"site": les.site, "side": les.laterality})
                 for i, les in enumerate(fresh.lesions)]
    sentences.append(Sentence("Hypermetabolic right inguinal lymph node.", 0, "FDG", {}))  # same target: once
    exam = exam_from_arrays("case-1", fresh.study.pet, fresh.study.ct, masks, sentences, config)
    _save_cached(tmp_path, exam, config)
    (loaded,) = list(cached_exams(tmp_path, config))
    from napari_petground.errors import ModelError
    from napari_petground.model.config import PreprocessConfig

    other = ModelConfig(preprocess=PreprocessConfig(coord_channels=()))
    with pytest.raises(ModelError, match="input channels"):
        list(cached_exams(tmp_path, other))
    entries, _, _ = default_vocabulary()
    samples = samples_from_exam(network, loaded, config, FeatureSpec(), entries)
    assert [(s.site, s.side) for s in samples] == [(les.site, les.laterality) for les in fresh.lesions]
    with pytest.raises(ModelError, match="keeps only the model grid"):
        samples_from_exam(network, loaded, config, FeatureSpec(native_tissue=N_NATIVE), entries)


def test_grounder_describe_gives_the_lesions_own_side_and_numbers(trained, fresh):
    """``Grounder.describe`` is the entry point the viewer and the CLI use; it needs no head to measure."""
    from napari_petground.model.grounder import Grounder

    network, config, _, _ = trained
    lesion = next(les for les in fresh.lesions if les.laterality in ("left", "right"))
    grounder = Grounder(network, config, encoder=None, device="cpu")
    description = grounder.describe(fresh.study, fresh.lesion_labels == lesion.id)
    assert description.body_side == lesion.laterality
    assert description.image_number == lesion.image_number
    assert abs(description.suvmax - lesion.suvmax) < 0.05


def test_kept_samples_hold_the_cached_exams_and_are_read_instead(trained, fresh, tmp_path, monkeypatch):
    """A second describe-train with other settings reads the kept samples instead of encoding the exams again."""
    network, config, _, _ = trained
    from napari_petground.model import describe_train
    from napari_petground.model.data import Sentence, _save_cached, exam_from_arrays
    from napari_petground.model.text import TextEncoder

    config = replace(config, text=replace(config.text, fingerprint=TextEncoder(config.text).fingerprint()))

    masks = [fresh.lesion_labels == les.id for les in fresh.lesions]
    sentences = [Sentence(f"lesion {i}", i, "FDG", {"site": les.site, "side": les.laterality})
                 for i, les in enumerate(fresh.lesions)]
    cache = tmp_path / "cache"
    _save_cached(cache, exam_from_arrays("case-1", fresh.study.pet, fresh.study.ct, masks, sentences, config), config)
    kept = tmp_path / "samples.npz"
    run = {"phantoms": 0, "val_phantoms": 0, "exam_cache": str(cache), "samples_file": str(kept),
           "settings": HeadTrainSettings(steps=5, batch=8)}
    describe_train.fit_describe_head(network, config, **run)
    entries, _, _ = default_vocabulary()
    assert len(describe_train.load_samples(kept, entries)) == len(fresh.lesions)

    def no_encoding(*args, **kwargs):
        raise AssertionError("the kept samples should have been read")

    monkeypatch.setattr(describe_train, "samples_from_exam", no_encoding)
    head, _ = describe_train.fit_describe_head(network, config, **run)
    assert head.config.training["samples"] == len(fresh.lesions)
    # a cached exam keeps only the model grid: the head trained on it reads no CT at the PET grid's resolution
    assert head.config.spec.native_tissue == 0


def test_an_anatomy_head_reads_where_along_the_body_the_lesion_lies():
    """With field-free position features (FeatureSpec version 2) the tabular numbers do not say where along the
    body a lesion is: T10 and L3 vertebral lesions look alike to a "tabular" head. An "anatomy" head also reads
    the model input pooled on the lesion, whose coordinate channels (anatomical for such a checkpoint) do."""
    from napari_petground.model.describe_head import input_columns

    entries, phrases, owner = default_vocabulary()
    index = {(e.site, e.side): i for i, e in enumerate(entries)}
    rng = np.random.default_rng(0)
    channels = 5  # PET, CT, x, y, z
    spec = FeatureSpec(version=2, input_channels=channels)
    samples = []
    for k in range(120):
        site, level = (("vertebra_t10", 0.4), ("vertebra_l3", -0.1))[k % 2]
        features = rng.normal(0.0, 1.0, 2 * channels + 2 * 8 + spec.n_tabular).astype(np.float32)
        features[channels - 1] = features[2 * channels - 1] = level + rng.normal(0.0, 0.02)  # z inside, around
        samples.append(LesionSample(features, site, "", index[(site, "")]))
    text = np.random.default_rng(1).standard_normal((len(phrases), 384)).astype(np.float32)
    scores = {}
    for inputs in ("tabular", "anatomy"):
        head = train_head(samples[:80], entries, text, owner, phrases, spec,
                          HeadTrainSettings(steps=120, batch=32, inputs=inputs))
        reads_input = set(range(2 * channels)) & set(input_columns(head.config).tolist())
        assert len(reads_input) == (2 * channels if inputs == "anatomy" else 0)
        scores[inputs] = evaluate_head(head, samples[80:])["fine_top1"]
    assert scores["anatomy"] >= 0.9 and scores["tabular"] <= 0.7, scores


def test_the_site_forest_decides_as_scikit_learn_does_and_survives_saving(tmp_path):
    """The forest is stored as arrays and evaluated with numpy: the same probabilities as the scikit-learn
    forest it came from, on its own training rows too (where a rounded threshold would flip a split)."""
    from sklearn.ensemble import RandomForestClassifier

    from napari_petground.model.describe_forest import SiteForest, fit_forest

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 6)).astype(np.float32)
    x[:, 2] = np.round(x[:, 2], 1)  # repeated values: thresholds fall between close neighbours
    sites = np.where(x[:, 2] > 0.15, "vertebra_t7", np.where(x[:, 0] > 0, "vertebra_t8", "rib_7"))
    forest = fit_forest(x, list(sites), trees=25, seed=3)
    reference = RandomForestClassifier(25, max_features=0.3, random_state=3).fit(x, sites)
    probe = np.concatenate([x, rng.normal(size=(50, 6)).astype(np.float32)])
    assert forest.classes == list(reference.classes_)
    np.testing.assert_allclose(forest.proba(probe), reference.predict_proba(probe), atol=1e-6)
    again = SiteForest.from_tensors(forest.tensors(), forest.classes)
    np.testing.assert_array_equal(again.proba(probe), forest.proba(probe))
    broken = forest.tensors()
    broken["forest.right"] = broken["forest.right"][:-3]
    with pytest.raises(CheckpointError, match="forest"):
        SiteForest.from_tensors(broken, forest.classes)
    looping = {k: v.copy() for k, v in forest.tensors().items()}
    inner = int(np.flatnonzero(looping["forest.feature"] >= 0)[-1])
    looping["forest.right"][inner] = inner  # a damaged file whose walk would never end
    with pytest.raises(CheckpointError, match="forest"):
        SiteForest.from_tensors(looping, forest.classes)
    with pytest.raises(CheckpointError, match="forest"):
        SiteForest.from_tensors(forest.tensors(), forest.classes, n_inputs=2)  # splits on columns it lacks


def test_the_forest_names_the_site_on_the_lesions_own_side():
    """A forest knows sites, not sides: its share of a paired site goes to the entry on the lesion's side."""
    from napari_petground.model.describe_train import predict

    entries, phrases, owner = default_vocabulary()
    index = {(e.site, e.side): i for i, e in enumerate(entries)}
    rng = np.random.default_rng(0)
    samples = []
    for k in range(60):
        site = ("axillary_level_1", "axillary_level_2")[k % 2]
        side = ("left", "right")[(k // 2) % 2]
        features = rng.normal(0.0, 1.0, 2 * 8 + 2 * 8 + 26).astype(np.float32)
        features[-26] = (1.0 if k % 2 else -1.0) * 0.2  # only a forest could tell them apart: one sharp split
        features[-16] = 0.8 if side == "left" else -0.8  # signed distance from the midline (side hint)
        samples.append(LesionSample(features, site, side, index[(site, side)]))
    text = np.random.default_rng(1).standard_normal((len(phrases), 384)).astype(np.float32)
    head = train_head(samples, entries, text, owner, phrases, FeatureSpec(), HeadTrainSettings(steps=20, batch=16))
    assert head.forest is not None and sorted(head.forest.classes) == ["axillary_level_1", "axillary_level_2"]
    probs = predict(head, np.stack([s.features for s in samples]))
    for s, p in zip(samples, probs, strict=True):
        assert entries[int(np.argmax(p))] == entries[s.entry]
        other = "right" if s.side == "left" else "left"
        assert p[index[(s.site, other)]] == 0.0


def test_a_short_training_run_trains_instead_of_dividing_by_zero(trained):
    """A few steps (a quick check of the command) still give a head; fewer than its schedule needs is refused
    with a message, not a ZeroDivisionError from the learning-rate schedule."""
    from napari_petground.errors import ModelError

    _, _, _, samples = trained
    entries, phrases, owner = default_vocabulary()
    text = np.random.default_rng(0).standard_normal((len(phrases), 384)).astype(np.float32)
    for steps in (3, 10):
        head = train_head(samples, entries, text, owner, phrases, FeatureSpec(), HeadTrainSettings(steps=steps, batch=8))
        assert head is not None
    with pytest.raises(ModelError, match="at least 3"):
        train_head(samples, entries, text, owner, phrases, FeatureSpec(), HeadTrainSettings(steps=2, batch=8))


@pytest.mark.slow
def test_the_shipped_head_names_the_sites_of_the_other_phantom_generator():
    """The shipped head learned from both phantom generators, so a first-generator exam (other shapes, organ
    positions and uptake) is described as well as its own: on the first 12 fresh phantoms of seeds 960000+
    (six fields of view, 28 lesions, true masks) it names the organ, bone or station of 27 and the fine site
    of 24; the head trained on the second generator alone named 24 and 19."""
    from napari_petground.errors import PhantomError
    from napari_petground.model.describe import Describer
    from napari_petground.phantom.fields import phantom_in_field
    from napari_petground.phantom.fine import fine_site
    from napari_petground.report.lexicon import coarse_of, within

    describer = Describer.from_checkpoint()
    fields = ("neck_to_thighs", "whole_body", "chest", "abdomen_pelvis", "neck_chest", "head_neck")
    tracers = ("FDG", "FDG", "FDG", "PSMA", "DOTATATE", "FLUCICLOVINE")
    coarse = fine = lesions = 0
    for k in range(12):
        try:
            phantom = phantom_in_field(960000 + k, fields[k % 6], tracer=tracers[k % 6], version=1)
        except PhantomError:  # a head-neck cut that holds none of this phantom's lesions
            continue
        for lesion in phantom.lesions:
            said = describer.describe(phantom.study, phantom.lesion_labels == lesion.id).site
            truth = fine_site(lesion)[0]
            lesions += 1
            coarse += coarse_of(said) == coarse_of(truth)
            fine += within(said, truth)
    assert lesions == 28
    assert coarse >= 26 and fine >= 22, (coarse, fine)


def test_a_lesion_on_the_last_slice_of_the_scan_is_described_and_a_mask_in_the_air_is_not():
    """Fresh phantom 1310027 (version 2, PSMA, abdomen-pelvis cut): two right and left 11th-rib lesions are cut
    by the top of the field of view to one or two voxels of the last PET slice, which the model grid (the
    420 mm extent rounded to 52 voxels of 8 mm) does not reach. They are still lesions in the scan: described,
    each on its own side. A mask painted in the air outside the body is refused with the reason."""
    from napari_petground.errors import ModelError
    from napari_petground.phantom.fields import phantom_in_field

    phantom = phantom_in_field(1310027, "abdomen_pelvis", tracer="PSMA", version=2)
    describer = Describer.from_checkpoint(None)
    last = phantom.study.pet.shape[0] - 1
    edge = [les for les in phantom.lesions if (phantom.lesion_labels[last] == les.id).any()]
    assert len(edge) == 2
    for lesion in edge:
        mask = phantom.lesion_labels == lesion.id
        assert mask[:last].sum() == 0  # nothing of it below the last slice
        description = describer.describe(phantom.study, mask)
        assert description.site and description.body_side in ("left", "right")
    air = np.zeros(phantom.study.pet.shape, bool)
    air[last, 0, 0] = True  # the corner of the last slice, outside the body
    with pytest.raises(ModelError, match="outside the body crop"):
        describer.describe(phantom.study, air)
