"""Training on tiny synthetic exams: the network learns left from right from the sentence, runs resume where
they stopped, the text-blind variant trains, and two gloo processes (torchrun-style DDP) stay in sync."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from napari_petground.model.config import ModelConfig, NetworkConfig  # noqa: E402
from napari_petground.model.data import Exam, Sentence  # noqa: E402


def synthetic_exam(seed: int) -> Exam:
    """Two equally hot cubes, one on the patient's right (low x), one on the left (high x)."""
    rng = np.random.default_rng(seed)
    image = np.zeros((3, 16, 16, 32), np.float32)
    image[1] = 0.3
    image[2] = np.linspace(-1, 1, 32)[None, None, :]
    targets = np.zeros((2, 16, 16, 32), np.uint8)
    for t, xc in enumerate((8 + rng.integers(-2, 3), 24 + rng.integers(-2, 3))):
        zc, yc = rng.integers(4, 12, 2)
        targets[t, zc - 2: zc + 2, yc - 2: yc + 2, xc - 2: xc + 2] = 1
    uptake = rng.uniform(0.5, 1.0)
    image[0][targets.max(0) > 0] = uptake
    sentences = [Sentence("Right axillary node.", 0), Sentence("Left axillary node.", 1)]
    return Exam(f"e{seed}", image, targets, sentences)


def tiny(blind: bool = False) -> ModelConfig:
    cfg = ModelConfig(network=NetworkConfig(features=(8, 16, 32), strides=(1, 2, 2), gated_stages=(0, 1),
                                            text_attention=not blind))
    cfg.preprocess.patch_size = (16, 16, 32)
    cfg.preprocess.coord_channels = ("x",)
    return cfg


@pytest.fixture(scope="module")
def encoder():
    from napari_petground.model.text import TextEncoder

    return TextEncoder()


def test_network_learns_which_side_the_sentence_means_and_resumes(encoder, tmp_path):
    from napari_petground.model.checkpoint import load_checkpoint
    from napari_petground.model.train import TrainSettings, train

    torch.set_num_threads(1)
    train_exams = [synthetic_exam(i) for i in range(16)]
    val_exams = [synthetic_exam(100 + i) for i in range(6)]
    settings = TrainSettings(out=tmp_path / "run", steps=150, lr=3e-3, val_every=75, save_every=75)
    final = train(tiny(), train_exams, val_exams, settings, encoder=encoder, progress=False)
    network, config = load_checkpoint(final)
    assert config.training["step"] == 150
    assert config.training["validation"]["val_overlap_f1"] >= 0.9
    # the same image, two sentences: each answer sits on its own side
    exam = val_exams[0]
    tokens, mask = encoder.encode_batch(["Right axillary node.", "Left axillary node."])
    with torch.no_grad():
        prob = torch.sigmoid(network(torch.from_numpy(exam.image[None]), torch.from_numpy(tokens),
                                     torch.from_numpy(mask), torch.zeros(2, dtype=torch.long))).numpy()[:, 0]
    for i in (0, 1):
        assert prob[i][exam.targets[i] > 0].mean() > 0.5
        assert prob[i][exam.targets[1 - i] > 0].mean() < 0.5
    # resume: a longer schedule continues from step 150
    state = json.loads((tmp_path / "run" / "resume" / "state.json").read_text())
    assert state["step"] == 150
    settings.steps = 160
    final = train(tiny(), train_exams, val_exams, settings, encoder=encoder, progress=False)
    resumed = load_checkpoint(final)[1]
    assert resumed.training["step"] == 160
    # the record keeps the starting bias the run began with, not the default of a fresh config
    assert resumed.network.output_bias == pytest.approx(config.network.output_bias)
    assert config.network.output_bias != tiny().network.output_bias


def test_bfloat16_on_the_cpu_learns_the_side_too(encoder, tmp_path):
    """--cpu-bf16 computes in bfloat16 under autocast; the weights stay float32 and the task is learned."""
    from napari_petground.model.checkpoint import load_checkpoint
    from napari_petground.model.train import TrainSettings, train

    torch.set_num_threads(1)
    settings = TrainSettings(out=tmp_path / "run", steps=150, lr=3e-3, val_every=150, save_every=150,
                             cpu_bf16=True, device="cpu")
    final = train(tiny(), [synthetic_exam(i) for i in range(16)], [synthetic_exam(100 + i) for i in range(6)],
                  settings, encoder=encoder, progress=False)
    network, config = load_checkpoint(final)
    assert config.training["validation"]["val_overlap_f1"] >= 0.9
    assert config.training["settings"]["cpu_bf16"] is True
    assert all(p.dtype == torch.float32 for p in network.parameters())


