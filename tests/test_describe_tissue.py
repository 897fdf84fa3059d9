"""The CT a lesion sits in, read at the PET grid's resolution in HU: what tells a rib lesion from the lung
under it and a pleural one from the vertebra beside it, where the 8 mm model grid's clipped CT cannot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from napari_petground.model.describe_tissue import HU_EDGES, N_NATIVE, SHELLS_MM, native_tissue_features

AIR, FAT, SOFT, MARROW, CORTEX, MEDIAN = range(len(HU_EDGES) + 2)
PER = len(HU_EDGES) + 2


def chest_wall(spacing_mm: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A slab scene, 12 cm on a side: lung (x < 50 mm), a 10 mm rib of cortex and marrow, then muscle; and two
    6 mm lesions, one in the rib, one in the muscle 30 mm from it. Returns (CT HU, rib lesion, muscle lesion)."""
    n = int(round(120 / spacing_mm))
    x = (np.arange(n) + 0.5) * spacing_mm
    hu = np.where(x < 50, -850.0, np.where(x < 60, 700.0, 45.0))
    hu = np.where((x >= 52) & (x < 58), 280.0, hu)  # marrow inside the cortex
    ct = np.broadcast_to(hu, (n, n, n)).astype(np.float32).copy()
    zz, yy, xx = np.meshgrid(x, x, x, indexing="ij")

    def ball(cx: float) -> np.ndarray:
        return (zz - 60) ** 2 + (yy - 60) ** 2 + (xx - cx) ** 2 <= 6.0 ** 2

    return ct, ball(55.0), ball(90.0)


def region(values: np.ndarray, k: int) -> np.ndarray:
    return values[k * PER: (k + 1) * PER]


def test_a_rib_lesion_is_bone_with_lung_beside_it_and_a_muscle_lesion_soft_tissue():
    ct, rib, muscle = chest_wall(2.0)
    on_rib = native_tissue_features(ct, (2.0, 2.0, 2.0), rib)
    in_muscle = native_tissue_features(ct, (2.0, 2.0, 2.0), muscle)
    assert on_rib.shape == (N_NATIVE,)
    lesion, near, far = (region(on_rib, k) for k in range(3))
    assert lesion[MARROW] + lesion[CORTEX] > 0.9  # the rib itself
    assert near[AIR] > 0.1 and far[AIR] > 0.25  # the lung under it
    assert region(in_muscle, 0)[SOFT] == 1.0 and region(in_muscle, 1)[SOFT] == 1.0
    assert region(in_muscle, 0)[MEDIAN] == pytest.approx(0.045)
    for k in range(3):  # fractions of every region sum to one
        assert region(on_rib, k)[:MEDIAN].sum() == pytest.approx(1.0)


def test_the_shells_are_measured_in_millimetres_so_voxel_size_does_not_move_the_numbers():
    """A 16 mm nodule in soft tissue whose surface lies 8 mm from the lung: at 2 and at 4 mm voxels the near
    shell holds no lung and the far one about the same share of it."""
    numbers = []
    for spacing in (2.0, 4.0):
        n = int(round(120 / spacing))
        x = (np.arange(n) + 0.5) * spacing
        ct = np.broadcast_to(np.where(x < 44, -850.0, 45.0), (n, n, n)).astype(np.float32)
        zz, yy, xx = np.meshgrid(x, x, x, indexing="ij")
        nodule = (zz - 60) ** 2 + (yy - 60) ** 2 + (xx - 60) ** 2 <= 8.0 ** 2
        numbers.append(native_tissue_features(ct, (spacing,) * 3, nodule))
    for values in numbers:
        assert region(values, 0)[SOFT] == 1.0 and region(values, 1)[AIR] == 0.0
    far = [region(values, 2)[AIR] for values in numbers]
    assert 0.05 < far[0] < 0.3 and abs(far[0] - far[1]) < 0.05, far
    assert SHELLS_MM == (5.0, 20.0)
    n = 20  # 6 mm voxels, coarser than the near shell: it is one voxel layer, not empty
    ct = np.full((n, n, n), 45.0, np.float32)
    nodule = np.zeros((n, n, n), bool)
    nodule[9:11, 9:11, 9:11] = True
    assert region(native_tissue_features(ct, (6.0, 6.0, 6.0), nodule), 1)[SOFT] == 1.0


