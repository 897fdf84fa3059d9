"""Coarse-to-fine decoding (model.decoding): the decoder split is exact, a coarse head decides which windows
are decoded in full, nothing skipped means the answer of full decoding bit for bit, the stated image's
windows are always decoded, heads of other weights are not used, the device choices (autocast precision on
the GPU and on a CPU with bfloat16 instructions, pinned transfers) and the ``coarse-train`` command. The shipped demo checkpoint: identical masks at floor 0
on the demo study and on a whole-body phantom, and the same answers with its trained head."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import napari_petground  # noqa: E402
from napari_petground.errors import CheckpointError  # noqa: E402
from napari_petground.model.config import ModelConfig, NetworkConfig  # noqa: E402
from napari_petground.model.decoding import (  # noqa: E402
    CoarseHead,
    CoarseHeadConfig,
    Decoding,
    autocast_dtype,
    coarse_head_for,
    has_coarse_head,
    load_coarse_head,
    save_coarse_head,
    stated_windows,
    stated_z,
    to_device,
)

DEMO = Path(napari_petground.__file__).parent / "checkpoints" / "demo"


def _tiny_config() -> ModelConfig:
    cfg = ModelConfig(network=NetworkConfig(features=(8, 16, 32, 32), strides=(1, 2, 2, 2), gated_stages=(0, 1)))
    cfg.preprocess.spacing_mm = (16.0, 16.0, 16.0)
    cfg.preprocess.patch_size = (32, 16, 32)
    return cfg


@pytest.fixture(scope="module")
def phantom():
    from napari_petground.phantom import make_phantom

    return make_phantom(3, resolution_mm=8.0)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny untrained checkpoint folder with a coarse head (after one of its three decoder stages)."""
    from napari_petground.model.checkpoint import save_checkpoint
    from napari_petground.model.features import checkpoint_id
    from napari_petground.model.network import build_network
    from napari_petground.model.text import TextEncoder

    torch.manual_seed(0)
    cfg = _tiny_config()
    cfg.text.fingerprint = TextEncoder(cfg.text).fingerprint()
    network = build_network(cfg)
    with torch.no_grad():  # answers well above zero, so that skipping a window shows
        network.decoder.seg_layers[-1].bias.fill_(0.0)
    folder = save_checkpoint(tmp_path_factory.mktemp("ck") / "tiny", network, cfg)
    head = CoarseHead(CoarseHeadConfig(stages=1, width=32, floor=0.0, checkpoint=checkpoint_id(folder)))
    save_coarse_head(folder, head)
    return folder


def _grounder(folder):
    from napari_petground.model.grounder import Grounder

    return Grounder.from_checkpoint(folder, device="cpu")


def test_decode_is_the_coarse_stages_then_the_fine_ones_bit_for_bit():
    from napari_petground.model.network import build_network

    torch.manual_seed(1)
    net = build_network(_tiny_config()).eval()
    image = torch.randn(1, 5, 32, 16, 32)
    tokens, mask = torch.randn(1, 7, 384), torch.ones(1, 7, dtype=torch.bool)
    with torch.inference_mode():
        skips = net.encode(image)
        full = net.decode(skips, tokens, mask)
        for stages in range(len(net.decoder.stages) + 1):
            split = net.decode_fine(net.decode_coarse(skips, tokens, mask, stages), skips, tokens, mask, stages)
            assert torch.equal(split, full), stages
        with pytest.raises(ValueError):
            net.decode_coarse(skips, tokens, mask, len(net.decoder.stages) + 1)


def test_floor_zero_decodes_every_window_and_gives_the_full_answer(tiny, phantom):
    grounder = _grounder(tiny)
    assert grounder.coarse_head is not None and grounder.coarse_head.config.floor == 0.0
    sentence = "Intensely FDG-avid right hilar node, SUVmax 12.3."
    coarse = grounder.ground(phantom.study, sentence)
    grounder.decoding = Decoding().full()
    full = grounder.ground(phantom.study, sentence)
    assert coarse.windows[1] > 1 and coarse.windows == full.windows  # every window decoded in full, both ways
    assert np.array_equal(coarse.probability, full.probability)
    assert np.array_equal(coarse.mask, full.mask) and coarse.chosen == full.chosen