def test_blind_variant_segments_every_described_lesion(tmp_path):
    from napari_petground.model.train import TrainSettings, sample_step

    exams = [synthetic_exam(i) for i in range(4)]
    rng = np.random.default_rng(0)
    images, targets, texts, index = sample_step(exams, TrainSettings(out=tmp_path), (16, 16, 32), rng, blind=True)
    assert texts == [] and len(index) == images.shape[0] == targets.shape[0]
    assert all(t.sum() == 2 * 64 for t in targets)  # both cubes in every target
    images, targets, texts, index = sample_step(exams, TrainSettings(out=tmp_path), (16, 16, 32), rng, blind=False)
    assert len(texts) == 4 and list(index) == [0, 0, 1, 1]  # two sentences per exam, the encoder runs once each
    assert set(texts[:2]) == {"Right axillary node.", "Left axillary node."}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(world), RANK=str(rank),
                      LOCAL_RANK=str(rank))
    import torch
    import torch.distributed as dist

    import napari_petground.model.network as netmod
    from napari_petground.model.train import TrainSettings, train

    torch.set_num_threads(1)
    built = {}
    original = netmod.build_network

    def capture(config):
        built["net"] = original(config)
        return built["net"]

    netmod.build_network = capture
    exams = [synthetic_exam(rank * 50 + i) for i in range(4)]  # each process sees its own exams
    train(tiny(blind=True), exams, [synthetic_exam(99)], TrainSettings(out=Path(out), steps=6, val_every=3),
          progress=False)
    total = float(sum(p.detach().double().sum() for p in built["net"].parameters()))
    Path(out, f"rank{rank}.json").write_text(json.dumps({"sum": total}))
    dist.destroy_process_group()


@pytest.mark.slow
def test_two_gloo_processes_train_one_model(tmp_path):
    import torch.multiprocessing as mp

    mp.spawn(_ddp_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    sums = [json.loads((tmp_path / f"rank{r}.json").read_text())["sum"] for r in (0, 1)]
    assert sums[0] == pytest.approx(sums[1], rel=1e-6)  # gradients were averaged: identical weights
    assert (tmp_path / "final" / "weights.safetensors").is_file()


def test_location_warm_up_learns_the_side_from_the_sentence_alone(encoder):
    """The prior trained on its own (no U-Net) already ranks the described cube above its mirror twin."""
    from napari_petground.model.location_train import location_examples, location_rank1, warm_up_location
    from napari_petground.model.network import build_network

    torch.manual_seed(0)
    network = build_network(tiny())
    exams = [synthetic_exam(i) for i in range(8)]
    held_out = [synthetic_exam(200 + i) for i in range(4)]
    assert location_rank1(network.location, encoder, held_out, "cpu") <= 0.5  # untrained: all zeros, a tie
    examples = location_examples(exams, network.location.axes)
    assert len(examples) == 16 and all(e.target.sum() == 64 for e in examples)
    warm_up_location(network.location, encoder, examples, steps=60, lr=3e-3, device="cpu",
                     rng=np.random.default_rng(0), batch=8)
    assert location_rank1(network.location, encoder, held_out, "cpu") == 1.0


def test_training_with_the_location_warm_up_records_it_and_trains_on(encoder, tmp_path):
    from napari_petground.model.checkpoint import load_checkpoint
    from napari_petground.model.train import TrainSettings, train

    torch.set_num_threads(1)
    settings = TrainSettings(out=tmp_path / "run", steps=4, val_every=2, save_every=2, location_warmup=5,
                             location_weight=0.5, location_batch=4)
    final = train(tiny(), [synthetic_exam(i) for i in range(6)], [synthetic_exam(50)], settings, encoder=encoder,
                  progress=False)
    history = load_checkpoint(final)[1].training["history"]
    assert history[0]["step"] == 0 and history[0]["location_warmup_loss"] > 0
    assert 0.0 <= history[0]["val_location_rank1"] <= 1.0
    assert history[-1]["step"] == 4 and "val_location_rank1" in history[-1]


def test_train_refuses_gated_stages_the_network_does_not_have(tmp_path, capsys):
    from napari_petground.cli import main

    code = main(["train", "--phantoms", "2", "--features", "4,8,16", "--patch", "16,16,16", "--steps", "1",
                 "--out", str(tmp_path / "run")])
    assert code != 0
    err = capsys.readouterr().err
    assert "--gated 0,1,2" in err and "decoder stages 0-1" in err
    assert not (tmp_path / "run" / "final").exists()
