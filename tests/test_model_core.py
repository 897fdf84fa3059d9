"""The grounding network's parts: text encoder, gated U-Net, preprocessing and its inverse, checkpoints."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from napari_petground.errors import CheckpointError, ModelError  # noqa: E402
from napari_petground.model.config import ModelConfig, NetworkConfig, PreprocessConfig  # noqa: E402
from napari_petground.study.volume import Volume  # noqa: E402


def tiny_config(**network) -> ModelConfig:
    cfg = ModelConfig(network=NetworkConfig(features=(8, 16, 32), strides=(1, 2, 2), gated_stages=(0, 1), **network))
    cfg.preprocess.patch_size = (16, 16, 16)
    cfg.preprocess.coord_channels = ("x",)
    return cfg


@pytest.fixture(scope="module")
def encoder():
    from napari_petground.model.text import TextEncoder

    return TextEncoder()


# --- text -------------------------------------------------------------------------------------------------

def test_stated_numbers_are_removed_before_encoding_but_words_stay():
    from napari_petground.model.text import clean_sentence

    text = clean_sentence("Intensely FDG-avid right hilar node, SUVmax 12.3, image 145.")
    assert "12.3" not in text and "145" not in text
    assert "right hilar node" in text
    # site names with digits are not numbers the parser assigns to SUV or image
    assert "T12" in clean_sentence("Lytic T12 vertebral lesion with SUVmax 6.1 (image 88).")


def test_encoder_gives_token_states_and_a_mask_and_caches(encoder):
    tokens, mask = encoder.encode("Left axillary node.")
    assert tokens.ndim == 2 and tokens.shape[1] == encoder.dim == 384
    assert mask.all() and len(mask) == len(tokens)
    again = encoder.encode("Left axillary node.")
    assert again[0] is tokens  # served from the cache
    batch, batch_mask = encoder.encode_batch(["Left axillary node.", "Intensely avid right upper lobe nodule."])
    assert batch.shape[0] == 2 and batch_mask[0].sum() < batch_mask[1].sum()
    assert not batch_mask[0, batch_mask[0].sum():].any()  # padding is marked as such
    left, right = encoder.encode("Left axillary node.")[0], encoder.encode("Right axillary node.")[0]
    assert not np.allclose(left, right)


def test_encoder_fingerprint_is_stable_and_a_missing_folder_is_refused(encoder, tmp_path):
    from napari_petground.model.text import encoder_fingerprint, encoder_folder

    assert encoder.fingerprint() == encoder_fingerprint(encoder.folder)
    with pytest.raises(ModelError, match="config.json"):
        encoder_folder(str(tmp_path / "nowhere"))


# --- network ----------------------------------------------------------------------------------------------

def test_padding_tokens_do_not_change_the_output():
    from napari_petground.model.network import build_network

    torch.manual_seed(0)
    net = build_network(tiny_config()).eval()
    image = torch.rand(1, 3, 16, 16, 16)
    tokens = torch.randn(1, 5, 384)
    mask = torch.ones(1, 5, dtype=torch.bool)
    padded = torch.cat([tokens, torch.randn(1, 7, 384) * 10], dim=1)
    padded_mask = torch.cat([mask, torch.zeros(1, 7, dtype=torch.bool)], dim=1)
    with torch.no_grad():
        a = net(image, tokens, mask)
        b = net(image, padded, padded_mask)
        c = net(image, padded, torch.ones(1, 12, dtype=torch.bool))
    assert torch.allclose(a, b, atol=1e-5)
    assert not torch.allclose(a, c, atol=1e-3)  # the padding would matter if it were not masked


def test_sentences_change_the_output_and_the_blind_variant_ignores_them():
    from napari_petground.model.network import build_network

    torch.manual_seed(0)
    net = build_network(tiny_config()).eval()
    image = torch.rand(1, 3, 16, 16, 16)
    skips = net.encode(image)
    tokens = torch.randn(2, 4, 384)
    mask = torch.ones(2, 4, dtype=torch.bool)
    with torch.no_grad():
        out = net.decode(skips, tokens, mask, torch.zeros(2, dtype=torch.long))
    assert out.shape == (2, 1, 16, 16, 16)
    assert not torch.allclose(out[0], out[1])
    blind = build_network(tiny_config(text_attention=False)).eval()
    assert not blind.uses_text and len(blind.gates) == 0
    with torch.no_grad():
        assert blind(image).shape == (1, 1, 16, 16, 16)


def test_attention_pooled_location_prior_ignores_padding_and_round_trips(tmp_path):
    """The prior's attention pools read only real tokens; the pooling is part of the checkpoint's config
    (a checkpoint written before it existed loads with the mean pooling it was trained with)."""
    from napari_petground.model.checkpoint import load_checkpoint, save_checkpoint
    from napari_petground.model.network import LocationPrior, build_network

    torch.manual_seed(0)
    cfg = tiny_config(location_pooling="attention")
    cfg.preprocess.coord_channels = ("x", "y", "z")
    net = build_network(cfg).eval()
    assert net.location.score is not None
    torch.nn.init.normal_(net.location.mlp[-1].weight)  # starts at zero: give it something to say
    tokens, mask = torch.randn(1, 5, 384), torch.ones(1, 5, dtype=torch.bool)
    padded = torch.cat([tokens, torch.randn(1, 6, 384) * 10], 1)
    padded_mask = torch.cat([mask, torch.zeros(1, 6, dtype=torch.bool)], 1)
    with torch.no_grad():
        assert torch.allclose(net.location.grid_logits(tokens, mask), net.location.grid_logits(padded, padded_mask),
                              atol=1e-5)
    save_checkpoint(tmp_path / "ck", net, cfg)
    loaded, loaded_cfg = load_checkpoint(tmp_path / "ck")
    assert loaded_cfg.network.location_pooling == "attention"
    image = torch.rand(1, 5, 16, 16, 16)
    with torch.no_grad():
        assert torch.equal(net(image, tokens, mask), loaded(image, tokens, mask))
    data = json.loads((tmp_path / "ck" / "config.json").read_text())
    del data["network"]["location_pooling"]
    assert ModelConfig.from_dict(data).network.location_pooling == "mean"
    with pytest.raises(ValueError, match="pooling"):
        LocationPrior(384, (4, 2, 2), (1.0, 1.0, 1.0), (0, 1, 2), pooling="max")


def test_a_grounding_network_can_start_from_a_text_blind_backbone(tmp_path):
    """init_from: the U-Net weights come from the blind run, the gates start open, so at the first step the
    network segments what the blind one segments, for any sentence; a run on other inputs is refused."""
    from napari_petground.model.checkpoint import _unique_state, load_backbone, save_checkpoint
    from napari_petground.model.network import build_network

    torch.manual_seed(0)
    blind_cfg = tiny_config(text_attention=False)
    blind = build_network(blind_cfg).eval()
    save_checkpoint(tmp_path / "blind", blind, blind_cfg)
    net = build_network(tiny_config()).eval()
    copied = load_backbone(net, tmp_path / "blind")
    assert copied == len(_unique_state(blind)) > 20  # every tensor of the blind network has its place
    for key, tensor in blind.encoder.state_dict().items():
        assert torch.equal(net.encoder.state_dict()[key], tensor)
    net.open_gates()
    image = torch.rand(1, 3, 16, 16, 16)
    a = (torch.randn(1, 4, 384), torch.ones(1, 4, dtype=torch.bool))
    b = (torch.randn(1, 6, 384), torch.ones(1, 6, dtype=torch.bool))
    with torch.no_grad():
        assert torch.allclose(net(image, *a), net(image, *b), atol=1e-5)  # no sentence matters yet
    other = tiny_config()
    other.preprocess.spacing_mm = (4.0, 4.0, 4.0)
    with pytest.raises(CheckpointError, match="preprocessing"):
        load_backbone(build_network(other), tmp_path / "blind")


def test_output_starts_low_not_at_one_half():
    from napari_petground.model.network import build_network

    net = build_network(tiny_config()).eval()
    with torch.no_grad():
        p = torch.sigmoid(net(torch.rand(1, 3, 16, 16, 16), torch.randn(1, 3, 384), torch.ones(1, 3, dtype=bool)))
    assert float(p.mean()) < 0.1


def test_nnunet_residual_backbone_builds():
    from napari_petground.model.network import build_network

    net = build_network(tiny_config(backbone="ResidualEncoderUNet"))
    with torch.no_grad():
        out = net(torch.rand(1, 3, 16, 16, 16), torch.randn(1, 3, 384), torch.ones(1, 3, dtype=bool))
    assert out.shape == (1, 1, 16, 16, 16)


# --- preprocessing ----------------------------------------------------------------------------------------

def _body_with_lesion(spacing=(4.0, 4.0, 4.0)):
    shape = (40, 30, 36)
    zz, yy, xx = np.indices(shape)
    body = ((yy - 15) / 12.0) ** 2 + ((xx - 18) / 15.0) ** 2 < 1
    pet = np.where(body, 1.0, 0.0).astype(np.float32)
    lesion = (zz - 20) ** 2 + (yy - 15) ** 2 + (xx - 27) ** 2 <= 9  # patient's left of the midline (x grows left)
    pet[lesion] = 12.0
    ct = np.where(body, 40.0, -1000.0).astype(np.float32)
    origin = (-80.0, -60.0, -72.0)
    return Volume(pet, spacing, origin), Volume(ct, spacing, origin), lesion


def test_preprocess_windows_crops_pads_and_maps_back_to_the_pet_grid():
    from napari_petground.model.preprocess import preprocess

    pet, ct, lesion = _body_with_lesion()
    prepared = preprocess(pet, ct, PreprocessConfig(), total_stride=16)
    assert prepared.image.shape[0] == 5 and all(n % 16 == 0 for n in prepared.shape)
    assert prepared.image[:2].min() >= 0.0 and prepared.image[:2].max() <= 1.0
    assert prepared.image[0].max() == pytest.approx(1.0, abs=0.05) or prepared.image[0].max() > 0.3
    # the lesion, taken to the model grid and back, lands where it was
    back = prepared.to_pet_grid(prepared.from_pet_grid(lesion.astype(np.float32))) > 0.25
    centre = np.argwhere(back).mean(axis=0)
    assert np.allclose(centre, (20, 15, 27), atol=1.5)
    # x coordinate channel: positive on the patient's left (where the lesion is)
    peak = np.unravel_index(np.argmax(prepared.image[0]), prepared.shape)
    assert prepared.image[2][peak] > 0
    assert prepared.body_centre_mm[2] == pytest.approx(pet.origin[2] + 18 * 4.0, abs=6)


def test_ct_on_another_grid_is_resampled_onto_the_pet_grid():
    from napari_petground.model.preprocess import preprocess

    pet, ct, _ = _body_with_lesion()
    fine = Volume(np.repeat(np.repeat(np.repeat(ct.data, 2, 0), 2, 1), 2, 2), (2.0, 2.0, 2.0),
                  tuple(o - 1.0 for o in ct.origin))
    same = preprocess(pet, ct, PreprocessConfig(), 16)
    other = preprocess(pet, fine, PreprocessConfig(), 16)
    assert same.shape == other.shape
    assert np.abs(same.image[1] - other.image[1]).mean() < 0.05



def test_a_wider_suv_window_keeps_a_lesion_in_a_hot_organ_apart_from_the_organ():
    """In the default 0-10 window an organ near SUV 10 (a DOTATATE liver) and a lesion of 15-20 in it are both
    1.0 to the network; a 0-30 window (``petground train --suv-window 0,30``) keeps them apart."""
    from napari_petground.model.preprocess import preprocess

    pet, ct, lesion = _body_with_lesion()
    data = np.where(pet.data > 0, 9.5, 0.0).astype(np.float32)  # the whole body as hot as such a liver
    data[lesion] = 18.0
    hot = Volume(data, pet.spacing, pet.origin)
    narrow = preprocess(hot, ct, PreprocessConfig(), 16)
    wide = preprocess(hot, ct, PreprocessConfig(suv_clip=(0.0, 30.0)), 16)
    body = narrow.image[1] > 0  # CT channel: inside the body
    organ, organ_wide = np.median(narrow.image[0][body]), np.median(wide.image[0][body])
    assert narrow.image[0].max() == 1.0 and narrow.image[0].max() - organ < 0.06  # the lesion hardly shows
    assert organ_wide == pytest.approx(9.5 / 30, abs=0.02) and wide.image[0].max() - organ_wide > 0.15
    assert np.array_equal(wide.image[1:], narrow.image[1:])  # CT and positions do not depend on the window


def test_train_takes_an_suv_window_and_refuses_one_that_is_not():
    from napari_petground.cli import build_parser
    from napari_petground.errors import ModelError
    from napari_petground.model.cli import _model_config

    args = build_parser().parse_args(["train", "--phantoms", "1", "--out", "run", "--suv-window", "0,30"])
    assert _model_config(args).preprocess.suv_clip == (0.0, 30.0)
    args = build_parser().parse_args(["train", "--phantoms", "1", "--out", "run", "--suv-window", "10,2"])
    with pytest.raises(ModelError, match="--suv-window must be a window"):
        _model_config(args)


def test_the_pet_peak_channel_keeps_a_small_lesions_peak_that_averaging_dilutes():
    from napari_petground.model.preprocess import preprocess

    pet, ct, _ = _body_with_lesion()
    data = pet.data.copy()
    data[data > 10] = 1.0  # only the one-voxel hot spot below remains (4 mm voxels, 8 mm model grid)
    data[21, 14, 9] = 8.0
    small = Volume(data, pet.spacing, pet.origin)
    plain = preprocess(small, ct, PreprocessConfig(), 16)
    peaked = preprocess(small, ct, PreprocessConfig(pet_peak_channel=True), 16)
    assert peaked.image.shape[0] == plain.image.shape[0] + 1 == PreprocessConfig(pet_peak_channel=True).in_channels
    assert np.array_equal(peaked.image[:-1], plain.image)  # the other channels are untouched
    assert plain.image[0].max() < 0.4  # averaged onto the 8 mm grid the 8 SUV spot reads below 4 SUV
    assert peaked.image[-1].max() == pytest.approx(0.8, abs=1e-6)  # the peak channel keeps 8 SUV
    brightest = np.unravel_index(np.argmax(plain.image[0]), plain.shape)
    assert peaked.image[-1][brightest] == pytest.approx(0.8, abs=1e-6)  # in the same place


def test_a_config_without_the_peak_setting_reads_as_off_and_keeps_its_exam_cache():
    from napari_petground.model.data import _cache_key

    old = ModelConfig().to_dict()
    del old["preprocess"]["pet_peak_channel"]
    cfg = ModelConfig.from_dict(old)
    assert cfg.preprocess.pet_peak_channel is False and cfg.preprocess.in_channels == 5
    on = ModelConfig(preprocess=PreprocessConfig(pet_peak_channel=True))
    assert _cache_key(cfg) == _cache_key(ModelConfig()) != _cache_key(on)

# --- checkpoints ------------------------------------------------------------------------------------------

def test_checkpoint_round_trip_is_exact_and_uses_no_pickle(tmp_path):
    from napari_petground.model.checkpoint import load_checkpoint, save_checkpoint
    from napari_petground.model.network import build_network

    cfg = tiny_config()
    net = build_network(cfg).eval()
    save_checkpoint(tmp_path / "ck", net, cfg)
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["config.json", "weights.safetensors"]
    loaded, loaded_cfg = load_checkpoint(tmp_path / "ck")
    assert loaded_cfg.network == cfg.network and loaded_cfg.preprocess == cfg.preprocess
    x, t, m = torch.rand(1, 3, 16, 16, 16), torch.randn(1, 4, 384), torch.ones(1, 4, dtype=bool)
    with torch.no_grad():
        assert torch.equal(net(x, t, m), loaded(x, t, m))


def test_checkpoints_that_do_not_fit_are_refused_with_a_reason(tmp_path):
    from napari_petground.model.checkpoint import check_encoder, load_checkpoint, save_checkpoint
    from napari_petground.model.network import build_network

    cfg = tiny_config()
    save_checkpoint(tmp_path / "ck", build_network(cfg), cfg, half=True)
    config_path = tmp_path / "ck" / "config.json"
    data = json.loads(config_path.read_text())
    data["network"]["features"] = [8, 16, 64]
    config_path.write_text(json.dumps(data))
    with pytest.raises(CheckpointError, match="shape"):
        load_checkpoint(tmp_path / "ck")
    data["network"]["features"] = [8, 16, 32]
    data["network"]["attention_heads"] = 4
    config_path.write_text(json.dumps(data))
    with pytest.raises(CheckpointError, match="attention_heads"):
        load_checkpoint(tmp_path / "ck")
    with pytest.raises(CheckpointError, match="config.json missing"):
        load_checkpoint(tmp_path)
    cfg.text.fingerprint = "abc"
    with pytest.raises(CheckpointError, match="fingerprint"):
        check_encoder(cfg, 384, "def")
    with pytest.raises(CheckpointError, match="768-d"):
        check_encoder(cfg, 768, "abc")