def test_without_a_ct_the_numbers_are_zero_and_a_ct_on_another_grid_is_refused():
    ct, rib, _ = chest_wall(4.0)
    assert not native_tissue_features(None, (4.0, 4.0, 4.0), rib).any()
    assert not native_tissue_features(ct, (4.0, 4.0, 4.0), np.zeros_like(rib)).any()
    with pytest.raises(ValueError, match="differ"):
        native_tissue_features(ct[1:], (4.0, 4.0, 4.0), rib)


def test_dataset_items_get_the_numbers_of_their_own_ct(tmp_path):
    """describe-train --dataset: a dataset stores the CT on the PET grid, so each item's lesion gets the
    numbers of its mask there, as a phantom lesion does."""
    import torch

    from napari_petground.dataset import DatasetItem, DatasetWriter
    from napari_petground.model.config import ModelConfig, NetworkConfig
    from napari_petground.model.describe_features import FeatureSpec
    from napari_petground.model.describe_samples import dataset_samples
    from napari_petground.model.describe_train import default_vocabulary
    from napari_petground.model.network import build_network
    from napari_petground.model.preprocess import ct_on_pet_grid
    from napari_petground.phantom import make_phantom

    torch.manual_seed(0)
    phantom = make_phantom(1234, resolution_mm=8.0, n_lesions=3)
    study = phantom.study
    ct = ct_on_pet_grid(study.pet, study.ct)
    items = [DatasetItem("c0", k, f"lesion {k}", status="truth", label=les.id, tracer="FDG",
                         truth={"site": les.site, "laterality": les.laterality})
             for k, les in enumerate(phantom.lesions)]
    writer = DatasetWriter(tmp_path / "ds", name="one")
    writer.write_case("c0", ct, study.pet, phantom.lesion_labels.astype(np.uint16), items)
    writer.finalize()
    config = ModelConfig(network=NetworkConfig(features=(4, 8, 16, 16, 16)))
    network = build_network(config).eval()
    entries, _, _ = default_vocabulary()
    spec = FeatureSpec(native_tissue=N_NATIVE)
    samples = dataset_samples(network, config, str(tmp_path / "ds"), spec, entries)
    assert len(samples) == len(phantom.lesions)
    for les, sample in zip(sorted(phantom.lesions, key=lambda les: les.id), samples, strict=True):
        expected = native_tissue_features(np.asarray(ct.data, np.float32).round(), study.pet.spacing,
                                          phantom.lesion_labels == les.id)
        assert sample.site == les.site and sample.native_tissue == N_NATIVE
        start = -spec.n_tabular  # the CT numbers come first among the last features, before the PET maximum
        assert np.allclose(sample.features[start: start + N_NATIVE], expected, atol=2e-3), les.site


REAL_CT = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-ct-abdomen"


@pytest.mark.skipif(not (REAL_CT / "ct.nii.gz").is_file(), reason="the real CT sample is not here")
def test_the_shipped_head_names_the_ribs_of_a_real_ct():
    """On a real abdomen CT (hot spheres in its labelled organs, benchmarks/bench_describe_real_ct.py) the head
    that reads the CT at full resolution names most rib lesions rib; the head before it, on the 8 mm model
    grid's CT alone, named 1 of 12 rib and called the rest liver, spleen, kidney or abdominal wall."""
    import importlib.util

    from napari_petground.model.describe import Describer

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_describe_real_ct.py"
    spec = importlib.util.spec_from_file_location("bench_describe_real_ct", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    study, spheres = bench.real_ct_study(REAL_CT)
    results = bench.describe_spheres(Describer.from_checkpoint(), study, spheres)
    ribs = [ok for label, (ok, _, _) in results.items() if bench.ORGANS[label][0] == "rib"]
    assert len(ribs) == 12 and sum(ribs) >= 8, [said for _, _, said in results.values()]
    assert sum(ok for ok, _, _ in results.values()) >= 16
    assert all(side for _, side, _ in results.values() if side is not None)