def test_a_high_floor_skips_windows_but_the_stated_images_windows_are_decoded(tiny, phantom):
    from napari_petground.report import extract_findings

    grounder = _grounder(tiny)
    grounder.decoding = Decoding(floor=1.01)  # no coarse maximum reaches it
    skipped = grounder.ground(phantom.study, "Right hilar node.")
    assert skipped.windows[0] == 0 and not skipped.probability.any()
    study = phantom.study
    image = study.numbering.image_for_index(study.pet.shape[0] // 10)  # near one end: not in every window
    finding = extract_findings(f"Right hilar node, SUVmax 5.1 (image {image}).")[0]
    assert finding.slice == image
    stated = grounder.ground(study, finding)
    features = grounder.features(study)
    boxes = [box for box, _ in features.windows]
    expected = stated_windows(boxes, features.prepared, stated_z(study, finding))
    assert 0 < stated.windows[0] == len(expected) < stated.windows[1]
    # the probability comes from those windows only: zero on the model grid outside them
    z = features.prepared.origin[0] + np.arange(features.prepared.shape[0]) * features.prepared.spacing[0]
    covered = np.zeros(len(z), bool)
    for i in expected:
        covered[boxes[i][0]] = True
    pet_z = study.pet.origin[0] + np.arange(study.pet.shape[0]) * study.pet.spacing[0]
    far = np.abs(pet_z[:, None] - z[covered][None, :]).min(axis=1) > features.prepared.spacing[0]
    assert stated.probability[far].max() == 0.0 and stated.probability.max() > 0.0
    grounder.decoding = Decoding(floor=1.01, stated_image=False)
    assert grounder.ground(study, finding).windows[0] == 0


def test_windows_holding_a_z_are_found_with_a_margin():
    class Prepared:
        origin = (0.0, 0.0, 0.0)
        spacing = (8.0, 8.0, 8.0)

    boxes = [(slice(0, 64), slice(0, 48), slice(0, 64)), (slice(32, 96), slice(0, 48), slice(0, 64)),
             (slice(64, 128), slice(0, 48), slice(0, 64))]
    assert stated_windows(boxes, Prepared, None) == set()
    assert stated_windows(boxes, Prepared, 8.0 * 10) == {0}
    assert stated_windows(boxes, Prepared, 8.0 * 40) == {0, 1}
    assert stated_windows(boxes, Prepared, 8.0 * 62, margin_mm=16.0) == {0, 1, 2}


def test_a_head_for_other_weights_or_a_broken_one_is_not_used(tiny, tmp_path, caplog):
    import shutil

    from napari_petground.model.checkpoint import load_checkpoint
    from napari_petground.model.features import checkpoint_id

    network, _ = load_checkpoint(tiny)
    assert has_coarse_head(tiny) and not has_coarse_head(tmp_path) and not has_coarse_head(None)
    load_coarse_head(tiny, checkpoint_id(tiny), network)
    with pytest.raises(CheckpointError, match="other weights"):
        load_coarse_head(tiny, "0123456789abcdef", network)
    with caplog.at_level(logging.WARNING):
        assert coarse_head_for(tiny, "0123456789abcdef", network, "cpu") is None
    assert "coarse-to-fine decoding is off" in caplog.text
    broken = tmp_path / "broken"
    shutil.copytree(tiny, broken)
    (broken / "coarse_head.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_coarse_head(broken)
    config = json.loads((tiny / "coarse_head.json").read_text())
    (broken / "coarse_head.json").write_text(json.dumps({**config, "width": 99}))
    shutil.copy(tiny / "coarse_head.safetensors", broken / "coarse_head.safetensors")
    with pytest.raises(CheckpointError, match="does not fit"):
        load_coarse_head(broken, network=network)


def test_autocast_precision_follows_the_device_and_float32_turns_it_off():
    assert autocast_dtype("cuda", bf16_supported=True) is torch.bfloat16
    assert autocast_dtype("cuda:1", bf16_supported=False) is torch.float16
    assert autocast_dtype("cpu", bf16_supported=True) is torch.bfloat16  # a CPU with bfloat16 instructions
    assert autocast_dtype("cpu", bf16_supported=False) is None  # emulated bfloat16 is slower: float32
    assert autocast_dtype("mps") is None
    for device in ("cpu", "cuda"):
        assert autocast_dtype(device, bf16_supported=True, precision="float32") is None
    with pytest.raises(ValueError, match="unknown precision 'half'"):
        autocast_dtype("cpu", precision="half")


def test_cpu_bfloat16_instructions_are_read_from_the_cpu_flags(tmp_path):
    from napari_petground.model.decoding import cpu_computes_bf16

    def flags(text: str) -> bool:
        path = tmp_path / f"cpuinfo{len(list(tmp_path.iterdir()))}"
        path.write_text(f"processor\t: 0\nmodel name\t: some cpu\nflags\t\t: {text}\n\nprocessor\t: 1\n")
        return cpu_computes_bf16(str(path))

    assert flags("fpu sse avx2 avx512f avx512_bf16 avx512vl")
    assert flags("fpu avx2 amx_tile amx_bf16")
    assert not flags("fpu sse avx2 avx512f avx512bw")  # AVX-512 alone emulates bfloat16
    assert not cpu_computes_bf16(str(tmp_path / "missing"))  # not Linux, or unreadable: float32


def test_host_tensors_go_to_the_gpu_through_pinned_memory():
    tensor = torch.arange(6.0)
    assert to_device(tensor, "cpu") is tensor  # no copy on the CPU
    if not torch.cuda.is_available():
        pytest.skip("no GPU here: the pinned transfer itself is not exercised")
    moved = to_device(tensor, "cuda")
    assert moved.is_cuda and torch.equal(moved.cpu(), tensor)


def test_coarse_train_writes_a_head_that_the_grounder_uses(tmp_path, capsys):
    from napari_petground.cli import main
    from napari_petground.model.checkpoint import save_checkpoint
    from napari_petground.model.network import build_network
    from napari_petground.model.text import TextEncoder

    torch.manual_seed(0)
    cfg = _tiny_config()
    cfg.text.fingerprint = TextEncoder(cfg.text).fingerprint()
    folder = save_checkpoint(tmp_path / "ck", build_network(cfg), cfg)
    code = main(["coarse-train", "--checkpoint", str(folder), "--phantoms", "1", "--val-phantoms", "1",
                 "--sentences", "1", "--steps", "3", "--resolution", "8"])
    assert code == 0
    out = capsys.readouterr().out
    assert "coarse head written to" in out
    record = json.loads((folder / "coarse_head.json").read_text())
    assert record["stages"] == 1 and 0.0 < record["floor"] <= 0.1
    assert record["training"]["validation"]["windows"] > 0 and record["training"]["answer"] == 0.1
    assert _grounder(folder).coarse_head is not None


# -- the shipped demo checkpoint ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_grounder():
    if not (DEMO / "config.json").is_file():
        pytest.skip("the demo checkpoint is not shipped")
    from napari_petground.model.grounder import Grounder

    return Grounder.from_checkpoint(None, device="cpu")


def _same_answer(grounder, study, sentence, coarse: Decoding) -> tuple:
    grounder.decoding = coarse
    a = grounder.ground(study, sentence)
    grounder.decoding = coarse.full()
    b = grounder.ground(study, sentence)
    assert np.array_equal(a.mask, b.mask), sentence
    assert (a.chosen, a.method) == (b.chosen, b.method), sentence
    return a, b


def test_demo_at_floor_zero_masks_equal_full_decoding_on_the_demo_and_a_whole_body_phantom(demo_grounder):
    from napari_petground.model.features import checkpoint_id
    from napari_petground.phantom import make_phantom
    from napari_petground.phantom.sample import demo_study

    grounder = demo_grounder
    saved = grounder.coarse_head
    if saved is None:  # floor 0 needs a head to go through the coarse path at all: any head of these weights
        stages = len(grounder.network.decoder.stages) - 2
        grounder.coarse_head = CoarseHead(CoarseHeadConfig(
            stages=stages, width=grounder.network.encoder.output_channels[-(stages + 1)],
            checkpoint=checkpoint_id(DEMO))).eval()
    try:
        study = demo_study()
        a, b = _same_answer(grounder, study, "Metastasis in the right iliac wing, SUVmax 14.6 (image 166).",
                            Decoding(floor=0.0))
        assert np.array_equal(a.probability, b.probability) and a.windows == b.windows
        body = make_phantom(4243, resolution_mm=4.0, extent="whole_body")
        sentence = next(s.text for s in body.sentences if s.lesion_id is not None)
        a, b = _same_answer(grounder, body.study, sentence, Decoding(floor=0.0))
        assert np.array_equal(a.probability, b.probability) and a.windows == b.windows and a.windows[0] > 10
    finally:
        grounder.coarse_head = saved
        grounder.decoding = Decoding()


def test_demo_coarse_head_gives_the_same_answer_to_every_demo_finding(demo_grounder):
    from napari_petground.phantom.sample import demo_phantom, demo_study

    grounder = demo_grounder
    assert grounder.coarse_head is not None, ("the demo checkpoint has no usable coarse head: train it with "
                                              "`petground coarse-train` (docs/model.md)")
    assert 0.0 < grounder.coarse_head.config.floor <= 0.5
    study = demo_study()
    sentences = [s.text for s in demo_phantom().sentences if s.lesion_id is not None]
    for sentence in sentences:  # how many windows the head skips depends on the head; the answer may not
        a, _ = _same_answer(grounder, study, sentence, Decoding())
        assert 0 < a.windows[0] <= a.windows[1]
    grounder.decoding = Decoding()


def test_demo_in_bfloat16_on_the_cpu_gives_the_float32_masks(demo_grounder, monkeypatch):
    """What a bfloat16 CPU runs by default (precision "auto") answers as float32 does, and the two precisions'
    encoder features are kept apart."""
    import napari_petground.model.decoding as decoding
    from napari_petground.phantom.sample import demo_phantom, demo_study
    from napari_petground.session import StudySession

    monkeypatch.setattr(decoding, "cpu_computes_bf16", lambda: True)  # emulated where the CPU lacks it
    grounder = demo_grounder
    session = StudySession(demo_study())
    sentences = [s.text for s in demo_phantom().sentences if s.lesion_id is not None][:2]
    sentences.append("Intensely FDG-avid right hilar lymph node.")  # the words alone
    try:
        for sentence in sentences:
            grounder.precision = "float32"
            exact = grounder.ground(session, sentence)
            grounder.precision = "auto"
            assert grounder.feature_key.endswith(", bfloat16")
            reduced = grounder.ground(session, sentence)
            assert (exact.device, reduced.device) == ("cpu", "cpu, bfloat16")  # the record says how
            assert np.array_equal(exact.mask, reduced.mask) and exact.mask.any(), sentence
            assert (exact.chosen, exact.method) == (reduced.chosen, reduced.method), sentence
            assert np.abs(exact.probability - reduced.probability).max() < 0.05, sentence
        assert session.cached_features(grounder.feature_key) is not None
        grounder.precision = "float32"
        assert not grounder.feature_key.endswith("bfloat16")
        assert session.cached_features(grounder.feature_key) is not None  # both kept, none mixed up
    finally:
        grounder.precision = "auto"


def test_regions_labelled_in_their_box_are_those_of_the_whole_grid(phantom):
    """select labels the components only inside the box of the voxels above the threshold: same labels,
    statistics and masks as labelling the whole PET grid."""
    from scipy.ndimage import gaussian_filter

    from napari_petground.model.metrics import components
    from napari_petground.model.select import above_box, candidate_regions
    from napari_petground.weaklabel.components import body_midline_x_mm, component_stats

    study = phantom.study
    rng = np.random.default_rng(5)
    probability = gaussian_filter(rng.random(study.pet.shape).astype(np.float32), 2.0)
    probability = (probability - probability.min()) / np.ptp(probability)
    midline = body_midline_x_mm(study)
    for threshold in (0.5, 0.6, 0.7):
        regions, stats, means = candidate_regions(probability, study, midline, threshold)
        labels, count = components(probability, threshold)
        whole = component_stats(labels, study.pet, study.numbering, midline)
        assert count == len(stats) > 1 and [s.to_dict() for s in stats] == [s.to_dict() for s in whole]
        for s in stats:
            assert np.array_equal(regions.mask(s.label), labels == s.label)
    assert above_box(probability, 1.5) is None
    regions, stats, means = candidate_regions(probability, study, midline, 1.5)
    assert stats == [] and means == []


def test_kept_window_samples_come_back_as_they_were_and_a_cut_file_is_named(tmp_path):
    """coarse-train --samples keeps the decoded windows so head settings can be tried again without decoding:
    the arrays come back unchanged, and a file cut short is refused with its name."""
    import torch

    from napari_petground.errors import ModelError
    from napari_petground.model.coarse_train import Samples, load_samples, save_samples

    rng = np.random.default_rng(0)
    kept = Samples([torch.from_numpy(rng.standard_normal((1, 4, 2, 3, 2)).astype(np.float16)) for _ in range(2)],
                   [torch.zeros(1, 1, 2, 3, 2), torch.ones(1, 1, 2, 3, 2)],
                   [torch.ones(1, 1, 2, 3, 2), torch.zeros(1, 1, 2, 3, 2)], np.array([0.9, 0.05]), 1, 2)
    path = tmp_path / "windows.npz"
    save_samples(path, kept)
    back = load_samples(path)
    assert (back.exams, back.sentences) == (1, 2) and np.array_equal(back.full_max, kept.full_max)
    for a, b in zip(kept.features + kept.prior + kept.target, back.features + back.prior + back.target, strict=True):
        assert torch.equal(a, b)
    cut = tmp_path / "cut.npz"
    cut.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ModelError, match="cut.npz"):
        load_samples(cut)
