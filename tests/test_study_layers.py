"""From files to napari layer data (npe2 reader), the `petground info` command, and resampling."""

from __future__ import annotations

import numpy as np
import pytest
from npe2 import PluginManager, read_get_reader

from napari_petground import cli
from napari_petground._napari import get_reader
from napari_petground.session import session_of
from napari_petground.study.export import export_nifti
from napari_petground.study.grid import Grid
from napari_petground.study.layers import WINDOW_PRESETS, study_layers
from napari_petground.study.resample import resample_nearest, resample_to_grid, resample_to_spacing
from napari_petground.study.synthetic import HOT_SUV, synthetic_study
from napari_petground.study.volume import Volume


@pytest.fixture(scope="module", autouse=True)
def plugins():
    PluginManager.instance().discover()


def test_npe2_reader_gives_overlaying_layers_for_dicom(ibsi_dir):
    layers, _reader = read_get_reader(str(ibsi_dir / "STS_019"), plugin_name="napari-petground")
    (ct_data, ct_kw, ct_type), (pet_data, pet_kw, pet_type) = layers
    study = session_of(pet_kw["metadata"]).study
    assert (ct_type, pet_type) == ("image", "image")
    assert ct_kw["name"] == "STS_019 CT" and pet_kw["name"] == "STS_019 PET"
    assert ct_kw["metadata"]["petground"]["role"] == "ct" and pet_kw["metadata"]["petground"]["role"] == "pet"
    assert pet_kw["scale"] == pytest.approx(study.pet.spacing) and pet_kw["translate"] == pytest.approx(study.pet.origin)
    assert ct_kw["scale"] == pytest.approx(study.ct.spacing) and ct_kw["translate"] == pytest.approx(study.ct.origin)
    assert pet_kw["scale"][1] == pytest.approx(4.6875) and ct_kw["scale"][1] == pytest.approx(0.976562, abs=1e-5)
    assert ct_kw["contrast_limits"] == (-160.0, 240.0)  # soft-tissue window W400 L40
    assert pet_kw["contrast_limits"] == (0.0, 10.0) and pet_kw["blending"] in ("additive", "translucent")
    assert 0.4 <= pet_kw["opacity"] <= 0.8
    assert float(pet_data.max()) == pytest.approx(16.33, abs=0.01)
    assert ct_data.shape == study.ct.shape


def test_npe2_reader_for_a_nifti_pair(tmp_path):
    synth = synthetic_study()
    export_nifti(synth, tmp_path, layout="nnunet", case="c1")
    paths = [str(tmp_path / "c1_0000.nii.gz"), str(tmp_path / "c1_0001.nii.gz")]
    layers, _reader = read_get_reader(paths, plugin_name="napari-petground")
    assert [kw["name"] for _d, kw, _t in layers] == ["c1 CT", "c1 PET"]
    assert layers[1][1]["translate"] == pytest.approx(synth.pet.origin)
    assert layers[0][1]["scale"] == pytest.approx(synth.ct.spacing)


def test_reader_declines_other_files(tmp_path):
    (tmp_path / "notes.txt").write_text("not an image")
    assert get_reader(str(tmp_path / "notes.txt")) is None


def test_window_presets_and_non_suv_pet():
    synth = synthetic_study(ct_shape=(8, 16, 16), pet_shape=(8, 16, 16))
    assert WINDOW_PRESETS["lung"] == (1500.0, -600.0)
    ct_kw = study_layers(synth, ct_window="lung")[0][1]
    assert ct_kw["contrast_limits"] == (-1350.0, 150.0)
    synth.pet_is_suv, synth.pet_units = False, "BQML"
    synth.pet.data = synth.pet.data * 5000
    pet_kw = study_layers(synth)[1][1]
    assert pet_kw["metadata"]["units"] == "BQML"
    assert pet_kw["contrast_limits"][1] > 10  # stored units get their own range, not a fake SUV scale
    with pytest.raises(ValueError, match="soft_tissue"):
        study_layers(synth, ct_window="abdomen")


def test_info_command_prints_what_a_reader_checks(ibsi_dir, capsys):
    assert cli.main(["info", str(ibsi_dir / "STS_008")]) == 0
    out = capsys.readouterr().out
    assert "STS_008" in out and "FDG" in out and "55 kg" in out
    assert "SUVmax 6.50" in out
    assert "51x29x30" in out


def test_info_command_reports_errors(tmp_path, capsys):
    assert cli.main(["info", str(tmp_path / "missing")]) == 2
    assert "not found" in capsys.readouterr().err


def test_resample_ct_onto_pet_grid():
    synth = synthetic_study()
    on_pet = resample_to_grid(synth.ct, synth.pet, interpolation="linear", fill=-1000)
    assert on_pet.shape == synth.pet.shape and on_pet.origin == synth.pet.origin
    centre = tuple(s // 2 for s in synth.pet.shape)
    world = synth.pet.index_to_world(centre)
    ct_index = tuple(np.round(synth.ct.world_to_index(world)).astype(int))
    assert on_pet.data[centre] == pytest.approx(float(synth.ct.data[ct_index]), abs=60)
    coarse = resample_to_spacing(synth.pet, (40.0, 25.0, 25.0))
    assert coarse.shape == (10, 16, 16)
    # the same physical extent: outer voxel edges stay where they were
    first_edge = np.asarray(coarse.origin) - np.asarray(coarse.spacing) / 2
    assert first_edge == pytest.approx(np.asarray(synth.pet.origin) - np.asarray(synth.pet.spacing) / 2)
    assert coarse.data.max() <= HOT_SUV + 1e-4


@pytest.mark.parametrize("pet_spacing", [(4.0, 4.0, 4.0), (3.0, 3.0, 3.0), (3.27, 5.46875, 5.46875),
                                         (2.0, 2.734375, 2.734375), (5.0, 4.07, 4.07)])
def test_nearest_resampling_by_gathers_picks_the_voxels_simpleitk_picks(pet_spacing):
    """The probability goes back to the PET grid by three gathers; a mask must not move a voxel for it. Model
    grids as preprocessing makes them (8 mm, edge on the crop's edge), some shifted, onto scanner spacings."""
    rng = np.random.default_rng(7)
    for shift in (0.0, 0.37, -1.9):
        pet = Grid((61, 37, 45), pet_spacing, (-412.5, 33.1, -150.25))
        edge = np.asarray(pet.origin) - np.asarray(pet.spacing) / 2
        model = Grid((24, 14, 19), (8.0, 8.0, 8.0), tuple(edge + 4.0 + np.array([shift, 0.0, -shift])))
        values = rng.random(model.shape).astype(np.float32)
        expected = resample_to_grid(Volume(values, model.spacing, model.origin), pet, interpolation="nearest").data
        got = resample_nearest(values, model, pet)
        assert got.shape == pet.shape and got.dtype == np.float32
        np.testing.assert_array_equal(got, expected)
    with pytest.raises(ValueError, match="not on the source grid"):
        resample_nearest(values[:-1], model, pet)
